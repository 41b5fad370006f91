"""Agent identity (profile sections 1-2): the key, certificate and identity files in the state directory."""

from __future__ import annotations

import logging
import os
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from device_sdk.errors import ConfigError, StateError
from device_sdk.identity import (
    CERT_FILE,
    KEY_FILE,
    META_FILE,
    AgentIdentity,
    generate_private_key,
    spki_fingerprint,
    spki_fingerprint_der,
)
from tests._identity_helpers import MODEL, NAME, T0, T0_SECONDS, _cn, _load


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


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
