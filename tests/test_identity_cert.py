"""Agent identity (profile sections 1-2): names, certificates, fingerprints, the state files."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import random
import re
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID, SignatureAlgorithmOID

from device_sdk.errors import ConfigError, StateError
from device_sdk.identity import (
    CERT_FILE,
    KEY_FILE,
    META_FILE,
    AgentIdentity,
    agent_hostname,
    compose_serial,
    fingerprint_from_text,
    fingerprint_text,
    generate_private_key,
    instance_label,
    issue_certificate,
    new_serial_base,
    serial_hex,
    spki_fingerprint,
    spki_fingerprint_der,
    truncate_instance_name,
)

T0 = datetime(2025, 3, 1, 12, 0, 0, 654321, tzinfo=UTC)
T0_SECONDS = T0.replace(microsecond=0)
MODEL = "Acme Lamp 2000"
NAME = "Kitchen Light"
LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")

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


def _cn(name: x509.Name) -> str:
    (attr,) = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert isinstance(attr.value, str)
    return attr.value


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _load(state: Path, *, name: str = NAME, model: str = MODEL, now: datetime = T0) -> AgentIdentity:
    return AgentIdentity.load_or_create(state, model_name=model, instance_name=name, now=now)


# -- instance names, labels, hostnames -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Kitchen Light", "Kitchen-Light"),
        ("kitchen-light-2", "kitchen-light-2"),
        ("Living Room (2)", "Living-Room-2"),
        ("a__b..c  d", "a-b-c-d"),
        ("--edge--", "edge"),
        ("Café Lamp", "Caf-Lamp"),
        ("Lamp 🙂 2", "Lamp-2"),
        ("👨‍👩‍👧 Family", "Family"),
        ("日本語", "device"),
        ("🙂🙂🙂", "device"),
        ("", "device"),
        ("-", "device"),
        ("   ", "device"),
        ("ÀB", "B"),
        ("x", "x"),
    ],
)
def test_instance_label_rules(name: str, label: str) -> None:
    assert instance_label(name) == label


def test_instance_label_of_long_names_uses_the_truncated_instance_name() -> None:
    long_name = "A" * 100
    assert instance_label(long_name) == "A" * 60  # 60 bytes + "…" -> "-" stripped
    assert instance_label(long_name) == instance_label(truncate_instance_name(long_name))
    assert instance_label("A" * 63) == "A" * 63
    assert instance_label("é" * 40) == "device"


def test_instance_label_is_always_a_dns_label() -> None:
    rng = random.Random(1234)
    alphabet = "aZ09-_ .()éü€日🙂\u200d\t"
    for _ in range(2000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        label = instance_label(name)
        assert label == "device" or LABEL_RE.fullmatch(label), (name, label)
        assert "--" not in label
        assert len(label) <= 63
        assert instance_label(truncate_instance_name(name)) == label


def test_agent_hostname() -> None:
    assert agent_hostname("0a1b", "Kitchen Light") == "0a1b.Kitchen-Light.local"
    assert agent_hostname("ff", "🙂") == "ff.device.local"
    longest = agent_hostname("7f" + "ff" * 19, "x" * 63)
    assert longest == "7f" + "ff" * 19 + "." + "x" * 63 + ".local"


@pytest.mark.parametrize("sn", ["", "0A1B", "abc", "00ab", "zz", "0x12", "ab cd", "ab" * 21, "01\n"])
def test_agent_hostname_rejects_malformed_sn(sn: str) -> None:
    with pytest.raises(ValueError, match="invalid sn"):
        agent_hostname(sn, NAME)


@pytest.mark.parametrize(
    ("serial", "text"),
    [
        (1, "01"),
        (0x0ABC, "0abc"),
        (0xFF, "ff"),
        (0x80, "80"),  # no DER sign byte
        (0x80_0000_0001, "8000000001"),
        ((1 << 32) | 1, "0100000001"),
        ((1 << 159) - 1, "7f" + "ff" * 19),
    ],
)
def test_serial_hex(serial: int, text: str) -> None:
    assert serial_hex(serial) == text
    assert int(text, 16) == serial


@pytest.mark.parametrize("serial", [0, -1, 1 << 160])
def test_serial_hex_rejects_out_of_range(serial: int) -> None:
    with pytest.raises(ValueError):
        serial_hex(serial)


def test_truncate_instance_name_keeps_names_that_fit() -> None:
    for name in ["", "Kitchen", "a" * 63, "é" * 31 + "a", "🙂" * 15 + "abc"]:
        assert len(name.encode()) <= 63
        assert truncate_instance_name(name) == name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a" * 64, "a" * 60 + "…"),
        ("a" * 100, "a" * 60 + "…"),
        ("a" * 59 + "é" * 3, "a" * 59 + "…"),  # é occupies bytes 59-60: cut before it
        ("a" * 58 + "é" * 3, "a" * 58 + "é" + "…"),  # é ends exactly at byte 60
        ("a" * 58 + "€" * 3, "a" * 58 + "…"),  # 3-byte char straddles the boundary
        ("a" * 57 + "€" * 3, "a" * 57 + "€" + "…"),
        ("a" * 57 + "🙂" * 2, "a" * 57 + "…"),  # 4-byte char straddles the boundary
        ("a" * 56 + "🙂" * 2, "a" * 56 + "🙂" + "…"),
        ("€" * 22, "€" * 20 + "…"),
    ],
)
def test_truncate_instance_name_cuts_at_a_character_boundary(name: str, expected: str) -> None:
    result = truncate_instance_name(name)
    assert result == expected
    assert len(result.encode()) <= 63
    assert truncate_instance_name(result) == result


def test_truncate_instance_name_random() -> None:
    rng = random.Random(99)
    alphabet = "aé€🙂"
    for _ in range(1000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(10, 70)))
        result = truncate_instance_name(name)
        if len(name.encode()) <= 63:
            assert result == name
            continue
        head = result.removesuffix("…")
        assert result.endswith("…") and name.startswith(head)
        assert 57 <= len(head.encode()) <= 60
        assert len(name[len(head)].encode()) + len(head.encode()) > 60  # nothing more fitted


def test_truncate_instance_name_rejects_lone_surrogates() -> None:
    with pytest.raises(ValueError):
        truncate_instance_name("bad \ud800 name")


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


# -- the identity in its state directory ------------------------------------------------------------


def test_files_are_private_and_reload_gives_the_same_identity(tmp_path: Path) -> None:
    ident = _load(tmp_path)
    for name in (KEY_FILE, CERT_FILE, META_FILE):
        assert _mode(tmp_path / name) == 0o600
    assert ident.key_path == tmp_path / KEY_FILE and ident.cert_path == tmp_path / CERT_FILE
    assert ident.key_path.read_bytes() == ident.key_pem
    assert ident.key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS8
    assert ident.cert_path.read_bytes() == ident.cert_pem
    again = _load(tmp_path, now=T0 + timedelta(days=10))
    assert again.fingerprint == ident.fingerprint
    assert again.serial == ident.serial
    assert again.cert_pem == ident.cert_pem
    assert again.private_key.private_numbers() == ident.private_key.private_numbers()
    assert (again.instance_name, again.model_name, again.hostname) == (NAME, MODEL, ident.hostname)
    assert ident.key_pem.decode() not in repr(ident)
    assert ident.fingerprint_text in repr(ident)


def test_certificate_files_work_with_aioquic(tmp_path: Path) -> None:
    from aioquic.quic.configuration import QuicConfiguration

    ident = _load(tmp_path)
    config = QuicConfiguration(is_client=False)
    config.load_cert_chain(ident.cert_path, ident.key_path)
    assert config.certificate is not None
    assert spki_fingerprint_der(config.certificate.public_bytes(serialization.Encoding.DER)) == (ident.fingerprint)


def test_renewal_keeps_the_key_and_increments_the_counter(tmp_path: Path) -> None:
    ident = _load(tmp_path)
    first_serial, fp = ident.serial, ident.fingerprint
    assert not ident.renew_if_needed(T0 + timedelta(days=300))
    assert not ident.renew_if_needed(T0_SECONDS + timedelta(days=367))  # exactly 30 days left
    assert not ident.renew_if_needed(T0 - timedelta(days=3000))  # clock behind: keep it
    t1 = T0 + timedelta(days=368)
    assert ident.renew_if_needed(t1)
    assert ident.fingerprint == fp
    assert ident.serial == first_serial + 1
    assert ident.serial >> 32 == first_serial >> 32
    cert = x509.load_pem_x509_certificate(ident.cert_path.read_bytes())
    assert cert.serial_number == ident.serial
    assert spki_fingerprint(cert) == fp
    assert cert.not_valid_before_utc == t1.replace(microsecond=0) - timedelta(days=1)
    assert not ident.renew_if_needed(t1 + timedelta(days=1))
    again = _load(tmp_path, now=t1)
    assert again.serial == ident.serial and again.fingerprint == fp
    # a reload long after expiry reissues too
    late = _load(tmp_path, now=t1 + timedelta(days=2000))
    assert late.serial == ident.serial + 1 and late.fingerprint == fp


def test_rename_reissues_for_the_new_label(tmp_path: Path) -> None:
    ident = _load(tmp_path)
    fp, serial = ident.fingerprint, ident.serial
    assert ident.rename("Kitchen Light (2)", now=T0)
    assert ident.instance_name == "Kitchen Light (2)"
    assert ident.instance_label == "Kitchen-Light-2"
    assert ident.serial == serial + 1 and ident.fingerprint == fp
    cert = x509.load_pem_x509_certificate(ident.cert_path.read_bytes())
    assert _cn(cert.subject) == "Kitchen-Light-2"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == [f"{ident.sn}.Kitchen-Light-2.local"]
    # same label: no new certificate, but the name is kept
    assert not ident.rename("Kitchen-Light 2", now=T0)
    assert ident.serial == serial + 1
    reloaded = AgentIdentity.load_or_create(tmp_path, model_name=MODEL, instance_name="Kitchen-Light 2", now=T0)
    assert reloaded.serial == serial + 1
    # a long name is truncated as mDNS would publish it
    assert ident.rename("B" * 80, now=T0)
    assert ident.instance_name == "B" * 60 + "…"
    assert ident.instance_label == "B" * 60


def test_load_with_other_names_reissues(tmp_path: Path) -> None:
    ident = _load(tmp_path)
    renamed = _load(tmp_path, name="Hall Light")
    assert renamed.serial == ident.serial + 1 and renamed.fingerprint == ident.fingerprint
    assert renamed.hostname == f"{renamed.sn}.Hall-Light.local"
    remodeled = _load(tmp_path, name="Hall Light", model="Acme Lamp 3000")
    assert remodeled.serial == ident.serial + 2
    assert _cn(remodeled.certificate.issuer) == "Acme Lamp 3000"
    assert _load(tmp_path, name="Hall Light", model="Acme Lamp 3000").serial == remodeled.serial


def test_key_permissions_are_fixed_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ident = _load(tmp_path)
    os.chmod(ident.key_path, 0o644)
    with caplog.at_level(logging.DEBUG, logger="device_sdk.identity"):
        again = _load(tmp_path)
    assert _mode(ident.key_path) == 0o600
    assert again.fingerprint == ident.fingerprint
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "0644" in warnings[0].getMessage()
    secret = str(ident.private_key.private_numbers().private_value)
    for record in caplog.records:
        assert "PRIVATE KEY" not in record.getMessage() and secret not in record.getMessage()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"garbage\n",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        "ec-p384",
        "encrypted",
        "ed25519",
    ],
)
def test_corrupt_key_file_raises_and_is_left_alone(tmp_path: Path, content: bytes | str) -> None:
    _load(tmp_path)
    key_path = tmp_path / KEY_FILE
    if content == "ec-p384":
        data = ec.generate_private_key(ec.SECP384R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    elif content == "ed25519":
        data = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    elif content == "encrypted":
        data = generate_private_key().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pw"),
        )
    else:
        assert isinstance(content, bytes)
        data = content
    key_path.write_bytes(data)
    cert_before = (tmp_path / CERT_FILE).read_bytes()
    with pytest.raises(StateError, match="agent key file"):
        _load(tmp_path)
    assert key_path.read_bytes() == data
    assert (tmp_path / CERT_FILE).read_bytes() == cert_before


def test_unreadable_key_file_raises(tmp_path: Path) -> None:
    (tmp_path / KEY_FILE).mkdir()
    with pytest.raises(StateError, match="not a regular file"):
        _load(tmp_path)


def test_missing_key_with_existing_certificate_is_not_replaced(tmp_path: Path) -> None:
    _load(tmp_path)
    (tmp_path / KEY_FILE).unlink()
    with pytest.raises(StateError, match="refusing to create a new device key"):
        _load(tmp_path)
    assert not (tmp_path / KEY_FILE).exists()


def test_corrupt_or_foreign_certificate_raises(tmp_path: Path) -> None:
    _load(tmp_path)
    cert_path = tmp_path / CERT_FILE
    cert_path.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(StateError, match=r"certificate file .* is corrupt"):
        _load(tmp_path)
    other = _load(tmp_path / "other")
    cert_path.write_bytes(other.cert_pem)
    with pytest.raises(StateError, match="not for the agent key"):
        _load(tmp_path)


def test_corrupt_identity_file_raises(tmp_path: Path) -> None:
    _load(tmp_path)
    meta = tmp_path / META_FILE
    meta.write_text("{not json")
    with pytest.raises(StateError):
        _load(tmp_path)
    meta.write_text('{"format": 1, "serial_base": "zz", "counter": 1}')
    with pytest.raises(StateError, match="invalid"):
        _load(tmp_path)
    meta.write_text('{"format": 1, "serial_base": "1234", "counter": 1}')
    with pytest.raises(StateError, match="does not match"):
        _load(tmp_path)


def test_lost_files_are_recovered_without_reusing_a_serial(tmp_path: Path) -> None:
    ident = _load(tmp_path)
    assert ident.rename("Hall", now=T0)  # counter 2
    (tmp_path / META_FILE).unlink()
    again = _load(tmp_path, name="Hall")
    assert again.serial == ident.serial and (tmp_path / META_FILE).exists()
    (tmp_path / CERT_FILE).unlink()
    reissued = _load(tmp_path, name="Hall")
    assert reissued.serial == ident.serial + 1
    assert reissued.fingerprint == ident.fingerprint


def test_an_older_identity_file_does_not_make_a_serial_reused(tmp_path: Path) -> None:
    ident = _load(tmp_path)
    old_meta = (tmp_path / META_FILE).read_bytes()
    assert ident.rename("Hall", now=T0) and ident.rename("Porch", now=T0)  # counter 3
    (tmp_path / META_FILE).write_bytes(old_meta)  # restored from an old backup: counter 1
    again = _load(tmp_path, name="Garden")
    assert again.serial == ident.serial + 1


@pytest.mark.parametrize(("model", "name"), [("", NAME), ("M" * 65, NAME), (MODEL, "")])
def test_unusable_names_raise_config_error(tmp_path: Path, model: str, name: str) -> None:
    with pytest.raises(ConfigError):
        AgentIdentity.load_or_create(tmp_path, model_name=model, instance_name=name, now=T0)
    assert not (tmp_path / KEY_FILE).exists()


def test_naive_now_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _load(tmp_path, now=datetime(2025, 1, 1))
