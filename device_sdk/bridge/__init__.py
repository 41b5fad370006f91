"""The MQTT bridge: every device a controller has paired, on an MQTT broker, with Home Assistant discovery.

Needs the ``mqtt`` extra (``pip install 'device_sdk[mqtt]'``) for :class:`MqttBridge`; the rest (the
catalog-to-discovery mapping, the topic layout, the sans-I/O :class:`BridgeCore`) is pure and imports no
MQTT client. docs/home-assistant.md has the topic layout and the rules.

::

    from device_sdk import Controller, ControllerConfig
    from device_sdk.bridge import BridgeConfig, MqttBridge

    async with Controller(ControllerConfig(state_dir=Path("/var/lib/hub"))) as controller:
        await MqttBridge(controller, BridgeConfig(broker="mqtt://localhost")).run()
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .config import BridgeConfig, parse_broker_url, read_password_file
from .core import (
    Action,
    BridgeCore,
    ConnectDevice,
    DisconnectDevice,
    Peer,
    Publish,
    RunCommand,
    Subscribe,
    WatchChannels,
)
from .discovery import (
    ChannelPlan,
    DeviceIdentity,
    DeviceMapping,
    component_payloads,
    discovery_payload,
    map_catalog,
)
from .payloads import CommandRejected, decode_action, decode_set, encode_event, encode_state
from .topics import Topics, channel_token, device_id

if TYPE_CHECKING:
    from .runner import MqttBridge
else:  # imported when first read (device_sdk/_lazy.py): it needs aiomqtt, the mqtt extra
    from .._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(__name__, {".runner": ("MqttBridge",)})

__all__ = [
    "Action",
    "BridgeConfig",
    "BridgeCore",
    "ChannelPlan",
    "CommandRejected",
    "ConnectDevice",
    "DeviceIdentity",
    "DeviceMapping",
    "DisconnectDevice",
    "MqttBridge",
    "Peer",
    "Publish",
    "RunCommand",
    "Subscribe",
    "Topics",
    "WatchChannels",
    "channel_token",
    "component_payloads",
    "decode_action",
    "decode_set",
    "device_id",
    "discovery_payload",
    "encode_event",
    "encode_state",
    "map_catalog",
    "parse_broker_url",
    "read_password_file",
]
