"""The DNS-SD TXT record of a device (profile section 1): encoding, strict parsing, display names.

Pure: no I/O. The advertiser publishes :func:`encode_txt` of a :class:`DeviceRecord`; the browser
runs every received TXT through :func:`parse_txt`, which rejects anything the profile does not allow.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from device_sdk.errors import DiscoveryError, InvalidArgument
from device_sdk.identity.fingerprint import fingerprint_from_text
from device_sdk.identity.names import MAX_INSTANCE_NAME_BYTES, check_sn, truncate_instance_name
from device_sdk.wire.varint import MAX_VARINT, decode_varint, encode_varint

__all__ = [
    "MAX_DISCRIMINATOR",
    "MAX_INSTANCE_NAME_BYTES",
    "SERVICE_TYPE",
    "DeviceRecord",
    "DeviceTxt",
    "InvalidTxt",
    "encode_txt",
    "parse_txt",
    "sanitize_display_name",
    "short_discriminator",
    "truncate_instance_name",
]

SERVICE_TYPE = "_openscreen._udp.local."
"""The DNS-SD service type every device advertises."""

MAX_DISCRIMINATOR = 4095
"""Largest 12-bit setup discriminator."""


_AT_RE = re.compile(r"[A-Za-z0-9+/]{16}")
_FP_RE = re.compile(r"[A-Za-z0-9+/]{43}=")
_D_RE = re.compile(r"[0-9]{1,4}")
_KNOWN_KEYS = ("fp", "mv", "at", "sn", "d", "cm")
_REQUIRED_KEYS = ("fp", "mv", "at", "sn", "cm")


class InvalidTxt(DiscoveryError, ValueError):
    """A TXT record (or a :class:`DeviceRecord`) breaks the profile; ``key`` names the culprit."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"invalid TXT {key!r}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class DeviceRecord:
    """The values a device publishes in its TXT record. Validated on construction (:class:`InvalidTxt`)."""

    fp: str
    """base64 (standard, padded, 44 characters) of SHA-256 over the certificate's SubjectPublicKeyInfo."""
    mv: int
    """Metadata version: increases whenever agent-info or the channel catalog changes (0 .. 2**62-1)."""
    at: str
    """Auth-initiation token: 16 characters from ``[A-Za-z0-9+/]``."""
    sn: str
    """Certificate serial number, lowercase hex, two digits per byte."""
    d: int | None = None
    """12-bit setup discriminator (0..4095), only for devices with a setup code."""
    cm: bool = False
    """True while the pairing window is open."""

    def __post_init__(self) -> None:
        _check_fp(self.fp)
        if isinstance(self.mv, bool) or not isinstance(self.mv, int) or not 0 <= self.mv <= MAX_VARINT:
            raise InvalidTxt("mv", "must be an integer in 0 .. 2**62-1")
        _check_at(self.at)
        _check_sn(self.sn)
        if self.d is not None and (
            isinstance(self.d, bool) or not isinstance(self.d, int) or not 0 <= self.d <= MAX_DISCRIMINATOR
        ):
            raise InvalidTxt("d", "must be an integer in 0..4095")
        if not isinstance(self.cm, bool):
            raise InvalidTxt("cm", "must be a bool")

    @property
    def short_discriminator(self) -> int | None:
        """The top 4 bits of ``d`` (what an 11-digit manual code carries), or None without ``d``."""
        return None if self.d is None else short_discriminator(self.d)


DeviceTxt = DeviceRecord
"""What :func:`parse_txt` returns: the same fields as :class:`DeviceRecord`, read from the network."""


def short_discriminator(d: int) -> int:
    """The 4-bit short discriminator (top 4 bits) of a 12-bit discriminator."""
    if not 0 <= d <= MAX_DISCRIMINATOR:
        raise InvalidArgument(f"discriminator {d} is not in 0..4095")
    return d >> 8


def encode_txt(record: DeviceRecord) -> dict[bytes, bytes]:
    """The TXT properties for ``record``, in profile order (``mv`` as raw varint bytes)."""
    props: dict[bytes, bytes] = {
        b"fp": record.fp.encode("ascii"),
        b"mv": encode_varint(record.mv),
        b"at": record.at.encode("ascii"),
        b"sn": record.sn.encode("ascii"),
    }
    if record.d is not None:
        props[b"d"] = str(record.d).encode("ascii")
    props[b"cm"] = b"1" if record.cm else b"0"
    return props


def parse_txt(props: Mapping[bytes, bytes | None]) -> DeviceRecord:
    """Validate received TXT properties strictly and return the record.

    Keys are case-insensitive; when a key occurs more than once the first occurrence wins
    (RFC 6763 section 6.4). Unknown keys are ignored. Raises :class:`InvalidTxt`.
    """
    values: dict[str, bytes | None] = {}
    for raw_key, value in props.items():
        try:
            key = raw_key.decode("ascii").lower()
        except UnicodeDecodeError:
            continue  # not one of ours: keys are printable ASCII
        if key in _KNOWN_KEYS and key not in values:
            values[key] = value
    for key in _REQUIRED_KEYS:
        if key not in values:
            raise InvalidTxt(key, "missing")
        if values[key] is None:
            raise InvalidTxt(key, "present without a value")

    fp = _ascii("fp", values["fp"])
    _check_fp(fp)
    mv_raw = values["mv"] or b""
    try:
        mv, end = decode_varint(mv_raw, 0)
    except ValueError as exc:
        raise InvalidTxt("mv", f"not a QUIC varint: {exc}") from None
    if end != len(mv_raw):
        raise InvalidTxt("mv", f"{len(mv_raw) - end} bytes after the varint")
    at = _ascii("at", values["at"])
    _check_at(at)
    sn = _ascii("sn", values["sn"])
    _check_sn(sn)
    cm_text = _ascii("cm", values["cm"])
    if cm_text not in ("0", "1"):
        raise InvalidTxt("cm", f"must be '0' or '1', not {cm_text[:8]!r}")
    d: int | None = None
    if "d" in values:
        d_text = _ascii("d", values["d"])
        if not _D_RE.fullmatch(d_text) or int(d_text) > MAX_DISCRIMINATOR:
            raise InvalidTxt("d", f"must be a decimal integer in 0..4095, not {d_text[:8]!r}")
        d = int(d_text)
    return DeviceRecord(fp=fp, mv=mv, at=at, sn=sn, d=d, cm=cm_text == "1")


def _ascii(key: str, value: bytes | None) -> str:
    if value is None:
        raise InvalidTxt(key, "present without a value")
    try:
        return value.decode("ascii")
    except UnicodeDecodeError:
        raise InvalidTxt(key, "not ASCII") from None


def _check_fp(fp: object) -> None:
    if not isinstance(fp, str) or not _FP_RE.fullmatch(fp):
        raise InvalidTxt("fp", "must be 44 characters of padded standard base64")
    try:
        fingerprint_from_text(fp)
    except ValueError:
        raise InvalidTxt("fp", "must encode exactly 32 bytes (canonically)") from None


def _check_at(at: object) -> None:
    if not isinstance(at, str) or not _AT_RE.fullmatch(at):
        raise InvalidTxt("at", "must be 16 characters from [A-Za-z0-9+/]")


def _check_sn(sn: object) -> None:
    try:
        check_sn(sn)  # type: ignore[arg-type]
    except ValueError:
        raise InvalidTxt(
            "sn", "must be 1..20 bytes as lowercase hex, two digits per byte, without a leading 00"
        ) from None


# -- names ----------------------------------------------------------------------------------------

# Bidirectional formatting characters that can make a name display as something else.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def sanitize_display_name(name: str) -> str:
    """``name`` safe to show to a user: control, format-override and unassigned/surrogate characters
    removed, runs of whitespace collapsed, and the result stripped. May return ``""``."""
    kept: list[str] = []
    for ch in name:
        category = unicodedata.category(ch)
        if ch in _BIDI_CONTROLS or category in ("Cc", "Cs", "Co", "Cn"):
            if category == "Cc" and ch in "\t\n\r\v\f":
                kept.append(" ")
            continue
        if category in ("Zl", "Zp"):
            kept.append(" ")
            continue
        kept.append(ch)
    return " ".join("".join(kept).split())
