"""Reading QR images back in tests with an independent decoder (zxing-cpp).

PNGs are decoded directly; SVGs are first rasterised by a real SVG renderer (Debian's
Chromium through Playwright), so the test checks what a browser actually draws.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import zxingcpp
from PIL import Image


def decode_png(data: bytes) -> str:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    results = zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)
    assert len(results) == 1, f"expected one QR code, found {len(results)}"
    return str(results[0].text)


def error_correction_of(data: bytes) -> str:
    image = Image.open(io.BytesIO(data)).convert("L")
    (result,) = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return str(result.ec_level)


def rasterise_svg(page: Any, svg: bytes, width: int = 480) -> bytes:
    """Draw ``svg`` in Chromium at ``width`` CSS pixels and return a PNG screenshot."""
    src = "data:image/svg+xml;base64," + base64.b64encode(svg).decode()
    page.set_content(
        f'<html><body style="margin:0;background:#fff">'
        f'<img id="qr" src="{src}" width="{width}" height="{width}"></body></html>'
    )
    page.wait_for_function("document.getElementById('qr').complete")
    png: bytes = page.locator("#qr").screenshot()
    return png
