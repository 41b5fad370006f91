"""What a device publishes about itself: its agent-info, its TXT record, the metadata version ``mv``
and the ready file.

:class:`DeviceMetadata` holds what belongs to the publishing itself (the state token, ``mv``, where the
ready file goes); the device hands it the values of the moment as a :class:`Published` snapshot, and
gets back what to advertise. It never reads the device.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..discovery import DeviceRecord
from ..errors import StateError
from ..storage.statefile import read_json, write_json
from ..wire import CAP_DATA_CHANNELS, CAP_DEVICE_SDK_CHANNELS, AgentInfo

__all__ = ["MV_BLOCK", "DeviceMetadata", "Published", "new_state_token"]

MV_BLOCK = 1024
"""How many ``mv`` values a device reserves in its state file at a time (see :class:`DeviceMetadata`)."""

_TOKEN_ALPHABET = string.ascii_letters + string.digits


def new_state_token() -> str:
    """agent-info state-token: 8 characters [0-9A-Za-z], new at each start."""
    return "".join(secrets.choice(_TOKEN_ALPHABET) for _ in range(8))


@dataclass(frozen=True, kw_only=True)
class Published:
    """The values a device publishes at one moment."""

    fp: str
    """The device's fingerprint as text (TXT ``fp``)."""
    sn: str
    """Its certificate's serial number (TXT ``sn``)."""
    instance_name: str
    """Its mDNS instance name (the display name, numbered after a conflict)."""
    at: str
    """The pairing window's auth-initiation token."""
    cm: bool
    """Whether the pairing window is open now."""
    discriminator: int
    """The setup code's discriminator."""
    advertise_discriminator: bool
    """Whether TXT carries ``d`` (sticker mode: the code on the sticker has it)."""
    port: int | None
    """The QUIC server's UDP port; None before it serves."""


class DeviceMetadata:
    """The device's published metadata (see the module docstring).

    ``locales`` go into agent-info; ``ready_file`` (None: none) is rewritten by :meth:`write_ready_file`.

    ``mv`` never goes down, across restarts too (a restart changes agent-info's state token, and a
    controller that caches by ``mv`` must see that): ``version_file`` (None: nothing kept, ``mv`` starts at 1)
    holds the highest value reserved so far. A device starts above it and reserves :data:`MV_BLOCK` values
    at a time, so the file is written once at start and again only every :data:`MV_BLOCK` changes; a crash
    loses at most the unused rest of a block.
    """

    def __init__(self, *, locales: tuple[str, ...], ready_file: Path | None, version_file: Path | None = None) -> None:
        self.locales = locales
        self.ready_file = ready_file
        self.state_token = new_state_token()
        """agent-info's state-token, new at each start."""
        self._version_file = version_file
        self._reserved = _read_reserved(version_file) if version_file is not None else 0
        self.version = self._reserved + 1
        """TXT ``mv``: increases whenever agent-info or the channel catalog changes, and at each start."""
        self._reserve()

    def changed(self) -> None:
        """agent-info or the catalog changed: bump ``mv``."""
        self.version += 1
        self._reserve()

    def _reserve(self) -> None:
        if self._version_file is None or self.version <= self._reserved:
            return
        self._reserved = self.version + MV_BLOCK - 1
        write_json(self._version_file, {"mv_reserved": self._reserved})

    def agent_info(self, *, name: str, model: str) -> AgentInfo:
        """The device's agent-info."""
        return AgentInfo(
            display_name=name,
            model_name=model,
            capabilities=(CAP_DATA_CHANNELS, CAP_DEVICE_SDK_CHANNELS),
            state_token=self.state_token,
            locales=self.locales,
        )

    def txt_record(self, values: Published) -> DeviceRecord:
        """The TXT record for ``values``."""
        return DeviceRecord(
            fp=values.fp,
            mv=self.version,
            at=values.at,
            sn=values.sn,
            d=values.discriminator if values.advertise_discriminator else None,
            cm=values.cm,
        )

    def ready_document(self, values: Published) -> dict[str, Any]:
        """The ready file's content (port, fp, name, sn, at, cm, d, mv)."""
        return {
            "port": values.port,
            "fp": values.fp,
            "name": values.instance_name,
            "sn": values.sn,
            "at": values.at,
            "cm": 1 if values.cm else 0,
            "d": values.discriminator,
            "mv": self.version,
        }

    def write_ready_file(self, values: Published) -> None:
        """Rewrite the ready file (atomically) once the device serves; nothing without one."""
        if self.ready_file is None or values.port is None:
            return
        write_json(Path(self.ready_file), self.ready_document(values))


def _read_reserved(path: Path) -> int:
    data = read_json(path)
    if data is None:
        return 0
    reserved = data.get("mv_reserved") if isinstance(data, dict) else None
    if isinstance(reserved, bool) or not isinstance(reserved, int) or not 0 <= reserved < 2**62 - MV_BLOCK:
        raise StateError(f"{path} is corrupt: 'mv_reserved' is not a count")
    return reserved
