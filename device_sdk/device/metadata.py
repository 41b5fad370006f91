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
from ..storage.statefile import write_json
from ..wire import CAP_DATA_CHANNELS, CAP_DEVICE_SDK_CHANNELS, AgentInfo

__all__ = ["DeviceMetadata", "Published", "new_state_token"]

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
    """

    def __init__(self, *, locales: tuple[str, ...], ready_file: Path | None) -> None:
        self.locales = locales
        self.ready_file = ready_file
        self.state_token = new_state_token()
        """agent-info's state-token, new at each start."""
        self.version = 1
        """TXT ``mv``: increases whenever agent-info or the channel catalog changes."""

    def changed(self) -> None:
        """agent-info or the catalog changed: bump ``mv``."""
        self.version += 1

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
