"""Setup codes: the Matter onboarding payload (QR text and manual code).

Pure functions, no I/O. The sticker format is Matter's, unchanged (profile section 5, "Setup code,
QR code and manual code"), so that existing phone apps and ``chip-tool`` read our stickers:

- QR text: ``MT:`` + base38 of an 88-bit header (version 3 bits, vendor id 16, product id 16,
  commissioning flow 2, discovery capabilities 8, discriminator 12, passcode 27, padding 4), the
  fields packed from the least significant bit of a little-endian byte string, as the Matter SDK
  does. Several payloads may follow one ``MT:`` prefix, separated by ``*``. Bytes after the 88-bit
  header (optional TLV data) are accepted and ignored.
- Manual code: 11 digits (passcode and the top 4 bits of the discriminator), or 21 digits with the
  vendor and product ids, ending in a Verhoeff check digit.

Display-mode PINs (a fresh PSK per attempt, not a Matter code) are in :mod:`.display_pin`.

Every parse error is an :class:`~device_sdk.errors.InvalidSetupCode` (also a ``ValueError``) whose
message says what is wrong. Passcodes never appear in reprs or error messages.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field

from ..errors import InvalidSetupCode

__all__ = [
    "DISCOVERY_BLE",
    "DISCOVERY_NFC",
    "DISCOVERY_ON_NETWORK",
    "DISCOVERY_SOFT_AP",
    "DISCOVERY_WIFI_PAF",
    "FLOW_CUSTOM",
    "FLOW_STANDARD",
    "FLOW_USER_INTENT",
    "QR_PREFIX",
    "CodeKind",
    "ManualCode",
    "ParsedCode",
    "SetupPayload",
    "base38_decode",
    "base38_encode",
    "encode_manual",
    "encode_qr",
    "generate_discriminator",
    "generate_passcode",
    "parse_manual",
    "parse_qr",
    "parse_setup_code",
    "passcode_is_valid",
    "verhoeff_check_digit",
    "verhoeff_is_valid",
]

QR_PREFIX = "MT:"
"""The prefix of every Matter onboarding QR text."""

FLOW_STANDARD = 0
"""Commissioning flow: the device is ready to pair when powered (within its window)."""
FLOW_USER_INTENT = 1
"""Commissioning flow: the user must act on the device (press its button) first."""
FLOW_CUSTOM = 2
"""Commissioning flow: vendor-specific steps; manual codes then always carry vendor/product ids."""

DISCOVERY_SOFT_AP = 0x01
DISCOVERY_BLE = 0x02
DISCOVERY_ON_NETWORK = 0x04
"""Discovery capability bit 2: the device is found on the IP network (what device_sdk uses)."""
DISCOVERY_WIFI_PAF = 0x08
DISCOVERY_NFC = 0x10

MAX_PASSCODE = 99_999_998
_INVALID_PASSCODES = frozenset([11_111_111 * k for k in range(1, 9)] + [12_345_678, 87_654_321])
_HEADER_BYTES = 11  # 88 bits
_MANUAL_SHORT = 11
_MANUAL_LONG = 21
_MAX_BARE_PASSCODE_DIGITS = 8

# -- small helpers --------------------------------------------------------------------------------


def passcode_is_valid(n: int) -> bool:
    """True when ``n`` is an allowed setup passcode.

    Allowed: 1..99999998, except 11111111, 22222222, ..., 88888888, 12345678 and 87654321.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        return False
    return 1 <= n <= MAX_PASSCODE and n not in _INVALID_PASSCODES


def generate_passcode() -> int:
    """A random valid passcode drawn with the ``secrets`` CSPRNG."""
    while True:
        n = secrets.randbelow(MAX_PASSCODE) + 1
        if passcode_is_valid(n):
            return n


def generate_discriminator() -> int:
    """A random 12-bit discriminator (0..4095) drawn with the ``secrets`` CSPRNG."""
    return secrets.randbelow(4096)


def _check_field(name: str, value: int, bits: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << bits):
        raise InvalidSetupCode(f"{name} must be an integer in 0..{(1 << bits) - 1}, got {value!r}")


# -- the payload ----------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SetupPayload:
    """A Matter onboarding payload: what a sticker's QR code carries.

    Construction validates every field; an invalid one raises :class:`InvalidSetupCode`.
    """

    passcode: int = field(repr=False)
    """The setup passcode: the PSK of sticker mode. See :func:`passcode_is_valid`."""
    discriminator: int
    """The 12-bit discriminator (0..4095), advertised as ``d`` in the device's TXT record."""
    vendor_id: int = 0xFFF1
    """The 16-bit vendor id (0xFFF1 is a Matter test vendor)."""
    product_id: int = 0x8000
    """The 16-bit product id (0x8000 is a Matter test product)."""
    flow: int = FLOW_STANDARD
    """Commissioning flow: 0 standard, 1 user intent, 2 custom."""
    discovery: int = DISCOVERY_ON_NETWORK
    """Discovery capabilities bitmask (bit 2, value 4: on the IP network)."""
    version: int = 0
    """Payload version; only 0 exists."""

    def __post_init__(self) -> None:
        if isinstance(self.passcode, bool) or not isinstance(self.passcode, int):
            raise InvalidSetupCode("passcode must be an integer")
        if not passcode_is_valid(self.passcode):
            raise InvalidSetupCode(
                "invalid passcode: it must be 1..99999998 and not 11111111, 22222222, ..., 88888888, "
                "12345678 or 87654321"
            )
        _check_field("discriminator", self.discriminator, 12)
        _check_field("vendor_id", self.vendor_id, 16)
        _check_field("product_id", self.product_id, 16)
        _check_field("discovery", self.discovery, 8)
        if self.flow not in (FLOW_STANDARD, FLOW_USER_INTENT, FLOW_CUSTOM) or isinstance(self.flow, bool):
            raise InvalidSetupCode(f"commissioning flow must be 0, 1 or 2, got {self.flow!r}")
        if self.version != 0 or isinstance(self.version, bool):
            raise InvalidSetupCode(f"unsupported payload version {self.version!r} (only 0 exists)")

    @property
    def short_discriminator(self) -> int:
        """The top 4 bits of the discriminator: all that a manual code carries."""
        return self.discriminator >> 8


@dataclass(frozen=True, kw_only=True)
class ManualCode:
    """What an 11- or 21-digit manual pairing code carries."""

    passcode: int = field(repr=False)
    short_discriminator: int
    """The top 4 bits of the 12-bit discriminator (0..15)."""
    vendor_id: int | None = None
    """The vendor id of a 21-digit code, else ``None``."""
    product_id: int | None = None
    """The product id of a 21-digit code, else ``None``."""

    @property
    def is_long(self) -> bool:
        """True for a 21-digit code (one with vendor and product ids)."""
        return self.vendor_id is not None

    def matches_discriminator(self, discriminator: int) -> bool:
        """True when a device advertising ``discriminator`` may be the one this code is for."""
        return discriminator >> 8 == self.short_discriminator


class CodeKind(enum.Enum):
    """Which form of setup code :func:`parse_setup_code` recognised."""

    QR = "qr"
    MANUAL = "manual"
    PASSCODE = "passcode"


@dataclass(frozen=True, kw_only=True)
class ParsedCode:
    """A setup code the user gave in any form, reduced to what pairing needs."""

    kind: CodeKind
    passcode: int = field(repr=False)
    """The PSK."""
    discriminator: int | None = None
    """The full 12-bit discriminator (QR codes only)."""
    short_discriminator: int | None = None
    """The top 4 bits of the discriminator (QR and manual codes)."""
    vendor_id: int | None = None
    product_id: int | None = None
    payloads: tuple[SetupPayload, ...] = ()
    """Every payload of a QR text (several when joined by ``*``); the first one is described above."""

    def matches_discriminator(self, discriminator: int) -> bool:
        """True when a device advertising ``discriminator`` (TXT ``d``) may be the one this code is for.

        A bare passcode matches every device.
        """
        if self.discriminator is not None:
            return discriminator == self.discriminator
        if self.short_discriminator is not None:
            return discriminator >> 8 == self.short_discriminator
        return True


# -- base38 ---------------------------------------------------------------------------------------

_BASE38 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-."
_BASE38_INDEX = {c: i for i, c in enumerate(_BASE38)}
_CHARS_FOR_BYTES = {1: 2, 2: 4, 3: 5}
_BYTES_FOR_CHARS = {2: 1, 4: 2, 5: 3}


def base38_encode(data: bytes) -> str:
    """Matter base38: each 3-byte chunk (little-endian) becomes 5 characters, least significant first.

    A final chunk of 2 bytes becomes 4 characters, of 1 byte 2 characters.
    """
    out: list[str] = []
    for start in range(0, len(data), 3):
        chunk = data[start : start + 3]
        value = int.from_bytes(chunk, "little")
        for _ in range(_CHARS_FOR_BYTES[len(chunk)]):
            value, digit = divmod(value, 38)
            out.append(_BASE38[digit])
    return "".join(out)


def base38_decode(text: str) -> bytes:
    """Inverse of :func:`base38_encode`; :class:`InvalidSetupCode` on a bad character or length."""
    out = bytearray()
    for start in range(0, len(text), 5):
        chunk = text[start : start + 5]
        nbytes = _BYTES_FOR_CHARS.get(len(chunk))
        if nbytes is None:
            raise InvalidSetupCode(f"wrong length: {len(text)} base38 characters cannot encode whole bytes")
        value = 0
        for char in reversed(chunk):
            digit = _BASE38_INDEX.get(char)
            if digit is None:
                raise InvalidSetupCode(f"bad character {char!r}: not in the base38 alphabet")
            value = value * 38 + digit
        if value >= 1 << (8 * nbytes):
            raise InvalidSetupCode(f"bad base38 chunk {chunk!r}: its value does not fit {nbytes} byte(s)")
        out += value.to_bytes(nbytes, "little")
    return bytes(out)


# -- QR text --------------------------------------------------------------------------------------

# (name, width) in packing order, from the least significant bit.
_LAYOUT = (
    ("version", 3),
    ("vendor_id", 16),
    ("product_id", 16),
    ("flow", 2),
    ("discovery", 8),
    ("discriminator", 12),
    ("passcode", 27),
    ("padding", 4),
)


def encode_qr(payload: SetupPayload) -> str:
    """The QR text of ``payload``: ``MT:`` + base38 of the 88-bit header (no TLV data)."""
    values = {
        "version": payload.version,
        "vendor_id": payload.vendor_id,
        "product_id": payload.product_id,
        "flow": payload.flow,
        "discovery": payload.discovery,
        "discriminator": payload.discriminator,
        "passcode": payload.passcode,
        "padding": 0,
    }
    packed, shift = 0, 0
    for name, width in _LAYOUT:
        packed |= values[name] << shift
        shift += width
    return QR_PREFIX + base38_encode(packed.to_bytes(_HEADER_BYTES, "little"))


def _decode_one(chunk: str) -> SetupPayload:
    if not chunk:
        raise InvalidSetupCode("wrong length: empty payload after 'MT:'")
    data = base38_decode(chunk)
    if len(data) < _HEADER_BYTES:
        raise InvalidSetupCode(
            f"wrong length: {len(chunk)} characters decode to {len(data)} bytes, the header needs 11"
        )
    packed = int.from_bytes(data[:_HEADER_BYTES], "little")
    fields: dict[str, int] = {}
    for name, width in _LAYOUT:
        fields[name] = packed & ((1 << width) - 1)
        packed >>= width
    if fields["version"] != 0:
        raise InvalidSetupCode(f"unsupported payload version {fields['version']} (only 0 exists)")
    if not passcode_is_valid(fields["passcode"]):
        raise InvalidSetupCode("invalid passcode in the QR code")
    del fields["padding"]
    return SetupPayload(**fields)


def _extract_qr_body(text: str) -> str:
    """The part after ``MT:``; a QR text may be embedded between ``%`` separators."""
    stripped = text.strip()
    if stripped.startswith(QR_PREFIX):
        return stripped[len(QR_PREFIX) :].split("%", 1)[0]
    for segment in stripped.split("%"):
        if segment.startswith(QR_PREFIX):
            return segment[len(QR_PREFIX) :]
    raise InvalidSetupCode("bad prefix: a Matter QR text starts with 'MT:'")


def parse_qr(text: str) -> list[SetupPayload]:
    """Every payload of a QR text (``MT:`` + one or more base38 payloads joined by ``*``)."""
    body = _extract_qr_body(text)
    return [_decode_one(chunk) for chunk in body.split("*")]


# -- Verhoeff check digit -------------------------------------------------------------------------

_V_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_V_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)
_V_INV = (0, 4, 3, 2, 1, 5, 6, 7, 8, 9)


def _verhoeff(digits: str, offset: int) -> int:
    if not digits.isascii() or not (digits.isdigit() or digits == ""):
        raise InvalidSetupCode(f"bad character in {digits!r}: only digits 0-9 are allowed")
    check = 0
    for i, char in enumerate(reversed(digits)):
        check = _V_D[check][_V_P[(i + offset) % 8][ord(char) - 48]]
    return check


def verhoeff_check_digit(digits: str) -> str:
    """The Verhoeff check digit of a string of decimal digits."""
    return str(_V_INV[_verhoeff(digits, 1)])


def verhoeff_is_valid(digits: str) -> bool:
    """True when the last digit of ``digits`` is the Verhoeff check digit of the others."""
    return bool(digits) and _verhoeff(digits, 0) == 0


# -- manual code ----------------------------------------------------------------------------------


def encode_manual(payload: SetupPayload, *, long: bool = False) -> str:
    """The manual pairing code of ``payload``: 11 digits, or 21 with vendor and product ids.

    The long form is used when ``long`` is true or, as Matter requires, when the commissioning
    flow is not standard.
    """
    with_ids = long or payload.flow != FLOW_STANDARD
    short = payload.short_discriminator
    first = (int(with_ids) << 2) | (short >> 2)
    second = ((short & 0x3) << 14) | (payload.passcode & 0x3FFF)
    third = payload.passcode >> 14
    digits = f"{first}{second:05d}{third:04d}"
    if with_ids:
        digits += f"{payload.vendor_id:05d}{payload.product_id:05d}"
    return digits + verhoeff_check_digit(digits)


def _clean_digits(text: str) -> str:
    cleaned = "".join(text.split()).replace("-", "")
    for char in cleaned:
        if not ("0" <= char <= "9"):
            raise InvalidSetupCode(f"bad character {char!r}: a manual code has only digits")
    return cleaned


def parse_manual(text: str) -> ManualCode:
    """Parse an 11- or 21-digit manual pairing code; spaces and dashes are ignored."""
    digits = _clean_digits(text)
    if len(digits) not in (_MANUAL_SHORT, _MANUAL_LONG):
        raise InvalidSetupCode(f"wrong length: a manual code has 11 or 21 digits, got {len(digits)}")
    if not verhoeff_is_valid(digits):
        raise InvalidSetupCode("bad check digit: the code was mistyped")
    first = int(digits[0])
    if first > 7:
        raise InvalidSetupCode("not a manual pairing code: the first digit must be 0-7")
    with_ids = bool(first & 0x4)
    if with_ids != (len(digits) == _MANUAL_LONG):
        raise InvalidSetupCode(
            "wrong length: the first digit says "
            + ("21 digits (with vendor and product ids)" if with_ids else "11 digits")
        )
    second = int(digits[1:6])
    third = int(digits[6:10])
    if second > 0xFFFF:
        raise InvalidSetupCode("not a manual pairing code: digits 2-6 are out of range")
    passcode = (third << 14) | (second & 0x3FFF)
    if not passcode_is_valid(passcode):
        raise InvalidSetupCode("invalid passcode in the manual code")
    short = ((first & 0x3) << 2) | (second >> 14)
    vendor_id = product_id = None
    if with_ids:
        vendor_id, product_id = int(digits[10:15]), int(digits[15:20])
        if vendor_id > 0xFFFF or product_id > 0xFFFF:
            raise InvalidSetupCode("not a manual pairing code: vendor or product id out of range")
    return ManualCode(passcode=passcode, short_discriminator=short, vendor_id=vendor_id, product_id=product_id)


# -- any form -------------------------------------------------------------------------------------


def parse_setup_code(text: str) -> ParsedCode:
    """Parse what a user scanned or typed: a QR text, an 11/21-digit manual code or a bare passcode.

    A bare passcode has 1..8 digits. Spaces and dashes are ignored in the digit forms.
    """
    stripped = text.strip()
    if not stripped:
        raise InvalidSetupCode("empty setup code")
    if QR_PREFIX in stripped:
        payloads = parse_qr(stripped)
        first = payloads[0]
        return ParsedCode(
            kind=CodeKind.QR,
            passcode=first.passcode,
            discriminator=first.discriminator,
            short_discriminator=first.short_discriminator,
            vendor_id=first.vendor_id,
            product_id=first.product_id,
            payloads=tuple(payloads),
        )
    try:
        digits = _clean_digits(stripped)
    except InvalidSetupCode:
        raise InvalidSetupCode(
            "not a setup code: expected a QR text starting with 'MT:', an 11- or 21-digit manual code "
            "or a passcode of up to 8 digits"
        ) from None
    if len(digits) in (_MANUAL_SHORT, _MANUAL_LONG):
        manual = parse_manual(digits)
        return ParsedCode(
            kind=CodeKind.MANUAL,
            passcode=manual.passcode,
            short_discriminator=manual.short_discriminator,
            vendor_id=manual.vendor_id,
            product_id=manual.product_id,
        )
    if 1 <= len(digits) <= _MAX_BARE_PASSCODE_DIGITS:
        passcode = int(digits)
        if not passcode_is_valid(passcode):
            raise InvalidSetupCode("invalid passcode")
        return ParsedCode(kind=CodeKind.PASSCODE, passcode=passcode)
    raise InvalidSetupCode(
        f"wrong length: {len(digits)} digits is neither a passcode (1-8) nor a manual code (11 or 21)"
    )
