"""QR code images of license texts: PNG and SVG with the ``qrcode`` package.

ISO/IEC 18004:2015 (QR Code bar code symbology). A license's QR text is Base45
(RFC 9285), whose 45 characters are exactly the QR alphanumeric set (ISO/IEC 18004
clause 7.4.4), so it is encoded in alphanumeric mode (5.5 bits per character instead
of 8), which keeps a typical license at version 15 or less. Error correction level M
(about 15 % of codewords recoverable, clause 7.5.1) is the default: it survives a
creased printout or a smudged phone screen while keeping the symbol small enough to be
read at arm's length. Callers may ask for L, Q or H.

This module knows nothing about Flask; ``certs.directory`` serves the images.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import qrcode
import qrcode.constants
import qrcode.image.svg
import qrcode.util

#: ISO/IEC 18004 clause 7.4.4: the characters of alphanumeric mode.
ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")

ERROR_CORRECTION = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
DEFAULT_ERROR_CORRECTION = "M"
#: Quiet zone in modules; ISO/IEC 18004 clause 6.3.8 requires at least 4.
BORDER = 4
DEFAULT_BOX_SIZE = 8
MIN_BOX_SIZE = 2
MAX_BOX_SIZE = 20
#: Longest text accepted: version 40 at level L holds 4296 alphanumeric characters.
MAX_TEXT = 4296


class QRRenderError(ValueError):
    """The text or an option cannot be rendered; ``reason`` is a short English code."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class RenderOptions:
    """How to draw a symbol. Validated on construction."""

    error_correction: str = DEFAULT_ERROR_CORRECTION
    box_size: int = DEFAULT_BOX_SIZE

    def __post_init__(self) -> None:
        if self.error_correction not in ERROR_CORRECTION:
            raise QRRenderError("error_correction", "error correction must be one of L, M, Q or H")
        if not MIN_BOX_SIZE <= self.box_size <= MAX_BOX_SIZE:
            raise QRRenderError(
                "box_size", f"the module size must be {MIN_BOX_SIZE}-{MAX_BOX_SIZE} pixels"
            )


def build(text: str, options: RenderOptions | None = None) -> qrcode.QRCode:  # type: ignore[type-arg]
    """The QR symbol for ``text``: the smallest version that fits at the chosen level."""
    options = options or RenderOptions()
    if not text:
        raise QRRenderError("empty", "there is no text to encode")
    if len(text) > MAX_TEXT:
        raise QRRenderError("too_long", f"the text is longer than {MAX_TEXT} characters")
    symbol = qrcode.QRCode(
        error_correction=ERROR_CORRECTION[options.error_correction],
        box_size=options.box_size,
        border=BORDER,
    )
    if set(text) <= ALPHANUMERIC:
        # One alphanumeric segment; qrcode's optimiser would also find it, but being
        # explicit keeps the mode (and so the symbol size) independent of its heuristics.
        symbol.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM))
    else:
        symbol.add_data(text.encode("utf-8"))
    try:
        symbol.make(fit=True)
    except (qrcode.exceptions.DataOverflowError, ValueError):
        # qrcode raises ValueError("Invalid version") when no version 1-40 is big enough.
        raise QRRenderError(
            "too_long", "the text does not fit a QR code at this error correction level"
        ) from None
    return symbol


def version(text: str, options: RenderOptions | None = None) -> int:
    """The QR version (1-40) that ``text`` needs."""
    return int(build(text, options).version)


def render_png(text: str, options: RenderOptions | None = None) -> bytes:
    """A black-on-white PNG of the symbol, quiet zone included."""
    image = build(text, options).make_image(fill_color="black", back_color="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def render_svg(text: str, options: RenderOptions | None = None) -> bytes:
    """An SVG of the symbol: one path on a white background, scalable for print."""
    image = build(text, options).make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue()


MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


def render(text: str, fmt: str, options: RenderOptions | None = None) -> bytes:
    """Render in ``fmt`` ("png" or "svg")."""
    if fmt == "png":
        return render_png(text, options)
    if fmt == "svg":
        return render_svg(text, options)
    raise QRRenderError("format", "the image format must be png or svg")
