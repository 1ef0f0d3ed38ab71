"""Reading a license QR code from a photo or a screenshot (zxing-cpp, ISO/IEC 18004).

Imported only when the CLI is given an image, so that verifying pasted text needs
neither Pillow nor zxing-cpp.
"""

from __future__ import annotations

import os

import zxingcpp
from PIL import Image, ImageOps, UnidentifiedImageError

from verify.license import PREFIX_PLAIN, PREFIX_ZLIB

#: Images larger than this many pixels are refused (decompression-bomb guard).
MAX_PIXELS = 50_000_000


class QRImageError(ValueError):
    """The image cannot be opened, or holds no readable license QR code."""


def read_qr_text(path: str | os.PathLike[str]) -> str:
    """The text of the license QR code in the image at ``path``.

    Handles phone photos: EXIF rotation, scaling, a few degrees of skew, margins. If
    several QR codes are visible, the first that looks like a license wins.
    """
    try:
        with Image.open(path) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise QRImageError("the image is too large")
            image = ImageOps.exif_transpose(opened).convert("L")
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise QRImageError(f"cannot open the image: {type(exc).__name__}") from None
    texts = _read(image)
    if not texts:
        # A second chance for very large or very small photos: bring the code nearer
        # to the resolution the detector likes best.
        longest = max(image.size)
        if longest > 1600 or longest < 400:
            factor = 1200 / longest
            resized = image.resize(
                (max(1, round(image.width * factor)), max(1, round(image.height * factor))),
                Image.Resampling.LANCZOS,
            )
            texts = _read(resized)
    if not texts:
        raise QRImageError("no QR code found in the image")
    for text in texts:
        if text.startswith((PREFIX_PLAIN, PREFIX_ZLIB)):
            return text
    return texts[0]


def _read(image: Image.Image) -> list[str]:
    results = zxingcpp.read_barcodes(
        image,
        formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode),
        try_rotate=True,
        try_downscale=True,
    )
    return [r.text for r in results if r.valid and r.text]
