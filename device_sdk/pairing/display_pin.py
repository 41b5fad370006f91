"""Display-mode PINs (profile section 5, "Pairing modes"): a fresh PSK per attempt, shown by the
device in the Open Screen Protocol's base-10 format (digit groups with dashes) and optionally as a QR
code of its hexadecimal text. Pure functions, no I/O.
"""

from __future__ import annotations

import secrets

from ..errors import InvalidArgument, InvalidSetupCode

__all__ = [
    "MAX_DISPLAY_BITS",
    "MIN_DISPLAY_BITS",
    "display_pin_qr_text",
    "format_display_pin",
    "generate_display_pin",
    "parse_display_pin",
    "parse_display_pin_qr",
]

MIN_DISPLAY_BITS = 20
MAX_DISPLAY_BITS = 80


def format_display_pin(value: int, digits: int) -> str:
    """A display-mode PSK in the Open Screen Protocol's base-10 format: digit groups with dashes.

    Reading of the OSP Network spec (w3c/openscreenprotocol ``network.bs``, "Appendix B: PSK
    Encoding Schemes", "Base-10 Numeric"): the value is written in decimal and zero-padded on the
    left; with up to 9 digits it is shown in groups of three, above 9 digits in groups of four, each
    separated by ``-`` (its example: ``61488548833`` -> ``0614-8854-8833``). The spec's padding
    formula (``3 - len mod 3``) would add a whole extra group when the length is already a multiple,
    and it says nothing of exactly 9 digits; we read both as "pad to the next multiple of the group
    size" with 9 digits in groups of three, as the profile says: ``123456789`` -> ``123-456-789``,
    a 10-digit value -> ``0123-4567-8901``-style 12 digits.

    ``digits`` is the fixed width of the PSK (from :func:`generate_display_pin`), so that the
    display does not depend on how small the random value happened to be. Leading zeros do not
    change the value: the SPAKE2 password is the decimal value without them.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument("value must be a non-negative integer")
    if digits < 1 or value >= 10**digits:
        raise InvalidArgument(f"value does not fit in {digits} digit(s)")
    text = str(value).zfill(digits)
    group = 3 if len(text) <= 9 else 4
    text = text.zfill(-(-len(text) // group) * group)
    return "-".join(text[i : i + group] for i in range(0, len(text), group))


def parse_display_pin(text: str) -> int:
    """The value of a typed display-mode PSK: dashes, spaces and leading zeros are ignored."""
    cleaned = "".join(text.split()).replace("-", "")
    if not cleaned or not cleaned.isascii() or not cleaned.isdigit():
        raise InvalidSetupCode("a displayed code has only digits (and dashes)")
    if len(cleaned) > 32:
        raise InvalidSetupCode("wrong length: the displayed code is too long")
    return int(cleaned)


def display_pin_qr_text(value: int) -> str:
    """The text of a display-mode QR code: the PSK value in hexadecimal (OSP Appendix B, "QR Code").

    Upper-case digits, no prefix, so that the QR code can use its compact alphanumeric mode;
    the spec only asks for a hexadecimal string, and readers parse either case.
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidArgument("value must be a non-negative integer")
    return f"{value:X}"


def parse_display_pin_qr(text: str) -> int:
    """The PSK value of a scanned display-mode QR code (hexadecimal text, either case)."""
    cleaned = text.strip()
    if not cleaned or len(cleaned) > 32 or any(c not in "0123456789abcdefABCDEF" for c in cleaned):
        raise InvalidSetupCode("a display-mode QR code holds a hexadecimal number")
    return int(cleaned, 16)


def generate_display_pin(bits: int = MIN_DISPLAY_BITS) -> tuple[int, int]:
    """A fresh display-mode PSK: ``(value, digits)``.

    ``value`` is uniform in 0..2**bits-1 (``secrets`` CSPRNG), so it has exactly ``bits`` bits of
    entropy; ``digits`` is the decimal width of the largest such value, the width to display it at
    (:func:`format_display_pin`). ``bits`` is 20..80 (the OSP encoding range; at least 20).
    """
    if not MIN_DISPLAY_BITS <= bits <= MAX_DISPLAY_BITS:
        raise InvalidArgument(f"bits must be {MIN_DISPLAY_BITS}..{MAX_DISPLAY_BITS}")
    return secrets.randbits(bits), len(str((1 << bits) - 1))
