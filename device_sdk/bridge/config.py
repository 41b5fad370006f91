"""Configuration of the MQTT bridge (a frozen dataclass, no globals) and the broker URL."""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit

from device_sdk import ConfigError, ReconnectPolicy

from .topics import check_topic_prefix

DEFAULT_PORTS: Final = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, kw_only=True)
class BridgeConfig:
    """Everything :class:`~device_sdk.bridge.MqttBridge` needs besides the :class:`~device_sdk.Controller`."""

    broker: str
    """``mqtt://HOST[:PORT]`` (1883 by default) or ``mqtts://HOST[:PORT]`` (TLS, 8883 by default)."""
    username: str | None = None
    """The broker user name, if the broker wants one."""
    password: str | None = field(default=None, repr=False)
    """The broker password (read from a file by the CLI; never logged, never in ``repr``)."""
    client_id: str | None = None
    """The MQTT client id, also this bridge's id in topics; None: ``device-sdk-bridge-`` and the first
    8 hex digits of the controller's fingerprint. Two bridges on one broker need two ids."""
    discovery_prefix: str = "homeassistant"
    """Home Assistant's discovery prefix (its MQTT integration's setting)."""
    base_topic: str = "device_sdk"
    """The prefix of every other topic of the bridge."""
    discovery: Literal["device", "component"] = "device"
    """``device``: one discovery message per device (Home Assistant 2024.12 and newer); ``component``:
    one per entity, for older releases."""
    ca_file: Path | None = None
    """For ``mqtts://``: the CA certificate (PEM) that signed the broker's; None trusts the system's CAs."""
    keepalive_s: int = 30
    """MQTT keep-alive: the broker publishes the bridge's last will within 1.5 times this after it is gone."""
    min_interval_ms: int | None = None
    """Ask sensors for at most one reading per this many ms (None: every reading the device produces)."""
    peer_poll_s: float = 1.0
    """How often the controller's pin store is asked whether devices were paired, unpaired or renamed (by
    this process or another, such as ``device-sdk pair``): its revision, which costs one ``stat``."""
    settle_s: float = 1.0
    """How long after announcing a device the last states are published again (Home Assistant subscribes
    to a new entity's state topic only after it processed the config)."""
    reconnect: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    """How devices that went away are reconnected."""
    broker_retry_max_s: float = 30.0
    """The longest wait between two attempts to reach the broker."""

    def __post_init__(self) -> None:
        self.address()  # raises ConfigError for a bad URL
        try:
            object.__setattr__(self, "discovery_prefix", check_topic_prefix(self.discovery_prefix, "discovery prefix"))
            object.__setattr__(self, "base_topic", check_topic_prefix(self.base_topic, "base topic"))
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if self.discovery not in ("device", "component"):
            raise ConfigError("discovery must be 'device' or 'component'")
        if self.base_topic == self.discovery_prefix:
            raise ConfigError("the base topic and the discovery prefix must differ")
        if not 5 <= self.keepalive_s <= 3600:
            raise ConfigError("the MQTT keep-alive must be 5..3600 seconds")
        if self.peer_poll_s <= 0 or self.settle_s < 0 or self.broker_retry_max_s <= 0:
            raise ConfigError("the bridge's intervals must be positive")
        if self.min_interval_ms is not None and self.min_interval_ms < 0:
            raise ConfigError("the minimum interval between readings cannot be negative")
        if self.password is not None and self.username is None:
            raise ConfigError("a broker password needs a user name (--username)")

    def address(self) -> tuple[str, int, bool]:
        """(host, port, TLS) of the broker URL; :class:`ConfigError` when it is not a usable one."""
        return parse_broker_url(self.broker)


def parse_broker_url(url: str) -> tuple[str, int, bool]:
    """``mqtt://HOST[:PORT]`` or ``mqtts://HOST[:PORT]`` -> (host, port, TLS)."""
    hint = "give the broker as mqtt://HOST[:PORT] or mqtts://HOST[:PORT]"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ConfigError(f"{url!r} is not a broker address: {hint}") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ConfigError(f"{url!r} is not a broker address: {hint}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(
            "put the broker's user name in --username and its password in --password-file, not in the URL"
        )
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"{url!r} has more than a host and port: {hint}")
    return parts.hostname, port or DEFAULT_PORTS[parts.scheme], parts.scheme == "mqtts"


def read_password_file(path: Path) -> tuple[str, bool]:
    """The password in ``path`` (its first line) and whether the file is readable by other users."""
    try:
        mode = path.stat().st_mode
        with path.open(encoding="utf-8") as f:
            line = f.readline()
    except FileNotFoundError:
        raise ConfigError(f"the password file {path} does not exist") from None
    except PermissionError:
        raise ConfigError(f"the password file {path} cannot be read by this user") from None
    except IsADirectoryError:
        raise ConfigError(f"the password file {path} is a directory") from None
    except (OSError, UnicodeDecodeError):
        raise ConfigError(f"the password file {path} cannot be read as text") from None
    password = line.rstrip("\r\n")
    if not password:
        raise ConfigError(f"the password file {path} is empty: write the password on its first line")
    return password, bool(mode & (stat.S_IRWXG | stat.S_IRWXO))
