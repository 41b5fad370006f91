"""SHA-256 SPKI fingerprints of agent certificates and their TXT text form (profile sections 1-2).

The fingerprint is taken over the SubjectPublicKeyInfo bytes exactly as they appear in the
certificate, not over a re-encoding of the parsed key, so it agrees with any other implementation
even for keys that have more than one encoding (compressed EC points, for example).
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography import x509

from ..errors import InvalidArgument

FINGERPRINT_SIZE = 32
"""Raw fingerprint length in bytes (SHA-256)."""

FINGERPRINT_TEXT_LENGTH = 44
"""Length of the base64 text form (standard alphabet, padded)."""

_SEQUENCE = 0x30
_INTEGER = 0x02
_VERSION = 0xA0  # [0] EXPLICIT Version


def _element(data: bytes, pos: int) -> tuple[int, int, int]:
    """Return (tag, start of content, end) of the DER element that starts at ``pos``."""
    if pos + 2 > len(data):
        raise InvalidArgument("truncated DER element")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise InvalidArgument("unexpected high-tag-number DER element")
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise InvalidArgument("invalid DER length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise InvalidArgument("truncated DER element")
    return tag, pos, end


def _spki_der(tbs: bytes) -> bytes:
    """Return the DER SubjectPublicKeyInfo element of a DER TBSCertificate."""
    tag, pos, end = _element(tbs, 0)
    if tag != _SEQUENCE or end != len(tbs):
        raise InvalidArgument("TBSCertificate is not one DER SEQUENCE")
    tag, _, after = _element(tbs, pos)
    if tag == _VERSION:
        pos = after
    # serialNumber, signature, issuer, validity, subject, then subjectPublicKeyInfo.
    for expected in (_INTEGER, _SEQUENCE, _SEQUENCE, _SEQUENCE, _SEQUENCE):
        tag, _, after = _element(tbs, pos)
        if tag != expected or after > end:
            raise InvalidArgument("unexpected TBSCertificate structure")
        pos = after
    tag, _, after = _element(tbs, pos)
    if tag != _SEQUENCE or after > end:
        raise InvalidArgument("TBSCertificate has no SubjectPublicKeyInfo")
    return tbs[pos:after]


def spki_fingerprint(cert: x509.Certificate) -> bytes:
    """Return the 32-byte SHA-256 of the certificate's DER SubjectPublicKeyInfo."""
    return hashlib.sha256(_spki_der(cert.tbs_certificate_bytes)).digest()


def spki_fingerprint_der(cert_der: bytes) -> bytes:
    """Return :func:`spki_fingerprint` of a DER certificate (for example a TLS peer's).

    Raises :class:`ValueError` if ``cert_der`` is not one well-formed DER X.509 certificate.
    """
    try:
        cert = x509.load_der_x509_certificate(bytes(cert_der))
        return spki_fingerprint(cert)
    except ValueError as exc:
        raise InvalidArgument(f"not a well-formed DER X.509 certificate: {exc}") from None


def fingerprint_text(raw: bytes) -> str:
    """Return the TXT ``fp`` form of a raw fingerprint: standard base64, padded, 44 characters."""
    if len(raw) != FINGERPRINT_SIZE:
        raise InvalidArgument(f"a fingerprint is {FINGERPRINT_SIZE} bytes, got {len(raw)}")
    return base64.b64encode(bytes(raw)).decode("ascii")


def fingerprint_from_text(text: str | bytes) -> bytes:
    """Parse the ``fp`` text form back to the 32 raw bytes.

    Accepts exactly the canonical form :func:`fingerprint_text` produces (44 characters of standard
    base64 with its ``=`` padding and zero padding bits); anything else raises :class:`ValueError`.
    ``bytes`` input (a raw TXT value) must be ASCII.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        try:
            text = bytes(text).decode("ascii")
        except UnicodeDecodeError:
            raise InvalidArgument("fingerprint text is not ASCII") from None
    if len(text) != FINGERPRINT_TEXT_LENGTH:
        raise InvalidArgument(f"fingerprint text must be {FINGERPRINT_TEXT_LENGTH} characters, got {len(text)}")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidArgument("fingerprint text is not standard padded base64") from None
    if len(raw) != FINGERPRINT_SIZE or base64.b64encode(raw).decode("ascii") != text:
        raise InvalidArgument("fingerprint text is not the canonical base64 of 32 bytes")
    return raw
