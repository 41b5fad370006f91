"""Instance names, instance labels, serial-number text and agent hostnames (profile sections 1-2)."""

from __future__ import annotations

import re

from ..errors import InvalidArgument

MAX_INSTANCE_NAME_BYTES = 63
"""The longest mDNS instance name, in bytes of UTF-8."""

TRUNCATED_NAME_BYTES = 60
"""A longer name is cut to at most this many bytes before the ellipsis is appended."""

ELLIPSIS = "\u2026"
"""Marks a truncated instance name (controllers then take the full name from agent-info)."""

MAX_LABEL_LENGTH = 63
"""The longest instance label (one DNS label)."""

DEFAULT_LABEL = "device"
"""The instance label of a name that has no character from ``[A-Za-z0-9-]``."""

MAX_SERIAL_BYTES = 20
"""RFC 5280: a certificate serial number fits in 20 octets."""

_NOT_LABEL_CHAR = re.compile(r"[^A-Za-z0-9-]")
_DASH_RUN = re.compile(r"-{2,}")
_SN_TEXT = re.compile(r"(?:[0-9a-f]{2})+")


def truncate_instance_name(name: str) -> str:
    """Return ``name`` as an mDNS instance name: at most 63 bytes of UTF-8.

    A longer name is cut at a character (code point) boundary to at most 60 bytes and ``…``
    (U+2026) is appended. A name that fits is returned unchanged, so the function is idempotent.
    Raises :class:`ValueError` for text that cannot be encoded as UTF-8 (lone surrogates).
    """
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument("instance name is not valid Unicode text (lone surrogate)") from None
    if len(encoded) <= MAX_INSTANCE_NAME_BYTES:
        return name
    # Dropping an incomplete trailing sequence cuts at the last character boundary <= 60 bytes.
    head = encoded[:TRUNCATED_NAME_BYTES].decode("utf-8", errors="ignore")
    return head + ELLIPSIS


def instance_label(instance_name: str) -> str:
    """Return the instance label of ``instance_name`` (profile section 2).

    Every character outside ``[A-Za-z0-9-]`` becomes ``-``, runs of ``-`` collapse to one, the
    result is cut to 63 characters and leading and trailing ``-`` are removed; ``device`` if
    nothing is left. The name is first passed through :func:`truncate_instance_name`, so the
    display name and the (possibly truncated) mDNS instance name that peers see give the same label.
    """
    label = _NOT_LABEL_CHAR.sub("-", truncate_instance_name(instance_name))
    label = _DASH_RUN.sub("-", label)
    label = label[:MAX_LABEL_LENGTH].strip("-")
    return label or DEFAULT_LABEL


def serial_hex(serial: int) -> str:
    """Return the ``sn`` text of a certificate serial number.

    Lowercase hexadecimal, two digits per byte, of the serial as an unsigned integer in the fewest
    big-endian bytes (no DER sign byte). Raises :class:`ValueError` unless ``0 < serial < 2**160``.
    """
    if serial <= 0 or serial.bit_length() > 8 * MAX_SERIAL_BYTES:
        raise InvalidArgument(f"certificate serial number out of range: {serial}")
    return serial.to_bytes((serial.bit_length() + 7) // 8, "big").hex()


def check_sn(sn_hex: str) -> str:
    """Return ``sn_hex`` if it is a well-formed ``sn`` value, else raise :class:`ValueError`.

    Well-formed: 1 to 20 bytes as lowercase hexadecimal, two digits per byte, no leading zero byte.
    """
    if (
        not isinstance(sn_hex, str)
        or len(sn_hex) > 2 * MAX_SERIAL_BYTES
        or not _SN_TEXT.fullmatch(sn_hex)
        or sn_hex.startswith("00")
    ):
        raise InvalidArgument(
            f"invalid sn {sn_hex!r}: expected 1..20 bytes as lowercase hex, "
            "two digits per byte, without a leading zero byte"
        )
    return sn_hex


def agent_hostname(sn_hex: str, instance_name: str) -> str:
    """Return the agent hostname ``<sn>.<instance label>.local``.

    This is the SAN dNSName of the device certificate and the SNI a controller sends. ``sn_hex`` is
    the TXT ``sn`` value (see :func:`serial_hex`); a malformed one raises :class:`ValueError`.
    """
    return f"{check_sn(sn_hex)}.{instance_label(instance_name)}.local"
