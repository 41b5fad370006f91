"""The catalog channel, catalog changes and opening channels."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest

from device_sdk.channels import (
    ACTUATOR_PROTOCOL,
    ADMIN_PROTOCOL,
    CATALOG_PROTOCOL,
    INPUT_PROTOCOL,
    SENSOR_PROTOCOL,
    STREAM_PROTOCOL,
    CatalogChanged,
    CatalogSession,
    ChannelDescriptor,
    ChannelRegistry,
    FrameError,
    OpenRefused,
    PeerInfo,
    RegistryEvent,
    SessionReady,
    parse_catalog,
)
from device_sdk.errors import ConfigError

USER = PeerInfo(fp=bytes(32), role="user", name="phone")


def wire(frame: Any) -> Any:
    return cbor2.loads(cbor2.dumps(frame))


def build() -> ChannelRegistry:
    registry = ChannelRegistry(device_name="Kitchen", model="pi-kit", board="pi4", sdk="0.1.0", clock=lambda: 1.0)
    registry.sensor("temperature", unit="C", min=-40, max=85, rate_hz=10, description="air")
    registry.actuator("led", type="bool", initial=False, handler=lambda v: None)
    registry.actuator("feeder", actions={"feed": lambda: None})
    registry.stream("audio", format={"codec": "pcm_s16le", "rate": 16000, "channels": 1})
    registry.input("gamepad", rate_hz=500)
    return registry


def open_catalog(registry: ChannelRegistry) -> CatalogSession:
    session = registry.open_session("catalog", CATALOG_PROTOCOL, peer=USER, now=0.0)
    assert isinstance(session, CatalogSession)
    return session


def test_catalog_frame_on_open_parses_back() -> None:
    registry = build()
    session = open_catalog(registry)
    [frame] = [wire(f) for f in session.next_frames()]
    assert frame["device"] == {"name": "Kitchen", "model": "pi-kit", "board": "pi4", "sdk": "0.1.0"}
    assert frame["channels"][0] == {
        "name": "temperature",
        "kind": "sensor",
        "type": "float",
        "unit": "C",
        "min": -40,
        "max": 85,
        "rate_hz": 10,
        "description": "air",
    }
    catalog = parse_catalog(frame)
    assert [(c.name, c.kind, c.protocol) for c in catalog.channels] == [
        ("temperature", "sensor", SENSOR_PROTOCOL),
        ("led", "actuator", ACTUATOR_PROTOCOL),
        ("feeder", "actuator", ACTUATOR_PROTOCOL),
        ("audio", "stream", STREAM_PROTOCOL),
        ("gamepad", "input", INPUT_PROTOCOL),
    ]
    assert catalog["feeder"].actions == ("feed",)
    assert catalog["feeder"].values == ("feed",)
    assert catalog["audio"].extra["format"]["rate"] == 16000
    assert catalog.get("nothing") is None
    assert catalog == registry.catalog()


def test_catalog_changes_reach_open_channels_and_listeners() -> None:
    registry = build()
    events: list[RegistryEvent] = []
    registry.add_listener(events.append)
    session = open_catalog(registry)
    session.next_frames()
    version = registry.catalog_version
    registry.sensor("humidity", unit="%")
    registry.sensor("pressure")  # two changes before the pull: only the newest waits
    assert [e for e in events if isinstance(e, CatalogChanged)] == [
        CatalogChanged(version + 1),
        CatalogChanged(version + 2),
    ]
    assert any(isinstance(e, SessionReady) and e.session is session for e in events)
    frames = [wire(f) for f in session.next_frames()]
    assert len(frames) == 1
    assert [c["name"] for c in frames[0]["channels"]][-2:] == ["humidity", "pressure"]
    registry.remove("humidity")
    registry.set_device_name("Kitchen 2")
    registry.set_device_name("Kitchen 2")  # no change
    assert registry.catalog_version == version + 4
    frames = [wire(f) for f in session.next_frames()]
    assert len(frames) == 1 and frames[0]["device"]["name"] == "Kitchen 2"
    assert "humidity" not in [c["name"] for c in frames[0]["channels"]]


def test_listener_can_be_removed() -> None:
    registry = build()
    events: list[RegistryEvent] = []
    remove = registry.add_listener(events.append)
    remove()
    remove()
    registry.sensor("x")
    assert events == []


@pytest.mark.parametrize(
    ("label", "protocol", "role"),
    [
        ("nothing", SENSOR_PROTOCOL, "user"),
        ("temperature", ACTUATOR_PROTOCOL, "user"),
        ("led", SENSOR_PROTOCOL, "user"),
        ("audio", INPUT_PROTOCOL, "user"),
        ("catalog", SENSOR_PROTOCOL, "user"),
        ("admin", ADMIN_PROTOCOL, "admin"),  # no admin backend
        ("admin", CATALOG_PROTOCOL, "admin"),
    ],
)
def test_refused_opens(label: str, protocol: str, role: str) -> None:
    registry = build()
    peer = PeerInfo(fp=bytes(32), role="admin" if role == "admin" else "user")
    refused = registry.open_session(label, protocol, peer=peer, now=0.0)
    assert isinstance(refused, OpenRefused)
    assert refused.result == 102 and refused.label == label and refused.reason


@pytest.mark.parametrize("name", ["", "catalog", "admin", "temperature", "x" * 256])
def test_bad_channel_names(name: str) -> None:
    registry = build()
    with pytest.raises(ConfigError):
        registry.sensor(name)


def test_bad_declarations() -> None:
    registry = build()
    with pytest.raises(ConfigError):
        registry.sensor("a", type="complex")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        registry.sensor("b", min=5, max=1)
    with pytest.raises(ConfigError):
        registry.sensor("c", type="enum")
    with pytest.raises(ConfigError):
        registry.sensor("d", rate_hz="fast")  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        ChannelRegistry(device_name="", model="m")
    with pytest.raises(ConfigError):
        ChannelRegistry(device_name="n", model="m", sensor_queue=0)
    with pytest.raises(KeyError):
        registry.remove("nothing")


@pytest.mark.parametrize(
    "frame",
    [
        [],
        {"channels": []},
        {"device": {"name": "n"}, "channels": []},
        {"device": {"name": "n", "model": "m", "board": 3}, "channels": []},
        {"device": {"name": "n", "model": "m"}},
        {"device": {"name": "n", "model": "m"}, "channels": [{"name": "x", "kind": "gizmo", "type": "int"}]},
        {
            "device": {"name": "n", "model": "m"},
            "channels": [{"name": "x", "kind": "sensor", "type": "complex"}],
        },
        {"device": {"name": "n", "model": "m"}, "channels": [{"name": "", "kind": "sensor", "type": "int"}]},
        {
            "device": {"name": "n", "model": "m"},
            "channels": [{"name": "x", "kind": "sensor", "type": "int", "min": "0"}],
        },
        {
            "device": {"name": "n", "model": "m"},
            "channels": [{"name": "x", "kind": "sensor", "type": "int", "unit": 1}],
        },
        {
            "device": {"name": "n", "model": "m"},
            "channels": [{"name": "x", "kind": "sensor", "type": "enum", "values": [1]}],
        },
        {"device": {"name": "n", "model": "m"}, "channels": ["x"]},
    ],
)
def test_malformed_catalogs(frame: object) -> None:
    with pytest.raises(FrameError):
        parse_catalog(frame)


def test_descriptor_extensions_are_kept() -> None:
    frame = {"name": "x", "kind": "sensor", "type": "int", "vendor-thing": {"a": 1}, 7: "ignored"}
    descriptor = ChannelDescriptor.from_frame(frame)
    assert descriptor.extra == {"vendor-thing": {"a": 1}}
    assert descriptor.to_frame() == {"name": "x", "kind": "sensor", "type": "int", "vendor-thing": {"a": 1}}
