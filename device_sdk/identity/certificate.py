"""Issuing agent certificates: P-256 keys, serial numbers, validity (profile section 2).

Pure functions: they take the key, the names, the serial and ``now`` and touch no files.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..errors import ConfigError, InvalidArgument
from .names import agent_hostname, instance_label, serial_hex

SERIAL_BASE_BITS = 127
"""The random serial base: the high bits of every serial number, kept for the agent's life."""

COUNTER_BITS = 32
"""The certificate counter: the low bits of the serial number, one more for each new certificate."""

MAX_COUNTER = (1 << COUNTER_BITS) - 1

VALIDITY_BACKDATE = timedelta(days=1)
"""A certificate is valid from one day before it is issued (tolerates peers' clock skew)."""

VALIDITY_PERIOD = timedelta(days=397)
"""A certificate is valid until this long after it is issued."""

RENEW_BEFORE = timedelta(days=30)
"""A certificate is reissued when less than this much of its validity remains."""

MAX_MODEL_NAME_LENGTH = 64
"""X.509 limits a common name (the Issuer CN holds the model name) to 64 characters."""


def utc_now(now: datetime | None = None) -> datetime:
    """Return ``now`` (default: the current time) in UTC; a naive datetime raises :class:`ValueError`."""
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidArgument("now must be a timezone-aware datetime")
    return now.astimezone(UTC)


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    """Return a new ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


def new_serial_base() -> int:
    """Return a random 127-bit serial base from the CSPRNG."""
    return secrets.randbits(SERIAL_BASE_BITS)


def compose_serial(base: int, counter: int) -> int:
    """Return the serial number ``base << 32 | counter``: positive and at most 159 bits.

    Raises :class:`ValueError` unless ``0 <= base < 2**127`` and ``1 <= counter < 2**32``.
    """
    if not 0 <= base < (1 << SERIAL_BASE_BITS):
        raise InvalidArgument("serial base must be a 127-bit unsigned integer")
    if not 1 <= counter <= MAX_COUNTER:
        raise InvalidArgument(f"certificate counter must be in 1..{MAX_COUNTER}")
    return (base << COUNTER_BITS) | counter


def check_model_name(model_name: str) -> str:
    """Return ``model_name`` if it can be the Issuer CN (1..64 characters), else raise ConfigError."""
    if not isinstance(model_name, str) or not 1 <= len(model_name) <= MAX_MODEL_NAME_LENGTH:
        raise ConfigError(f"model name must be 1..{MAX_MODEL_NAME_LENGTH} characters, got {model_name!r}")
    return model_name


def issue_certificate(
    private_key: ec.EllipticCurvePrivateKey,
    *,
    model_name: str,
    instance_name: str,
    serial: int,
    now: datetime | None = None,
) -> x509.Certificate:
    """Return a new self-signed agent certificate for ``private_key``.

    X.509 v3, ecdsa-with-SHA256, KeyUsage digitalSignature (critical), Issuer CN = ``model_name``,
    Subject CN = the instance label, SAN dNSName = the agent hostname built from ``serial``, valid
    from one day before ``now`` to 397 days after it (whole seconds).
    """
    check_model_name(model_name)
    if not isinstance(private_key.curve, ec.SECP256R1):
        raise InvalidArgument("an agent key must be ECDSA P-256")
    issued = utc_now(now).replace(microsecond=0)
    label = instance_label(instance_name)
    hostname = agent_hostname(serial_hex(serial), instance_name)
    builder = (
        x509.CertificateBuilder()
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, model_name)]))
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, label)]))
        .public_key(private_key.public_key())
        .serial_number(serial)
        .not_valid_before(issued - VALIDITY_BACKDATE)
        .not_valid_after(issued + VALIDITY_PERIOD)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
    )
    return builder.sign(private_key, hashes.SHA256())


def _common_name(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(values) != 1 or not isinstance(values[0].value, str):
        return None
    return values[0].value


def certificate_matches(cert: x509.Certificate, *, model_name: str, instance_name: str) -> bool:
    """Tell whether ``cert`` carries the names an agent certificate for these names would carry.

    Compares Issuer CN, Subject CN and the SAN dNSName (built from the certificate's own serial).
    """
    try:
        hostname = agent_hostname(serial_hex(cert.serial_number), instance_name)
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    return (
        _common_name(cert.issuer) == model_name
        and _common_name(cert.subject) == instance_label(instance_name)
        and san.get_values_for_type(x509.DNSName) == [hostname]
    )
