"""The bridge's MQTT topic layout and the ids it derives from devices and channels (pure).

With the default prefixes (``--base-topic device_sdk``, ``--discovery-prefix homeassistant``)::

    device_sdk/bridge/<bridge id>/status          online | offline   retained; "offline" is the last will
    device_sdk/bridge/<bridge id>/devices         {"devices": [<device id>, ...]}   retained (for clean-up)
    device_sdk/<device id>/availability           online | offline   retained
    device_sdk/<device id>/<channel>/state        a sensor reading or an actuator's confirmed state
    device_sdk/<device id>/<channel>/event        an input channel's event (JSON)
    device_sdk/<device id>/<channel>/set          command: set the actuator (payload: the value)
    device_sdk/<device id>/<channel>/do           command: run an action (payload: the action's name)
    homeassistant/device/<device id>/config       Home Assistant device discovery   retained
    homeassistant/<platform>/<device id>/<entity>/config   the same, one per entity (--discovery component)
    homeassistant/status                          Home Assistant's birth and last will

A device id is ``dsdk_`` and the first 16 bytes of the device's SPKI fingerprint in hex: it never changes
when the device is renamed, and every unique id of its entities starts with it. A channel's topic level
(its *token*) is its name when the name has only ``[A-Za-z0-9_-]``; other names get a readable slug and
8 hex digits of their SHA-256 so that no two names share a token.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Final, Literal

DEVICE_ID_PREFIX: Final = "dsdk_"
DEVICE_ID_BYTES: Final = 16
"""Bytes of the SPKI fingerprint in a device id: 128 bits, collision-free for any fleet."""
DEVICE_ID_RE: Final = re.compile(rf"{DEVICE_ID_PREFIX}[0-9a-f]{{{2 * DEVICE_ID_BYTES}}}")
_SAFE_TOKEN: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TOPIC_LEVEL: Final = re.compile(r"[A-Za-z0-9_-]+")
_UNSAFE_RUN: Final = re.compile(r"[^A-Za-z0-9]+")
_TOPIC_FORBIDDEN: Final = re.compile(r"[+#\x00]")

CommandKind = Literal["set", "do"]


def device_id(fingerprint: bytes) -> str:
    """The bridge's id of a device: stable across renames, safe in topics and Home Assistant ids."""
    return DEVICE_ID_PREFIX + fingerprint[:DEVICE_ID_BYTES].hex()


def channel_token(name: str) -> str:
    """A channel name as one topic level and id part (``[A-Za-z0-9_-]``, injective in practice)."""
    if _SAFE_TOKEN.fullmatch(name):
        return name
    slug = _UNSAFE_RUN.sub("_", name).strip("_")[:40] or "channel"
    return f"{slug}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def check_topic_prefix(prefix: str, what: str) -> str:
    """``prefix`` without surrounding slashes; ValueError when MQTT cannot use it as a topic prefix."""
    cleaned = prefix.strip("/")
    if not cleaned or _TOPIC_FORBIDDEN.search(cleaned) or "//" in cleaned:
        raise ValueError(f"the {what} {prefix!r} is not a usable MQTT topic prefix (no '+', '#' or empty levels)")
    if len(cleaned.encode()) > 512:
        raise ValueError(f"the {what} is too long")
    return cleaned


@dataclass(frozen=True, slots=True)
class CommandTopic:
    """A parsed command topic: which device, which channel token, set or do."""

    device_id: str
    token: str
    kind: CommandKind


@dataclass(frozen=True, kw_only=True)
class Topics:
    """The topics of one bridge (see the module docstring)."""

    base: str = "device_sdk"
    """The prefix of every topic the bridge owns (``--base-topic``)."""
    discovery_prefix: str = "homeassistant"
    """Home Assistant's discovery prefix (``--discovery-prefix``)."""
    bridge_id: str = "bridge"
    """This bridge's id (from the MQTT client id): several bridges may share a broker."""

    @property
    def bridge_status(self) -> str:
        return f"{self.base}/bridge/{self.bridge_id}/status"

    @property
    def bridge_devices(self) -> str:
        return f"{self.base}/bridge/{self.bridge_id}/devices"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"

    def discovery(self, dev: str) -> str:
        return f"{self.discovery_prefix}/device/{dev}/config"

    def component_discovery(self, platform: str, dev: str, component_id: str) -> str:
        """One entity's discovery topic (``--discovery component``, Home Assistant before 2024.12)."""
        return f"{self.discovery_prefix}/{platform}/{dev}/{component_id}/config"

    def is_component_discovery(self, topic: str, dev: str) -> bool:
        """Whether ``topic`` is an entity discovery topic of device ``dev`` (for clean-up lists)."""
        parts = topic.split("/")
        prefix = self.discovery_prefix.split("/")
        return (
            len(parts) == len(prefix) + 4
            and parts[: len(prefix)] == prefix
            and parts[-3] == dev
            and parts[-1] == "config"
            and bool(_TOPIC_LEVEL.fullmatch(parts[-4]))
            and bool(_TOPIC_LEVEL.fullmatch(parts[-2]))
        )

    def availability(self, dev: str) -> str:
        return f"{self.base}/{dev}/availability"

    def state(self, dev: str, token: str) -> str:
        return f"{self.base}/{dev}/{token}/state"

    def event(self, dev: str, token: str) -> str:
        return f"{self.base}/{dev}/{token}/event"

    def command(self, dev: str, token: str, kind: CommandKind) -> str:
        return f"{self.base}/{dev}/{token}/{kind}"

    def subscriptions(self) -> tuple[str, ...]:
        """What the bridge subscribes to: commands, Home Assistant's status and its own device list."""
        return (f"{self.base}/+/+/set", f"{self.base}/+/+/do", self.ha_status, self.bridge_devices)

    def parse_command(self, topic: str) -> CommandTopic | None:
        """The command a topic addresses, or None when it is not a command topic of this layout."""
        prefix = self.base + "/"
        if not topic.startswith(prefix):
            return None
        parts = topic[len(prefix) :].split("/")
        if len(parts) != 3 or parts[2] not in ("set", "do"):
            return None
        kind: CommandKind = "set" if parts[2] == "set" else "do"
        return CommandTopic(device_id=parts[0], token=parts[1], kind=kind)


def bridge_id_from(client_id: str) -> str:
    """A client id as a topic level: characters MQTT topics or Home Assistant ids dislike become ``_``."""
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", client_id)[:64]
    return cleaned or "bridge"
