"""Explicit configuration of a device and of a controller (frozen dataclasses, no globals)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .pairing.window import PairingMode
from .transport import TransportConfig

DEFAULT_DEVICE_NAME = "device_sdk device"
"""The name and model of a device configured with neither and with none stored."""


@dataclass(frozen=True, kw_only=True)
class DeviceConfig:
    """Everything a :class:`~device_sdk.Device` needs to know; nothing is read from the working directory."""

    state_dir: Path
    """Where the identity, setup code, trust store and pairing-window state live (created 0700)."""
    name: str | None = None
    """The display name, advertised as the mDNS instance name. None keeps the name stored in
    ``state_dir`` (a device is never renamed by starting it without one), else ``DEFAULT_DEVICE_NAME``."""
    model: str | None = None
    """The model name (agent-info, certificate issuer). None: the stored one, else ``DEFAULT_DEVICE_NAME``."""
    board: str | None = None
    """A board profile name or path (``sim``, ``pi-4b``, ...); None runs without hardware."""
    pin_factory: str | None = None
    """gpiozero pin factory (``lgpio``, ``mock``...); None: ``GPIOZERO_PIN_FACTORY`` or the board's."""
    host: str = "::"
    """Address the QUIC server binds (``::`` is every IPv4 and IPv6 address)."""
    port: int = 0
    """UDP port of the QUIC server; 0 picks a free one."""
    interfaces: tuple[str, ...] | None = None
    """Interfaces (names or addresses) to advertise on; None for all."""
    advertise: bool = True
    """Publish the device over mDNS/DNS-SD."""
    pairing_mode: PairingMode = PairingMode.STICKER
    """sticker (setup code), display (fresh PIN shown per attempt) or button (PSK 0)."""
    window_s: float = 900.0
    """How long the pairing window stays open, 180..900 s."""
    open_window: bool = False
    """Open the pairing window at start even when a controller is paired."""
    setup_code: int | None = None
    """Override the factory passcode (sticker mode)."""
    discriminator: int | None = None
    """Override the factory discriminator."""
    ready_file: Path | None = None
    """Write this JSON file (port, fp, name, sn, at, cm) once serving, and whenever it changes."""
    locales: tuple[str, ...] = ("en",)
    """Locales of agent-info."""
    transport: TransportConfig = field(default_factory=TransportConfig)

    def __post_init__(self) -> None:
        if not 180 <= self.window_s <= 900:
            raise ConfigError(f"window_s must be 180..900 seconds (3..15 min), got {self.window_s:g}")
        if not 0 <= self.port < 65536:
            raise ConfigError(f"port {self.port} is not in 0..65535")
        if self.name is not None and not self.name.strip():
            raise ConfigError("the device name must not be empty")


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


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML config file for ``device-sdk run``; keys are DeviceConfig field names."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    section = data.get("device", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [device] must be a table")
    known = {f.name for f in fields(DeviceConfig)} - {"transport"}
    unknown = set(section) - known
    if unknown:
        raise ConfigError(f"{path}: unknown keys {', '.join(sorted(unknown))}")
    return dict(section)


def device_config_from(values: dict[str, Any]) -> DeviceConfig:
    """Build a DeviceConfig from plain values (a config file merged with command-line options)."""
    v = dict(values)
    try:
        if "state_dir" in v:
            v["state_dir"] = Path(v["state_dir"])
        if v.get("ready_file") is not None:
            v["ready_file"] = Path(v["ready_file"])
        if v.get("interfaces") is not None:
            v["interfaces"] = tuple(v["interfaces"])
        if "pairing_mode" in v:
            v["pairing_mode"] = PairingMode(v["pairing_mode"])
        if "locales" in v:
            v["locales"] = tuple(v["locales"])
        return DeviceConfig(**v)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None


__all__ = ["ControllerConfig", "DeviceConfig", "device_config_from", "load_config_file", "replace"]
