"""bench/sm2.py runs end to end and reports its figures (it asserts no timing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_json_output() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "sm2.py"), "--seconds", "1", "--json",
         "--backend", "openssl"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    report = json.loads(result.stdout)
    assert report["benchmark"] == "sm2"
    assert report["reference"]["tool"] == "openssl speed sm2"
    assert report["reference"]["version"].startswith("OpenSSL 3.")
    assert report["reference"]["sign_per_s"] > 0 and report["reference"]["verify_per_s"] > 0
    figures = report["backends"]["openssl"]
    assert set(figures) >= {"sign_per_s", "verify_per_s", "sign_ratio", "verify_ratio"}
    assert figures["sign_per_s"] > 0 and figures["verify_per_s"] > 0
