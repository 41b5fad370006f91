"""Agent identity (profile sections 1-2): SPKI fingerprints and the agent certificate."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from device_sdk.identity import (
    CERT_FILE,
    compose_serial,
    fingerprint_from_text,
    fingerprint_text,
    generate_private_key,
    issue_certificate,
    new_serial_base,
    serial_hex,
    spki_fingerprint,
    spki_fingerprint_der,
)
from tests._identity_helpers import MODEL, NAME, T0, T0_SECONDS, _cn, _load

# -- independent DER helpers (not the module's parser) --------------------------------------------


def _header(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, content start, content length) of the DER element at pos."""
    tag, first = data[pos], data[pos + 1]
    if first < 0x80:
        return tag, pos + 2, first
    n = first & 0x7F
    return tag, pos + 2 + n, int.from_bytes(data[pos + 2 : pos + 2 + n], "big")


def _der(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return bytes([tag, n]) + content
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def _serial_der_octets(cert: x509.Certificate) -> int:
    """Length of the serialNumber INTEGER content in the certificate's DER."""
    tbs = cert.tbs_certificate_bytes
    _, pos, _ = _header(tbs, 0)
    tag, start, length = _header(tbs, pos)
    if tag == 0xA0:  # explicit version
        tag, start, length = _header(tbs, start + length)
    assert tag == 0x02
    return length


# -- fingerprints ----------------------------------------------------------------------------------


def _independent_fingerprint(cert: x509.Certificate) -> bytes:
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()


def test_fingerprint_matches_an_independent_computation(tmp_path: Path) -> None:
    ident = _load(tmp_path)
    expected = _independent_fingerprint(ident.certificate)
    assert ident.fingerprint == expected == spki_fingerprint(ident.certificate)
    assert len(ident.fingerprint) == 32
    assert ident.fingerprint_text == base64.b64encode(expected).decode()
    assert len(ident.fingerprint_text) == 44
    assert fingerprint_text(ident.fingerprint) == ident.fingerprint_text
    assert fingerprint_from_text(ident.fingerprint_text) == ident.fingerprint
    assert fingerprint_from_text(ident.fingerprint_text.encode()) == ident.fingerprint
    der = ident.certificate.public_bytes(serialization.Encoding.DER)
    assert spki_fingerprint_der(der) == ident.fingerprint


def test_fingerprint_of_other_key_types() -> None:
    for key in (ec.generate_private_key(ec.SECP384R1()), ed25519.Ed25519PrivateKey.generate()):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "peer")])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(7)
            .not_valid_before(T0)
            .not_valid_after(T0 + timedelta(days=1))
            .sign(key, None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256())
        )
        assert spki_fingerprint(cert) == _independent_fingerprint(cert)
        assert spki_fingerprint_der(cert.public_bytes(serialization.Encoding.DER)) == spki_fingerprint(cert)


def test_fingerprint_hashes_the_certificate_bytes_not_a_reencoding() -> None:
    """A P-256 key with a compressed point: the SPKI as written is hashed, not the parsed key."""
    key = generate_private_key()
    cert = issue_certificate(key, model_name=MODEL, instance_name=NAME, serial=5, now=T0)
    uncompressed = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    point = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    _, alg_start, alg_len = _header(uncompressed, 2)
    algorithm = uncompressed[2 : alg_start + alg_len]
    compressed = _der(0x30, algorithm + _der(0x03, b"\x00" + point))
    tbs = cert.tbs_certificate_bytes
    _, start, _ = _header(tbs, 0)
    assert uncompressed in tbs
    new_tbs = _der(0x30, tbs[start:].replace(uncompressed, compressed))
    sig_alg = _der(0x30, _der(0x06, bytes.fromhex("2a8648ce3d040302")))
    der = _der(0x30, new_tbs + sig_alg + _der(0x03, b"\x00" + cert.signature))
    assert spki_fingerprint_der(der) == hashlib.sha256(compressed).digest()
    assert spki_fingerprint_der(der) != spki_fingerprint(cert)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "A" * 43,
        "A" * 44,  # no padding: 33 bytes
        "A" * 42 + "==",  # 31 bytes
        "A" * 43 + "B",
        "A" * 42 + "B=",  # non-zero padding bits: not canonical
        "A" * 42 + "-=",  # URL-safe alphabet
        "A" * 42 + " =",
        "A" * 42 + "é=",
        "A" * 45,
    ],
)
def test_fingerprint_from_text_rejects_malformed_text(text: str) -> None:
    with pytest.raises(ValueError):
        fingerprint_from_text(text)


def test_fingerprint_text_validation() -> None:
    assert fingerprint_from_text("A" * 42 + "A=") == bytes(32)
    with pytest.raises(ValueError):
        fingerprint_from_text(b"\xff" * 44)
    with pytest.raises(ValueError):
        fingerprint_text(bytes(31))
    with pytest.raises(ValueError):
        spki_fingerprint_der(b"\x30\x03\x02\x01\x01")
    with pytest.raises(ValueError):
        spki_fingerprint_der(b"not a certificate")


# -- the agent certificate -------------------------------------------------------------------------


def test_certificate_has_every_profile_property(tmp_path: Path) -> None:
    ident = _load(tmp_path, name="Kitchen Light 🙂")
    cert = x509.load_pem_x509_certificate((tmp_path / CERT_FILE).read_bytes())
    assert cert == ident.certificate
    assert cert.version == x509.Version.v3
    # self-signed: the agent key signs it, ecdsa-with-SHA256
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert isinstance(public.curve, ec.SECP256R1)
    public.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
    assert public == ident.private_key.public_key()
    # KeyUsage digitalSignature only, critical
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    ku = usage.value
    assert ku.digital_signature
    others = (ku.content_commitment, ku.key_encipherment, ku.data_encipherment, ku.key_agreement)
    assert not any(others) and not ku.key_cert_sign and not ku.crl_sign
    # names
    assert _cn(cert.issuer) == MODEL == ident.model_name
    assert _cn(cert.subject) == "Kitchen-Light" == ident.instance_label
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [ident.hostname]
    assert ident.hostname == f"{ident.sn}.Kitchen-Light.local"
    assert len(cert.extensions) == 2
    # serial: base << 32 | counter, counter 1 for the first certificate
    assert cert.serial_number == ident.serial
    assert 0 < ident.serial < 1 << 159
    assert ident.serial & 0xFFFFFFFF == 1
    assert _serial_der_octets(cert) <= 20
    assert ident.sn == serial_hex(ident.serial)
    assert int(ident.sn, 16) == ident.serial and len(ident.sn) % 2 == 0 and not ident.sn.startswith("00")
    # validity
    assert cert.not_valid_before_utc == T0_SECONDS - timedelta(days=1)
    assert cert.not_valid_after_utc == T0_SECONDS + timedelta(days=397)


def test_serials_fit_20_der_octets_for_many_bases() -> None:
    key = generate_private_key()
    bases = [new_serial_base() for _ in range(150)]
    assert all(0 <= b < 1 << 127 for b in bases)
    assert any(b.bit_length() == 127 for b in bases)  # probability of failure 2**-150
    bases += [0, 1, 0x80, (1 << 127) - 1, 1 << 126]
    for base in bases:
        for counter in (1, 0xFFFFFFFF):
            serial = compose_serial(base, counter)
            assert serial >> 32 == base and serial & 0xFFFFFFFF == counter
            cert = issue_certificate(key, model_name=MODEL, instance_name=NAME, serial=serial, now=T0)
            assert cert.serial_number == serial
            assert serial.bit_length() <= 159
            assert _serial_der_octets(cert) <= 20
            sn = serial_hex(serial)
            assert len(sn) == 2 * ((serial.bit_length() + 7) // 8)
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            assert san.get_values_for_type(x509.DNSName) == [f"{sn}.Kitchen-Light.local"]
    top = compose_serial((1 << 127) - 1, 0xFFFFFFFF)
    cert = issue_certificate(key, model_name=MODEL, instance_name=NAME, serial=top, now=T0)
    assert _serial_der_octets(cert) == 20


def test_sn_keeps_a_leading_zero_digit_but_no_zero_byte() -> None:
    key = generate_private_key()
    cert = issue_certificate(key, model_name=MODEL, instance_name=NAME, serial=(1 << 32) | 1, now=T0)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["0100000001.Kitchen-Light.local"]
    cert = issue_certificate(key, model_name=MODEL, instance_name=NAME, serial=0x80_0000_0001, now=T0)
    assert _serial_der_octets(cert) == 6  # DER needs a sign byte, sn does not
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["8000000001.Kitchen-Light.local"]


@pytest.mark.parametrize(("base", "counter"), [(-1, 1), (1 << 127, 1), (5, 0), (5, 1 << 32)])
def test_compose_serial_rejects_out_of_range(base: int, counter: int) -> None:
    with pytest.raises(ValueError):
        compose_serial(base, counter)
