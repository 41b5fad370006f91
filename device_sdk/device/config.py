"""Explicit configuration of a device (a frozen dataclass, no globals) and its config file for ``device-sdk run``."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..pairing.window import PairingMode
from ..transport import TransportConfig

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


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML config file for ``device-sdk run``; keys are DeviceConfig field names."""
    import tomllib  # only a device started from a config file reads TOML

    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"the config file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"the config file {path} is a directory: give the TOML file itself") from None
    except PermissionError:
        raise ConfigError(f"the config file {path} cannot be read by this user: fix its owner or mode") from None
    except OSError as exc:
        raise ConfigError(f"the config file {path} cannot be read ({exc.strerror or 'unknown reason'})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"the config file {path} is not UTF-8 text: it should be TOML") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"the config file {path} is not valid TOML ({exc}): fix that line") from None
    section = data.get("device", data)
    if not isinstance(section, dict):
        raise ConfigError(f"in {path}, [device] must be a table of settings")
    known = {f.name for f in fields(DeviceConfig)} - {"transport"}
    unknown = set(section) - known
    if unknown:
        raise ConfigError(
            f"{path} has settings device_sdk does not know: {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(known))})"
        )
    return dict(section)


_KINDS: dict[str, tuple[tuple[type, ...], str]] = {
    "state_dir": ((str, Path), "a path"),
    "ready_file": ((str, Path), "a path"),
    "name": ((str,), "text"),
    "model": ((str,), "text"),
    "board": ((str,), "a board name or profile path"),
    "pin_factory": ((str,), "a pin factory name"),
    "host": ((str,), "an address"),
    "port": ((int,), "a whole number"),
    "interfaces": ((list, tuple), "a list of interface names"),
    "advertise": ((bool,), "true or false"),
    "pairing_mode": ((str, PairingMode), "one of sticker, display, button"),
    "window_s": ((int, float), "a number of seconds"),
    "open_window": ((bool,), "true or false"),
    "setup_code": ((int,), "a whole number (the 8-digit passcode)"),
    "discriminator": ((int,), "a whole number 0..4095"),
    "locales": ((list, tuple), "a list of language tags"),
}
"""What each setting of a config file takes: the types accepted, and how to say so."""


def device_config_from(values: dict[str, Any]) -> DeviceConfig:
    """Build a DeviceConfig from plain values (a config file merged with command-line options);
    :class:`ConfigError` naming the setting when one has the wrong kind of value."""
    v = {k: val for k, val in values.items() if val is not None or k not in _KINDS}
    for key, value in v.items():
        accepted, what = _KINDS.get(key, ((object,), ""))
        wrong_bool = isinstance(value, bool) and bool not in accepted
        if wrong_bool or not isinstance(value, accepted):
            raise ConfigError(f"the setting {key} takes {what}, not {value!r}")
    if isinstance(v.get("pairing_mode"), str):
        try:
            v["pairing_mode"] = PairingMode(v["pairing_mode"])
        except ValueError:
            raise ConfigError(
                f"the setting pairing_mode takes {_KINDS['pairing_mode'][1]}, not {v['pairing_mode']!r}"
            ) from None
    for key in ("interfaces", "locales"):
        if key in v:
            if not all(isinstance(item, str) for item in v[key]):
                raise ConfigError(f"the setting {key} takes {_KINDS[key][1]}, not {v[key]!r}")
            v[key] = tuple(v[key])
    for key in ("state_dir", "ready_file"):
        if key in v:
            v[key] = Path(v[key])
    try:
        return DeviceConfig(**v)
    except TypeError as exc:  # a key DeviceConfig does not have (the file's keys are checked on reading)
        raise ConfigError(f"invalid configuration: {exc}") from None


__all__ = ["DEFAULT_DEVICE_NAME", "DeviceConfig", "device_config_from", "load_config_file"]
