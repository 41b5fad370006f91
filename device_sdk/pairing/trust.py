"""Trust stores: who a device trusts, and which devices a controller has pinned.

Both are JSON files in the state directory, private (0600) and replaced atomically with
:mod:`device_sdk.storage.statefile` (temp file, fsync, rename, fsync of the directory), so a crash at any
moment leaves the old or the new content. Fingerprints are the 32 raw bytes of the SHA-256 SPKI
fingerprint in memory and its 44-character base64 text (the TXT ``fp`` form) in the files.

A file that cannot be parsed, has an unknown version or is open to other users raises
:class:`~device_sdk.errors.StateError` naming the path. Temporary files left by a writer that was
killed before its rename are deleted when a store is opened.
"""

from __future__ import annotations

import contextlib
import logging
import math
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from ..channels.session import Role
from ..errors import AmbiguousDevice, DeviceNotFound, InvalidArgument, NotPaired, StateError
from ..identity import fingerprint_from_text, fingerprint_text
from ..storage.statefile import StateWriter, StateWriterThread, read_json

__all__ = [
    "STORE_VERSION",
    "TOUCH_INTERVAL",
    "AmbiguousDevice",
    "ControllerPinStore",
    "DeviceTrustStore",
    "PinnedDevice",
    "TrustedController",
]

_log = logging.getLogger(__name__)

STORE_VERSION = 1
"""The ``version`` field written to both store files."""
TOUCH_INTERVAL = 60.0
"""``touch`` rewrites the file for a peer at most once per this many seconds."""
MAX_NAME_LENGTH = 256
"""Longer names (they come from the network) are cut to this many characters."""
MIN_FINGERPRINT_PREFIX = 4

_ROLES: tuple[Role, ...] = ("admin", "user")
_T = TypeVar("_T")


def _check_fingerprint(fingerprint: bytes) -> None:
    if not isinstance(fingerprint, bytes) or len(fingerprint) != 32:
        raise InvalidArgument("a fingerprint is 32 raw bytes (SHA-256 of the SPKI)")


def _clean_name(name: str) -> str:
    if not isinstance(name, str):
        raise InvalidArgument("name must be a string")
    return name[:MAX_NAME_LENGTH]


@dataclass(frozen=True, kw_only=True)
class TrustedController:
    """A controller the device trusts (device side)."""

    fingerprint: bytes
    name: str
    role: Role
    paired_at: float
    last_seen: float

    @property
    def fingerprint_text(self) -> str:
        return fingerprint_text(self.fingerprint)


@dataclass(frozen=True, kw_only=True)
class PinnedDevice:
    """A device the controller has paired with and pinned (controller side)."""

    fingerprint: bytes
    name: str
    discriminator: int | None
    addresses: tuple[str, ...]
    port: int | None
    paired_at: float
    last_seen: float

    @property
    def fingerprint_text(self) -> str:
        return fingerprint_text(self.fingerprint)


def named_by(
    query: str,
    items: Sequence[_T],
    *,
    name: Callable[[_T], str],
    fingerprint: Callable[[_T], str],
    also: Callable[[_T], bool] | None = None,
) -> list[_T]:
    """What ``query`` names among ``items`` (paired devices, a device's controllers).

    Tried in order, the first step with matches deciding: the exact name; the name ignoring case;
    then together a fingerprint-text prefix (at least 4 characters) and ``also``. Returns that step's
    matches (several: the query is ambiguous), or an empty list.
    """
    query = query.strip()
    loose = [i for i in items if len(query) >= MIN_FINGERPRINT_PREFIX and fingerprint(i).startswith(query)]
    if also is not None:
        loose += [i for i in items if also(i) and i not in loose]
    steps = (
        [i for i in items if name(i) == query],
        [i for i in items if name(i).casefold() == query.casefold()],
        loose,
    )
    return next((matches for matches in steps if matches), [])


# -- file handling shared by both stores ----------------------------------------------------------


def _remove_own_temporaries(path: Path) -> None:
    """Delete temp files that a killed writer of ``path`` left (only this file's, not others')."""
    if not path.parent.is_dir():
        return
    for entry in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            _log.info("removed stale temporary file %s", entry)


def _load_entries(path: Path, key: str) -> list[dict[str, Any]]:
    _remove_own_temporaries(path)
    with contextlib.suppress(FileNotFoundError):
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise StateError(f"{path} is accessible to other users (mode {mode & 0o777:o}): chmod 600 it")
    document = read_json(path)
    if document is None:
        return []
    if not isinstance(document, dict):
        raise StateError(f"{path} is corrupt: not a JSON object")
    version = document.get("version")
    if version != STORE_VERSION:
        raise StateError(f"{path} has version {version!r}; this device_sdk reads version {STORE_VERSION}")
    entries = document.get(key)
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise StateError(f"{path} is corrupt: {key!r} is not a list of objects")
    return entries


def _number(entry: dict[str, Any], name: str) -> float:
    value = entry.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"{name} is not a number")
    return float(value)


def _string(entry: dict[str, Any], name: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str):
        raise InvalidArgument(f"{name} is not a string")
    return value


class _Store:
    """What both stores share: the path and the once-a-minute last_seen write policy."""

    def __init__(self, path: Path, *, background: StateWriterThread | None = None) -> None:
        self.path = Path(path)
        self._persisted_seen: dict[bytes, float] = {}
        self._writer = StateWriter(self.path, background=background)

    def _save_entries(self, key: str, entries: list[dict[str, Any]], *, sync: bool = False) -> None:
        self._writer.write_json({"version": STORE_VERSION, key: entries}, sync=sync)

    def flush(self) -> None:
        """Return once every change is on disk (with background writes, they land a little later)."""
        self._writer.flush()

    def shutdown(self) -> None:
        """Flush and stop the background writer, if any (later writes are synchronous)."""
        self._writer.close()

    def _corrupt(self, index: int, exc: Exception) -> StateError:
        return StateError(f"{self.path} is corrupt: entry {index}: {exc}")

    def _due(self, fingerprint: bytes, now: float) -> bool:
        last = self._persisted_seen.get(fingerprint)
        return last is None or now - last >= TOUCH_INTERVAL or now < last


# -- device side ----------------------------------------------------------------------------------


class DeviceTrustStore(_Store):
    """The controllers a device trusts, in ``path`` (usually ``<state>/trust.json``).

    The file is read when the store is created; every change is written through at once, except
    ``touch`` (last-seen times), which writes at most once a minute per controller. With
    ``background`` (the owner's :class:`~device_sdk.storage.statefile.StateWriterThread`) the writes
    (and their fsyncs) happen on that thread, so that an event loop serving other controllers never
    waits for the disk; :meth:`flush` waits for them. Revocations
    (:meth:`remove`, :meth:`clear`, :meth:`set_role`) are always on disk when the call returns: they
    are acknowledged right after, and a power cut must not bring a removed controller back.
    """

    _KEY = "controllers"

    def __init__(self, path: Path, *, background: StateWriterThread | None = None) -> None:
        super().__init__(path, background=background)
        self._entries: dict[bytes, TrustedController] = {}
        for index, raw in enumerate(_load_entries(self.path, self._KEY)):
            try:
                role = _string(raw, "role")
                if role not in _ROLES:
                    raise InvalidArgument(f"unknown role {role!r}")
                entry = TrustedController(
                    fingerprint=fingerprint_from_text(_string(raw, "fingerprint")),
                    name=_string(raw, "name"),
                    role="admin" if role == "admin" else "user",
                    paired_at=_number(raw, "paired_at"),
                    last_seen=_number(raw, "last_seen"),
                )
            except ValueError as exc:
                raise self._corrupt(index, exc) from None
            if entry.fingerprint in self._entries:
                raise self._corrupt(index, ValueError("duplicate fingerprint"))
            self._entries[entry.fingerprint] = entry
        self._persisted_seen = {fp: e.last_seen for fp, e in self._entries.items()}

    def _save(self, *, sync: bool = False) -> None:
        self._save_entries(
            self._KEY,
            [
                {
                    "fingerprint": e.fingerprint_text,
                    "name": e.name,
                    "role": e.role,
                    "paired_at": e.paired_at,
                    "last_seen": e.last_seen,
                }
                for e in self._entries.values()
            ],
            sync=sync,
        )
        self._persisted_seen = {fp: e.last_seen for fp, e in self._entries.items()}

    @property
    def has_admin(self) -> bool:
        """True when at least one trusted controller is an admin."""
        return any(e.role == "admin" for e in self._entries.values())

    def add(self, fingerprint: bytes, name: str, now: float) -> TrustedController:
        """Trust a newly paired controller and return its entry.

        It becomes an admin when the store has no admin (so the first controller ever paired, or
        the first after a factory reset), else a user. Pairing an already trusted controller again
        keeps its role and pairing time and updates its name and last-seen time.
        """
        _check_fingerprint(fingerprint)
        name = _clean_name(name)
        existing = self._entries.get(fingerprint)
        if existing is not None:
            entry = replace(existing, name=name, last_seen=now)
        else:
            role: Role = "user" if self.has_admin else "admin"
            entry = TrustedController(fingerprint=fingerprint, name=name, role=role, paired_at=now, last_seen=now)
        self._entries[fingerprint] = entry
        self._save()
        _log.info("trusting controller %s… as %s", entry.fingerprint_text[:8], entry.role)
        return entry

    def get(self, fingerprint: bytes) -> TrustedController | None:
        """The entry for ``fingerprint``, or ``None``."""
        return self._entries.get(fingerprint)

    def is_trusted(self, fingerprint: bytes) -> bool:
        """True when ``fingerprint`` belongs to a trusted controller."""
        return fingerprint in self._entries

    def touch(self, fingerprint: bytes, now: float) -> TrustedController:
        """Record that the controller was seen at ``now``; :class:`NotPaired` when unknown.

        The time is kept in memory at once but written to the file at most once a minute per
        controller (and with any other change).
        """
        existing = self._entries.get(fingerprint)
        if existing is None:
            raise NotPaired("this controller is not trusted by the device")
        entry = replace(existing, last_seen=max(existing.last_seen, now))
        self._entries[fingerprint] = entry
        if self._due(fingerprint, now):
            self._save()
        return entry

    def remove(self, fingerprint: bytes) -> bool:
        """Stop trusting a controller; ``False`` when it was not trusted."""
        if self._entries.pop(fingerprint, None) is None:
            return False
        self._save(sync=True)
        return True

    def set_role(self, fingerprint: bytes, role: Role) -> TrustedController:
        """Make a trusted controller an ``"admin"`` or a ``"user"``; :class:`NotPaired` when unknown."""
        if role not in _ROLES:
            raise InvalidArgument(f"role must be 'admin' or 'user', got {role!r}")
        existing = self._entries.get(fingerprint)
        if existing is None:
            raise NotPaired("this controller is not trusted by the device")
        entry = replace(existing, role=role)
        self._entries[fingerprint] = entry
        self._save(sync=True)
        return entry

    def list(self) -> list[TrustedController]:
        """Every trusted controller, oldest pairing first."""
        return sorted(self._entries.values(), key=lambda e: (e.paired_at, e.fingerprint))

    def clear(self) -> None:
        """Forget every controller (factory reset); on disk when this returns."""
        self._entries.clear()
        self._save(sync=True)

    def __len__(self) -> int:
        return len(self._entries)


# -- controller side ------------------------------------------------------------------------------


class ControllerPinStore(_Store):
    """The devices a controller has paired with, in ``path`` (usually ``<state>/devices.json``)."""

    _KEY = "devices"

    def __init__(self, path: Path, *, background: StateWriterThread | None = None) -> None:
        super().__init__(path, background=background)
        self._entries: dict[bytes, PinnedDevice] = {}
        for index, raw in enumerate(_load_entries(self.path, self._KEY)):
            try:
                entry = self._parse(raw)
            except ValueError as exc:
                raise self._corrupt(index, exc) from None
            if entry.fingerprint in self._entries:
                raise self._corrupt(index, ValueError("duplicate fingerprint"))
            self._entries[entry.fingerprint] = entry
        self._persisted_seen = {fp: e.last_seen for fp, e in self._entries.items()}

    @staticmethod
    def _parse(raw: dict[str, Any]) -> PinnedDevice:
        discriminator = raw.get("discriminator")
        if discriminator is not None and (
            isinstance(discriminator, bool) or not isinstance(discriminator, int) or not 0 <= discriminator < 4096
        ):
            raise InvalidArgument("discriminator is not 0..4095")
        addresses = raw.get("addresses", [])
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise InvalidArgument("addresses is not a list of strings")
        port = raw.get("port")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
            raise InvalidArgument("port is not 1..65535")
        return PinnedDevice(
            fingerprint=fingerprint_from_text(_string(raw, "fingerprint")),
            name=_string(raw, "name"),
            discriminator=discriminator,
            addresses=tuple(addresses),
            port=port,
            paired_at=_number(raw, "paired_at"),
            last_seen=_number(raw, "last_seen"),
        )

    def _save(self, *, sync: bool = False) -> None:
        self._save_entries(
            self._KEY,
            [
                {
                    "fingerprint": e.fingerprint_text,
                    "name": e.name,
                    "discriminator": e.discriminator,
                    "addresses": list(e.addresses),
                    "port": e.port,
                    "paired_at": e.paired_at,
                    "last_seen": e.last_seen,
                }
                for e in self._entries.values()
            ],
            sync=sync,
        )
        self._persisted_seen = {fp: e.last_seen for fp, e in self._entries.items()}

    def add(
        self,
        fingerprint: bytes,
        name: str,
        *,
        now: float,
        discriminator: int | None = None,
        addresses: tuple[str, ...] = (),
        port: int | None = None,
    ) -> PinnedDevice:
        """Pin a newly paired device and return its entry.

        Pinning a device again (same fingerprint) keeps its pairing time and replaces the rest.
        """
        _check_fingerprint(fingerprint)
        existing = self._entries.get(fingerprint)
        entry = self._validated(
            PinnedDevice(
                fingerprint=fingerprint,
                name=_clean_name(name),
                discriminator=discriminator,
                addresses=tuple(addresses),
                port=port,
                paired_at=existing.paired_at if existing is not None else now,
                last_seen=now,
            )
        )
        self._entries[fingerprint] = entry
        self._save()
        return entry

    def update(
        self,
        fingerprint: bytes,
        *,
        name: str | None = None,
        discriminator: int | None = None,
        addresses: tuple[str, ...] | None = None,
        port: int | None = None,
        now: float | None = None,
    ) -> PinnedDevice:
        """Change the given fields of a pinned device; :class:`DeviceNotFound` when not pinned.

        ``now`` sets the last-seen time. The file is rewritten only when something changed.
        """
        existing = self._entries.get(fingerprint)
        if existing is None:
            raise DeviceNotFound("no pinned device has this fingerprint")
        entry = self._validated(
            replace(
                existing,
                name=existing.name if name is None else _clean_name(name),
                discriminator=existing.discriminator if discriminator is None else discriminator,
                addresses=existing.addresses if addresses is None else tuple(addresses),
                port=existing.port if port is None else port,
                last_seen=existing.last_seen if now is None else max(existing.last_seen, now),
            )
        )
        if entry != existing:
            self._entries[fingerprint] = entry
            if replace(entry, last_seen=existing.last_seen) != existing or self._due(fingerprint, entry.last_seen):
                self._save()
        return entry

    def touch(self, fingerprint: bytes, now: float) -> PinnedDevice:
        """Record that the device was seen; written at most once a minute per device."""
        return self.update(fingerprint, now=now)

    @staticmethod
    def _validated(entry: PinnedDevice) -> PinnedDevice:
        try:
            return ControllerPinStore._parse(
                {
                    "fingerprint": entry.fingerprint_text,
                    "name": entry.name,
                    "discriminator": entry.discriminator,
                    "addresses": list(entry.addresses),
                    "port": entry.port,
                    "paired_at": entry.paired_at,
                    "last_seen": entry.last_seen,
                }
            )
        except ValueError as exc:
            raise InvalidArgument(f"invalid device entry: {exc}") from None

    def get(self, fingerprint: bytes) -> PinnedDevice | None:
        """The entry for ``fingerprint``, or ``None``."""
        return self._entries.get(fingerprint)

    def remove(self, fingerprint: bytes) -> bool:
        """Unpin a device (on disk when this returns); ``False`` when it was not pinned."""
        if self._entries.pop(fingerprint, None) is None:
            return False
        self._save(sync=True)
        return True

    def list(self) -> list[PinnedDevice]:
        """Every pinned device, oldest pairing first."""
        return sorted(self._entries.values(), key=lambda e: (e.paired_at, e.fingerprint))

    def find(self, query: str) -> PinnedDevice:
        """The one pinned device that ``query`` names.

        Tried in order, the first step with matches deciding: the exact name; the name ignoring
        case; then together a fingerprint-text prefix (at least 4 characters) and a discriminator
        (decimal). Several matches in the deciding step raise :class:`AmbiguousDevice` listing them;
        none at all raises :class:`DeviceNotFound`.
        """
        query = query.strip()
        by_discriminator = query.isascii() and query.isdigit() and len(query) <= 4
        matches = named_by(
            query,
            self.list(),
            name=lambda d: d.name,
            fingerprint=lambda d: d.fingerprint_text,
            also=lambda d: by_discriminator and d.discriminator == int(query),
        )
        if len(matches) == 1:
            return matches[0]
        if matches:
            listing = ", ".join(f"{d.name!r} ({fingerprint_text(d.fingerprint)[:8]}…)" for d in matches)
            raise AmbiguousDevice(
                f"{query!r} matches {len(matches)} devices: {listing}; be more specific", tuple(matches)
            )
        raise DeviceNotFound(
            f"no paired device matches {query!r} (by name, fingerprint prefix of 4+ characters, or discriminator)"
        )

    def __len__(self) -> int:
        return len(self._entries)
