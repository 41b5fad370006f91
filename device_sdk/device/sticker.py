"""Render a device's setup sticker: its QR code and manual pairing code.

Returns strings or writes files; never prints (the CLI does). QR codes are made with segno,
which writes PNG without Pillow. The symbol is a regular QR code (not Micro QR) at error
correction level M or better (segno raises the level when it costs no extra size).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InvalidArgument
from ..pairing.setup_code import SetupPayload, encode_manual, encode_qr

if TYPE_CHECKING:  # segno is imported when a sticker is drawn: a running device draws none
    import segno

__all__ = ["format_manual_code", "sticker_qr", "sticker_text", "write_sticker_png", "write_sticker_svg"]

_QUIET_ZONE = 4  # modules of light border around the symbol, as ISO/IEC 18004 asks


def format_manual_code(code: str) -> str:
    """A manual pairing code grouped for reading: ``3497-011-2332``.

    11 digits are grouped 4-3-4; 21 digits 4-3-4-5-5 (the vendor and product ids last).
    """
    digits = code.replace("-", "").replace(" ", "")
    if not digits.isdigit() or len(digits) not in (11, 21):
        raise InvalidArgument("a manual pairing code has 11 or 21 digits")
    groups = [digits[0:4], digits[4:7], digits[7:11]]
    if len(digits) == 21:
        groups += [digits[11:16], digits[16:21]]
    return "-".join(groups)


def sticker_qr(payload: SetupPayload) -> segno.QRCode:
    """The sticker's QR code symbol, holding :func:`~device_sdk.pairing.setup_code.encode_qr` text."""
    import segno

    return segno.make_qr(encode_qr(payload), error="m")


def sticker_text(payload: SetupPayload) -> str:
    """The sticker for a terminal: the QR code in Unicode block characters, then the codes.

    The QR code is drawn for a terminal with light text on a dark background (block characters
    are the light modules), with a 2-module quiet zone. Under it: the manual code grouped 4-3-4
    and the QR text.
    """
    out = io.StringIO()
    sticker_qr(payload).terminal(out=out, border=2, compact=True)
    lines = [out.getvalue().rstrip("\n"), "", f"Manual code: {format_manual_code(encode_manual(payload))}"]
    lines.append(f"QR code:     {encode_qr(payload)}")
    return "\n".join(lines) + "\n"


def write_sticker_svg(payload: SetupPayload, path: Path, *, scale: int = 8) -> None:
    """Write the sticker as SVG: the QR code with the manual code under it.

    ``scale`` is the size of one module in SVG user units (pixels).
    """
    from xml.sax.saxutils import escape  # imports urllib.request: only when writing SVG

    if scale < 1:
        raise InvalidArgument("scale must be at least 1")
    qr = sticker_qr(payload)
    modules = []
    for y, row in enumerate(qr.matrix_iter(border=_QUIET_ZONE)):
        for x, dark in enumerate(row):
            if dark:
                modules.append(f"M{x},{y}h1v1h-1z")
    width, _ = qr.symbol_size(border=_QUIET_ZONE)
    text_height = 3
    size_w, size_h = width * scale, (width + text_height) * scale
    manual = format_manual_code(encode_manual(payload))
    font_size = min(2.2, width * 0.9 / (len(manual) * 0.6))  # monospace glyphs are about 0.6 em wide
    svg = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size_w}" height="{size_h}" '
        f'viewBox="0 0 {width} {width + text_height}">\n'
        f'<rect width="{width}" height="{width + text_height}" fill="#fff"/>\n'
        f'<path fill="#000" d="{"".join(modules)}"/>\n'
        f'<text x="{width / 2:g}" y="{width + 2.2:g}" font-family="monospace" '
        f'font-size="{font_size:.2f}" text-anchor="middle" fill="#000">{escape(manual)}</text>\n'
        "</svg>\n"
    )
    Path(path).write_text(svg, encoding="utf-8")


def write_sticker_png(payload: SetupPayload, path: Path, *, scale: int = 8) -> None:
    """Write the sticker's QR code as a PNG (``scale`` pixels per module, 4-module quiet zone).

    The PNG holds the QR code only: drawing text would need an imaging library.
    """
    if scale < 1:
        raise InvalidArgument("scale must be at least 1")
    sticker_qr(payload).save(str(path), kind="png", scale=scale, border=_QUIET_ZONE)
