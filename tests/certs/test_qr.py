"""certs.qr: every image it renders decodes back (zxing-cpp) to the same text."""

from __future__ import annotations

import base64
import io
import os
import xml.etree.ElementTree as ET
import zlib
from typing import Any

import pytest
from PIL import Image

from certs import qr
from tests.certs.qr_decode import decode_png, error_correction_of, rasterise_svg


def license_like_text(size: int = 300) -> str:
    """A QR text shaped like a license: prefix + Base45 of ~``size`` random bytes."""
    import base45

    blob = zlib.compress(os.urandom(size), 9)
    return "LC1Z:" + base45.b45encode(blob).decode()


TEXTS = [
    pytest.param(license_like_text(), id="license-like"),
    pytest.param("LC1:" + "0" * 10, id="short"),
    pytest.param("电子证照 e-license ✓", id="utf8"),
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("level", ["L", "M", "Q", "H"])
def test_png_decodes_to_the_same_text(text: str, level: str) -> None:
    png = qr.render_png(text, qr.RenderOptions(error_correction=level))
    assert decode_png(png) == text
    assert error_correction_of(png) == level


def test_default_error_correction_is_m() -> None:
    text = license_like_text()
    png = qr.render_png(text)
    assert error_correction_of(png) == "M"
    assert decode_png(png) == text


def test_png_is_black_on_white_with_quiet_zone() -> None:
    text = license_like_text()
    png = qr.render_png(text, qr.RenderOptions(box_size=4))
    image = Image.open(io.BytesIO(png)).convert("L")
    modules = 17 + 4 * qr.version(text)
    assert image.size == ((modules + 2 * qr.BORDER) * 4,) * 2
    # The quiet zone (4 modules) is white all round.
    quiet = 4 * qr.BORDER
    assert all(image.getpixel((x, y)) == 255 for x in range(quiet) for y in range(image.size[1]))


def test_license_text_uses_alphanumeric_mode_and_fits_version_15() -> None:
    text = license_like_text(300)
    assert set(text) <= qr.ALPHANUMERIC
    symbol = qr.build(text)
    # Alphanumeric mode: byte mode would need a noticeably larger symbol.
    import qrcode
    import qrcode.constants
    import qrcode.util

    byte_mode = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    byte_mode.add_data(qrcode.util.QRData(text.encode(), mode=qrcode.util.MODE_8BIT_BYTE))
    byte_mode.make(fit=True)
    assert symbol.version < byte_mode.version
    assert symbol.version <= 15


def test_svg_is_well_formed_and_scalable() -> None:
    svg = qr.render_svg(license_like_text())
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert root.get("viewBox")
    # A white background rect or fill so the code reads on dark pages too.
    assert b"fill" in svg


@pytest.mark.parametrize("text", TEXTS)
def test_svg_decodes_to_the_same_text_in_chromium(page: Any, text: str) -> None:
    svg = qr.render_svg(text)
    png = rasterise_svg(page, svg)
    assert decode_png(png) == text
    assert error_correction_of(png) == "M"


def test_svg_at_level_h_decodes_in_chromium(page: Any) -> None:
    text = license_like_text()
    png = rasterise_svg(page, qr.render_svg(text, qr.RenderOptions(error_correction="H")))
    assert decode_png(png) == text
    assert error_correction_of(png) == "H"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [({"error_correction": "X"}, "error_correction"), ({"box_size": 1}, "box_size")],
)
def test_invalid_options_are_refused(kwargs: dict[str, Any], reason: str) -> None:
    with pytest.raises(qr.QRRenderError) as info:
        qr.RenderOptions(**kwargs)
    assert info.value.reason == reason


def test_empty_and_oversized_texts_are_refused() -> None:
    with pytest.raises(qr.QRRenderError) as info:
        qr.render_png("")
    assert info.value.reason == "empty"
    with pytest.raises(qr.QRRenderError) as info:
        qr.render_png("A" * (qr.MAX_TEXT + 1))
    assert info.value.reason == "too_long"
    # Fits at L but not at H: a specific refusal, not a crash.
    long_text = "A" * 4000
    assert decode_png(qr.render_png(long_text, qr.RenderOptions(error_correction="L"))) == long_text
    with pytest.raises(qr.QRRenderError) as info:
        qr.render_png(long_text, qr.RenderOptions(error_correction="H"))
    assert info.value.reason == "too_long"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(qr.QRRenderError):
        qr.render("X", "gif")
    assert qr.render("X", "png").startswith(b"\x89PNG")
    assert base64.b64encode(qr.render("X", "svg"))
