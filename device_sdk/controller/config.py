"""Explicit configuration of a controller (a frozen dataclass, no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..transport import TransportConfig

__all__ = ["ControllerConfig"]


@dataclass(frozen=True, kw_only=True)
class ControllerConfig:
    """Configuration of a :class:`~device_sdk.Controller`."""

    state_dir: Path
    """Where the controller's identity and pinned devices live."""
    name: str = "device_sdk controller"
    """The controller's name, shown in the device's peer list."""
    interfaces: tuple[str, ...] | None = None
    """Interfaces (names or addresses) to browse on; None for all."""
    transport: TransportConfig = field(default_factory=TransportConfig)
    pair_timeout: float = 90.0
    """Give up a pairing after this many seconds."""
