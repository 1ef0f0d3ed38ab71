"""The offline verifier CLI, run as typed: ``python -m verify --bundle FILE QR``.

Subprocess tests run with a sitecustomize that makes every socket connection fail
and records, at exit, whether Flask, SQLAlchemy or any server package was imported.
"""

from __future__ import annotations

import io
import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import qrcode
import qrcode.util
from PIL import Image, ImageDraw, ImageFilter

from tests.vectors.license.make_vectors import BUNDLE_NEXT
from tests.verify.world import VECTORS_DIR, Vectors, World
from verify.cli import main

BUNDLE = str(VECTORS_DIR / "trust-bundle.cbor")

SITECUSTOMIZE = """
import atexit, json, os, socket, sys

_attempts = []


def _refuse(*args, **kwargs):
    _attempts.append(repr(args)[:80])
    raise OSError("network access is disabled in this test")


socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse


@atexit.register
def _report():
    forbidden = ("flask", "sqlalchemy", "werkzeug", "authority", "certs", "oidc", "psycopg")
    imported = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
    with open(os.environ["VERIFY_TEST_REPORT"], "w") as out:
        json.dump({"imported": imported, "connections": _attempts}, out)
"""


def run_cli(
    tmp_path: Path, *args: str, stdin: str | None = None
) -> tuple[int, str, dict[str, Any]]:
    """Run ``python -m verify ARGS`` in a fresh interpreter under the guard above."""
    guard = tmp_path / "guard"
    guard.mkdir(exist_ok=True)
    (guard / "sitecustomize.py").write_text(SITECUSTOMIZE)
    report = tmp_path / "report.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(guard),
        "VERIFY_TEST_REPORT": str(report),
        "PYTHONIOENCODING": "utf-8",
    }
    result = subprocess.run(
        [sys.executable, "-m", "verify", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    guard_report = json.loads(report.read_text())
    assert guard_report == {"imported": [], "connections": []}, guard_report
    return result.returncode, result.stdout + result.stderr, guard_report


def _run(*args: str, stdin: str = "") -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), stdin=io.StringIO(stdin), stdout=out)
    return code, out.getvalue()


def test_valid_text_in_a_fresh_process_without_network_or_server_code(
    vectors: Vectors, tmp_path: Path
) -> None:
    vector = vectors.by_name("valid")
    code, output, _ = run_cli(
        tmp_path, "--bundle", BUNDLE, "--now", str(vector["now"]), vector["qr"]
    )
    assert code == 0, output
    assert "有效" in output and "VALID" in output
    assert "张三" in output and "440106********123X" in output and "准驾车型: C1" in output


def test_json_output(vectors: Vectors) -> None:
    vector = vectors.by_name("revoked")
    code, output = _run("--bundle", BUNDLE, "--json", "--now", str(vector["now"]), vector["qr"])
    assert code == 1
    document = json.loads(output)
    assert document["state"] == "revoked" and document["valid"] is False
    assert document["explanation"]["zh-CN"] == "证照已被签发单位吊销。"
    assert document["license"]["holder_id_masked"] == "440106********123X"
    assert document["bundle"]["sequence"] == 1
    assert "holder_id_digest" not in document["license"]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("valid", 0),
        ("valid_stale", 0),
        ("tampered", 1),
        ("unknown_kid", 1),
        ("expired", 1),
        ("wrong_type", 1),
        ("compromised_after", 1),
        ("malformed_zip_bomb", 1),
    ],
)
def test_exit_status_per_verdict(vectors: Vectors, name: str, code: int) -> None:
    vector = vectors.by_name(name)
    got, output = _run("--bundle", BUNDLE, "--json", "--now", str(vector["now"]), vector["qr"])
    assert got == code
    assert json.loads(output)["state"] == vector["expected"]


def test_stale_warns_in_words(vectors: Vectors) -> None:
    vector = vectors.by_name("valid")
    code, output = _run("--bundle", BUNDLE, "--now", str(BUNDLE_NEXT + 86400), vector["qr"])
    assert code == 0
    assert "信任包需更新" in output and "Update the trust bundle" in output


def test_text_from_stdin(vectors: Vectors) -> None:
    vector = vectors.by_name("valid")
    code, output = _run(
        "--bundle", BUNDLE, "--now", str(vector["now"]), "-", stdin=vector["qr"] + "\r\n"
    )
    assert code == 0, output


def test_holder_id_check(vectors: Vectors) -> None:
    vector = vectors.by_name("valid")
    args = ["--bundle", BUNDLE, "--json", "--now", str(vector["now"])]
    code, output = _run(*args, "--holder-id", "44010619900307123X", vector["qr"])
    assert code == 0 and json.loads(output)["holder_id_match"] is True
    code, output = _run(*args, "--holder-id", "440106199003071231", vector["qr"])
    assert code == 1 and json.loads(output)["holder_id_match"] is False


def test_pin(vectors: Vectors) -> None:
    vector = vectors.by_name("valid")
    pin = vectors.document["pinned_root"]
    code, _ = _run("--bundle", BUNDLE, "--pin", pin, "--now", str(vector["now"]), vector["qr"])
    assert code == 0
    code, _ = _run("--bundle", BUNDLE, "--pin", "00" * 32, vector["qr"])
    assert code == 2


def test_unpinned_root_is_pointed_out(vectors: Vectors) -> None:
    """Without --pin or --store any root is believed: the clerk is told, with the
    fingerprint to compare."""
    vector = vectors.by_name("valid")
    pin = vectors.document["pinned_root"]
    _, unpinned = _run("--bundle", BUNDLE, "--now", str(vector["now"]), vector["qr"])
    assert "Root not pinned" in unpinned and "未固定根证书" in unpinned
    assert pin.lower() in unpinned
    _, pinned = _run("--bundle", BUNDLE, "--pin", pin, "--now", str(vector["now"]), vector["qr"])
    assert "not pinned" not in pinned and pin.lower() in pinned
    code, _ = _run("--bundle", BUNDLE, "--pin", "xyz", vector["qr"])
    assert code == 2


def test_usage_and_input_errors_exit_2(vectors: Vectors, tmp_path: Path) -> None:
    qr = vectors.by_name("valid")["qr"]
    assert _run("--bundle", str(tmp_path / "missing.cbor"), qr)[0] == 2
    (tmp_path / "bad.cbor").write_bytes(b"not a bundle")
    code, output = _run("--bundle", str(tmp_path / "bad.cbor"), "--json", qr)
    assert code == 2 and json.loads(output)["error"] == "usage"
    assert _run(qr)[0] == 2  # no bundle at all
    (tmp_path / "garbage.png").write_bytes(b"\x89PNG garbage")
    assert _run("--bundle", BUNDLE, str(tmp_path / "garbage.png"))[0] == 2
    Image.new("L", (300, 300), 255).save(tmp_path / "blank.png")
    assert _run("--bundle", BUNDLE, str(tmp_path / "blank.png"))[0] == 2
    with pytest.raises(SystemExit) as exit_info:
        _run("--bundle", BUNDLE)
    assert exit_info.value.code == 2


def test_store_refuses_rollback(world: World, vectors: Vectors, tmp_path: Path) -> None:
    store = tmp_path / "store"
    newer, older = tmp_path / "b2.cbor", tmp_path / "b1.cbor"
    newer.write_bytes(world.bundle(sequence=2))
    older.write_bytes(world.bundle(sequence=1))
    qr = vectors.by_name("malformed_prefix")["qr"]
    assert _run("--store", str(store), "--bundle", str(newer), qr)[0] == 1
    code, output = _run("--store", str(store), "--bundle", str(older), "--json", qr)
    assert code == 2 and "older" in json.loads(output)["detail"]
    code, output = _run("--store", str(store), "--json", qr)
    assert code == 1 and json.loads(output)["bundle"]["sequence"] == 2
    assert _run("--store", str(tmp_path / "empty"), qr)[0] == 2


def render_qr(text: str, box_size: int = 6) -> Image.Image:
    """The QR code as certs/ renders it: qrcode, error correction M, quiet zone of 4."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size)
    code.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM))
    code.make(fit=True)
    return code.make_image().get_image().convert("RGB")


def photograph(image: Image.Image, *, seed: int, angle: float, scale: float) -> Image.Image:
    """Make a rendered QR look like a phone photo of a printed page.

    Scaled, rotated a few degrees, on a larger greyish background off-centre, slightly
    blurred, with noise and uneven lighting.
    """
    rng = random.Random(seed)
    size = (round(image.width * scale), round(image.height * scale))
    shot = image.resize(size, Image.Resampling.BILINEAR)
    shot = shot.rotate(
        angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=(235, 232, 225)
    )
    canvas = Image.new("RGB", (shot.width + 420, shot.height + 300), (228, 224, 215))
    canvas.paste(shot, (rng.randint(60, 360), rng.randint(40, 260)))
    draw = ImageDraw.Draw(canvas)
    for _ in range(20):  # some print on the page around the code
        x, y = rng.randint(0, canvas.width - 60), rng.randint(0, 30)
        draw.rectangle((x, y, x + rng.randint(10, 50), y + 8), fill=(90, 90, 90))
    canvas = canvas.filter(ImageFilter.GaussianBlur(1.1))
    noise = Image.effect_noise(canvas.size, 18).convert("RGB")
    canvas = Image.blend(canvas, noise, 0.12)
    shade = Image.linear_gradient("L").resize(canvas.size).convert("RGB")
    return Image.blend(canvas, shade, 0.15)


@pytest.mark.parametrize(
    ("angle", "scale", "fmt"),
    [(3.0, 0.8, "JPEG"), (-5.0, 1.3, "PNG"), (7.0, 0.6, "JPEG")],
)
def test_photographed_qr_decodes_and_verifies_offline(
    vectors: Vectors, tmp_path: Path, angle: float, scale: float, fmt: str
) -> None:
    """The "done when" of issue 4: reference encoder → QR PNG → photo-like → CLI."""
    vector = vectors.by_name("valid")
    photo = photograph(render_qr(vector["qr"]), seed=int(angle * 10), angle=angle, scale=scale)
    path = tmp_path / ("photo.jpg" if fmt == "JPEG" else "photo.png")
    photo.save(path, fmt, quality=80) if fmt == "JPEG" else photo.save(path, fmt)
    code, output, _ = run_cli(
        tmp_path, "--bundle", BUNDLE, "--json", "--now", str(vector["now"]), str(path)
    )
    assert code == 0, output
    document = json.loads(output)
    assert document["state"] == "valid"
    assert (
        document["license"]["license_id"]
        == json.loads(
            _run("--bundle", BUNDLE, "--json", "--now", str(vector["now"]), vector["qr"])[1]
        )["license"]["license_id"]
    )


def test_photo_of_a_revoked_license_says_revoked(vectors: Vectors, tmp_path: Path) -> None:
    vector = vectors.by_name("revoked")
    path = tmp_path / "revoked.png"
    photograph(render_qr(vector["qr"]), seed=1, angle=-2.0, scale=1.0).save(path)
    code, output = _run("--bundle", BUNDLE, "--now", str(vector["now"]), str(path))
    assert code == 1
    assert "已吊销" in output and "REVOKED" in output
