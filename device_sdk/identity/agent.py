"""The device's agent identity in its state directory: key, certificate, serial counter.

Three files, each written atomically with mode 0600: the private key (PEM, PKCS8), the current
certificate (PEM) and a small JSON document with the serial base, the certificate counter and the
names the certificate was issued for. The key is created once and never replaced: an unreadable
or corrupt key file is an error, not a reason to start over (that would orphan every paired
controller).
"""

from __future__ import annotations

import logging
import os
import stat
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..errors import ConfigError, InvalidArgument, StateError
from ..storage.statefile import FILE_MODE, atomic_write, ensure_dir, read_json, write_json
from .certificate import (
    COUNTER_BITS,
    MAX_COUNTER,
    RENEW_BEFORE,
    SERIAL_BASE_BITS,
    certificate_matches,
    check_model_name,
    compose_serial,
    generate_private_key,
    issue_certificate,
    new_serial_base,
    utc_now,
)
from .fingerprint import fingerprint_text, spki_fingerprint
from .names import agent_hostname, instance_label, serial_hex, truncate_instance_name

logger = logging.getLogger(__name__)

KEY_FILE = "agent-key.pem"
CERT_FILE = "agent-cert.pem"
META_FILE = "agent-identity.json"
_META_FORMAT = 1


def stored_names(state_dir: Path) -> tuple[str | None, str | None]:
    """The (instance name, model name) of the identity stored in ``state_dir``, else Nones.

    Lets a device started without explicit names keep the ones it has instead of being renamed
    to the defaults. A corrupt file gives Nones here; :meth:`AgentIdentity.load_or_create` reports it.
    """
    try:
        value = read_json(Path(state_dir) / META_FILE)
    except StateError:
        return None, None
    if not isinstance(value, dict):
        return None, None
    name, model = value.get("instance_name"), value.get("model_name")
    return (name if isinstance(name, str) and name else None, model if isinstance(model, str) and model else None)


def _check_instance_name(instance_name: str) -> str:
    if not isinstance(instance_name, str) or not instance_name:
        raise ConfigError("instance name must be a non-empty string")
    try:
        return truncate_instance_name(instance_name)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _public_spki(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _read_private_file(path: Path, what: str) -> bytes | None:
    """Read a state file; ``None`` if absent; StateError if it is not a readable regular file."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot access the {what} {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise StateError(f"the {what} {path} is not a regular file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise StateError(f"cannot read the {what} {path}: {exc.strerror}") from None


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    """Load the agent key; ``None`` if absent. Permissions other than 0600 are fixed first."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot access the agent key file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise StateError(f"the agent key file {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode != FILE_MODE:
        try:
            os.chmod(path, FILE_MODE)
        except OSError as exc:
            raise StateError(f"cannot restrict the agent key file {path} to 0600: {exc.strerror}") from None
        logger.warning("agent key file %s had mode %04o; changed it to 0600", path, mode)
    data = _read_private_file(path, "agent key file")
    if data is None:
        return None
    keep = (
        "it is left untouched: restore it from a backup, or delete it to give the device a new "
        "identity (controllers must pair again)"
    )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise StateError(f"the agent key file {path} is corrupt, encrypted or not a PEM private key; {keep}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise StateError(f"the agent key file {path} does not hold an ECDSA P-256 key; {keep}")
    return key


def _load_cert(path: Path, key: ec.EllipticCurvePrivateKey) -> x509.Certificate | None:
    data = _read_private_file(path, "agent certificate file")
    if data is None:
        return None
    fix = "delete it to have a new certificate issued for the same key"
    try:
        cert = x509.load_pem_x509_certificate(data)
        spki_matches = cert.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) == _public_spki(key)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise StateError(f"the agent certificate file {path} is corrupt; {fix}") from None
    if not spki_matches:
        raise StateError(f"the agent certificate file {path} is not for the agent key; {fix}")
    if cert.serial_number <= 0 or cert.serial_number.bit_length() > SERIAL_BASE_BITS + COUNTER_BITS:
        raise StateError(f"the agent certificate file {path} has an invalid serial number; {fix}")
    return cert


def _load_meta(path: Path) -> tuple[int, int] | None:
    """Return (serial base, counter) from the JSON state file, or None if it does not exist."""
    value: Any = read_json(path)
    if value is None:
        return None
    try:
        if not isinstance(value, dict) or value.get("format") != _META_FORMAT:
            raise InvalidArgument("unknown format")
        base = int(value["serial_base"], 16)
        counter = value["counter"]
        if not 0 <= base < (1 << SERIAL_BASE_BITS):
            raise InvalidArgument("serial base out of range")
        if type(counter) is not int or not 0 <= counter <= MAX_COUNTER:
            raise InvalidArgument("counter out of range")
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(f"the agent identity file {path} is invalid ({exc})") from None
    return base, counter


class AgentIdentity:
    """The device's agent identity: its P-256 key and current agent certificate.

    Create or load it with :meth:`load_or_create`. The key never changes, so neither does the
    fingerprint; the certificate is reissued (same key, next counter) by :meth:`renew_if_needed`
    and :meth:`rename`, and the new one is written to :attr:`cert_path` before they return.
    """

    def __init__(
        self,
        *,
        state_dir: Path,
        private_key: ec.EllipticCurvePrivateKey,
        certificate: x509.Certificate,
        serial_base: int,
        counter: int,
        model_name: str,
        instance_name: str,
    ) -> None:
        """Wrap already-persisted state; use :meth:`load_or_create` instead of calling this."""
        self._state_dir = state_dir
        self._key = private_key
        self._cert = certificate
        self._base = serial_base
        self._counter = counter
        self._model_name = model_name
        self._instance_name = instance_name
        self._fingerprint = spki_fingerprint(certificate)

    @classmethod
    def load_or_create(
        cls,
        state_dir: Path,
        *,
        model_name: str,
        instance_name: str,
        now: datetime | None = None,
    ) -> AgentIdentity:
        """Load the identity from ``state_dir``, creating the key and certificate on first use.

        ``instance_name`` is the display name; it is truncated as an mDNS instance name would be.
        The certificate is reissued when the names differ from those it carries or when it expires
        within 30 days. Raises :class:`StateError` when a file is unreadable or corrupt, or when the
        key is missing while a certificate or identity file exists (the key is never replaced), and
        :class:`ConfigError` for an unusable model name (1..64 characters) or an empty instance name.
        """
        check_model_name(model_name)
        instance_name = _check_instance_name(instance_name)
        now = utc_now(now)
        state_dir = Path(state_dir)
        ensure_dir(state_dir)
        key_path, cert_path, meta_path = state_dir / KEY_FILE, state_dir / CERT_FILE, state_dir / META_FILE

        key = _load_key(key_path)
        if key is None:
            leftovers = [p.name for p in (cert_path, meta_path) if p.exists()]
            if leftovers:
                raise StateError(
                    f"the agent key file {key_path} is missing but {', '.join(leftovers)} exist; "
                    "refusing to create a new device key: restore the key, or delete those files "
                    "to give the device a new identity (controllers must pair again)"
                )
            key = generate_private_key()
            atomic_write(key_path, _key_pem(key), FILE_MODE)
            logger.info("created a new agent key in %s", state_dir)
        cert = _load_cert(cert_path, key)
        meta = _load_meta(meta_path)

        if meta is not None:
            base, counter = meta
            if cert is not None:
                if cert.serial_number >> COUNTER_BITS != base:
                    raise StateError(
                        f"the serial number of {cert_path} does not match {meta_path}; delete the "
                        "certificate file to have a new one issued for the same key"
                    )
                counter = max(counter, cert.serial_number & MAX_COUNTER)
        elif cert is not None:
            base, counter = cert.serial_number >> COUNTER_BITS, cert.serial_number & MAX_COUNTER
            logger.warning("agent identity file %s is missing; recovered it from the certificate", meta_path)
        else:
            base, counter = new_serial_base(), 0

        if cert is None:
            counter, cert = _issue(state_dir, key, base, counter, model_name, instance_name, now)
        identity = cls(
            state_dir=state_dir,
            private_key=key,
            certificate=cert,
            serial_base=base,
            counter=counter,
            model_name=model_name,
            instance_name=instance_name,
        )
        if not identity.renew_if_needed(now) and read_json(meta_path) != identity._meta():
            identity._save_meta()  # recovered, or the same certificate suits a new instance name
        logger.info("agent identity %s (sn %s) loaded", identity.fingerprint_text, identity.sn)
        return identity

    # -- reissuing ----------------------------------------------------------------------------

    def renew_if_needed(self, now: datetime | None = None) -> bool:
        """Reissue the certificate if less than 30 days of validity remain at ``now`` or if its
        names differ from :attr:`model_name` / :attr:`instance_name`. Return whether it did.

        A clock that is behind the issue time (a Raspberry Pi booting without network time) does
        not cause a reissue: the certificate is kept until it really nears its end.
        """
        now = utc_now(now)
        expiring = self._cert.not_valid_after_utc - now < RENEW_BEFORE
        if not expiring and certificate_matches(
            self._cert, model_name=self._model_name, instance_name=self._instance_name
        ):
            return False
        self._reissue(now)
        return True

    def rename(self, new_instance_name: str, *, now: datetime | None = None) -> bool:
        """Adopt a new instance name (after an mDNS rename); reissue the certificate if its label
        changes. The new name is persisted either way. Return whether a certificate was issued."""
        self._instance_name = _check_instance_name(new_instance_name)
        if certificate_matches(self._cert, model_name=self._model_name, instance_name=self._instance_name):
            self._save_meta()
            return False
        self._reissue(utc_now(now))
        return True

    def _reissue(self, now: datetime) -> None:
        self._counter, self._cert = _issue(
            self._state_dir, self._key, self._base, self._counter, self._model_name, self._instance_name, now
        )
        logger.info("issued agent certificate sn %s for %s", self.sn, self.hostname)

    def _meta(self) -> dict[str, Any]:
        return _meta_value(self._base, self._counter, self._model_name, self._instance_name)

    def _save_meta(self) -> None:
        write_json(self._state_dir / META_FILE, self._meta())

    # -- properties ---------------------------------------------------------------------------

    @property
    def state_dir(self) -> Path:
        """The state directory holding the identity files."""
        return self._state_dir

    @property
    def key_path(self) -> Path:
        """Path of the private key file (PEM, PKCS8, 0600), for ``QuicConfiguration.load_cert_chain``."""
        return self._state_dir / KEY_FILE

    @property
    def cert_path(self) -> Path:
        """Path of the current certificate file (PEM), for ``QuicConfiguration.load_cert_chain``."""
        return self._state_dir / CERT_FILE

    @property
    def private_key(self) -> ec.EllipticCurvePrivateKey:
        """The ECDSA P-256 private key."""
        return self._key

    @property
    def certificate(self) -> x509.Certificate:
        """The current agent certificate."""
        return self._cert

    @property
    def cert_pem(self) -> bytes:
        """The current certificate as PEM."""
        return self._cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """The private key as unencrypted PKCS8 PEM (a secret)."""
        return _key_pem(self._key)

    @property
    def fingerprint(self) -> bytes:
        """The 32-byte SHA-256 SPKI fingerprint; constant for the key's life."""
        return self._fingerprint

    @property
    def fingerprint_text(self) -> str:
        """The fingerprint as TXT ``fp`` text (44 characters of base64)."""
        return fingerprint_text(self._fingerprint)

    @property
    def serial(self) -> int:
        """The current certificate's serial number."""
        return self._cert.serial_number

    @property
    def sn(self) -> str:
        """The TXT ``sn`` value: the serial in lowercase hex, fewest bytes."""
        return serial_hex(self._cert.serial_number)

    @property
    def model_name(self) -> str:
        """The model name (the certificate's Issuer CN)."""
        return self._model_name

    @property
    def instance_name(self) -> str:
        """The mDNS instance name (at most 63 bytes of UTF-8)."""
        return self._instance_name

    @property
    def instance_label(self) -> str:
        """The instance label (the certificate's Subject CN)."""
        return instance_label(self._instance_name)

    @property
    def hostname(self) -> str:
        """The agent hostname (the certificate's SAN and the SNI controllers send)."""
        return agent_hostname(self.sn, self._instance_name)

    def __repr__(self) -> str:
        return (
            f"AgentIdentity(fp={self.fingerprint_text!r}, sn={self.sn!r}, "
            f"model_name={self._model_name!r}, instance_name={self._instance_name!r})"
        )


def _meta_value(base: int, counter: int, model_name: str, instance_name: str) -> dict[str, Any]:
    return {
        "format": _META_FORMAT,
        "serial_base": format(base, "x"),
        "counter": counter,
        "model_name": model_name,
        "instance_name": instance_name,
    }


def _issue(
    state_dir: Path,
    key: ec.EllipticCurvePrivateKey,
    base: int,
    counter: int,
    model_name: str,
    instance_name: str,
    now: datetime,
) -> tuple[int, x509.Certificate]:
    """Issue the next certificate and persist it; return (new counter, certificate).

    The counter is saved before the certificate, so a crash between the two writes can skip a
    counter value but never reuse one.
    """
    if counter >= MAX_COUNTER:
        raise StateError("the agent certificate counter is exhausted")
    counter += 1
    cert = issue_certificate(
        key,
        model_name=model_name,
        instance_name=instance_name,
        serial=compose_serial(base, counter),
        now=now,
    )
    write_json(state_dir / META_FILE, _meta_value(base, counter, model_name, instance_name))
    atomic_write(state_dir / CERT_FILE, cert.public_bytes(serialization.Encoding.PEM), FILE_MODE)
    return counter, cert
