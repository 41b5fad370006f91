"""The bridge's sans-I/O core: events in, actions out, no broker, no device, no event loop."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from device_sdk.bridge import (
    Action,
    BridgeCore,
    ConnectDevice,
    DisconnectDevice,
    Peer,
    Publish,
    RunCommand,
    Subscribe,
    Topics,
    WatchChannels,
    device_id,
)
from device_sdk.channels import Catalog, ChannelRegistry

FP = bytes([7]) * 32
FP2 = bytes([9]) * 32
DEV = device_id(FP)
DEV2 = device_id(FP2)
T = Topics(bridge_id="b1")


def thermo(name: str = "Thermo") -> Catalog:
    registry = ChannelRegistry(device_name=name, model="Thermo v2", board="sim", sdk="0.1.0")
    registry.sensor("temperature", unit="C")
    registry.actuator("led", type="bool", initial=False, handler=lambda v: v, actions={"toggle": lambda: None})
    registry.actuator("level", type="int", initial=0, min=0, max=10, handler=lambda v: v)
    registry.input("trigger", type="bool")
    registry.input("pad")
    registry.stream("audio", format={"codec": "pcm_s16le"})
    return registry.catalog()


def publishes(actions: list[Action]) -> dict[str, Publish]:
    """The last publish per topic."""
    return {a.topic: a for a in actions if isinstance(a, Publish)}


def online_core(now: float = 0.0, **options: Any) -> BridgeCore:
    """A core with Thermo paired and online, its broker connected and its (absent) device list waited for."""
    core = BridgeCore(topics=T, settle_s=1.0, event_interval_s=0.5, manifest_wait_s=0.0, **options)
    core.peers_changed([Peer(FP, "Thermo")], now)
    core.broker_connected(now)
    core.handle_timers(now)  # no retained device list came
    core.device_online(FP, thermo(), now)
    return core


def test_a_paired_device_is_connected_announced_and_watched() -> None:
    core = BridgeCore(topics=T)
    actions = core.peers_changed([Peer(FP, "Thermo")], 0.0)
    assert actions == [ConnectDevice(FP)]  # not connected to the broker yet: nothing to publish
    actions = core.broker_connected(0.0)
    assert actions[0] == Subscribe(T.subscriptions())
    out = publishes(actions)
    assert out[T.bridge_status] == Publish(T.bridge_status, b"online", retain=True, qos=1)
    assert out[T.availability(DEV)] == Publish(T.availability(DEV), b"offline", retain=True, qos=1)
    assert T.discovery(DEV) not in out  # the catalog is not known yet
    assert core.next_deadline() == 2.0  # the wait for the bridge's retained device list
    out = publishes(core.handle_timers(2.0))
    assert json.loads(out[T.bridge_devices].payload) == {"discovery": "device", "devices": [DEV]}
    assert out[T.bridge_devices].retain

    actions = core.device_online(FP, thermo(), 3.0)
    watch = actions[0]
    assert watch == WatchChannels(FP, sensors=("temperature",), actuators=("led", "level"), inputs=("trigger", "pad"))
    out = publishes(actions)
    config = out[T.discovery(DEV)]
    assert config.retain and config.qos == 1
    body = json.loads(config.payload)
    assert body["device"]["name"] == "Thermo"
    assert set(body["components"]) == {"temperature", "led", "led__toggle", "level", "trigger", "pad"}
    assert out[T.availability(DEV)].payload == b"online" and out[T.availability(DEV)].retain


def test_configs_wait_for_the_old_device_list_so_that_stale_ones_go_first() -> None:
    core = BridgeCore(topics=T)
    core.peers_changed([Peer(FP, "Thermo")], 0.0)
    core.broker_connected(0.0)
    assert T.discovery(DEV) not in publishes(core.device_online(FP, thermo(), 0.1))
    manifest = json.dumps({"discovery": "device", "devices": [DEV, DEV2]}).encode()
    actions = core.message(T.bridge_devices, manifest, 0.2, retained=True)
    topics = [a.topic for a in actions if isinstance(a, Publish)]
    assert topics.index(T.discovery(DEV2)) < topics.index(T.discovery(DEV))  # removal, then announcement
    assert core.next_deadline() == 0.2 + 1.0  # the states again, once Home Assistant subscribed


def test_readings_and_confirmed_states_are_published_and_again_after_settling() -> None:
    core = online_core()
    assert core.reading(FP, "temperature", 21.5, 0.1) == [Publish(T.state(DEV, "temperature"), b"21.5")]
    assert core.actuator_state(FP, "led", True, 0.2) == [Publish(T.state(DEV, "led"), b"ON")]
    assert core.actuator_state(FP, "level", 3, 0.3) == [Publish(T.state(DEV, "level"), b"3")]
    assert core.reading(FP, "no-such-channel", 1, 0.3) == []
    assert core.reading(FP2, "temperature", 1, 0.3) == []  # not a paired device
    assert core.next_deadline() == 1.0  # settle_s after the announce
    again = publishes(core.handle_timers(1.0))
    assert again[T.state(DEV, "temperature")].payload == b"21.5"
    assert again[T.state(DEV, "led")].payload == b"ON"
    assert all(not p.retain for p in again.values())


def test_home_assistant_birth_announces_again_then_states() -> None:
    core = online_core()
    core.reading(FP, "temperature", 20.0, 0.1)
    core.handle_timers(5.0)
    assert core.message(T.ha_status, b"offline", 10.0) == []
    actions = core.message(T.ha_status, b"online", 10.0)
    out = publishes(actions)
    assert T.discovery(DEV) in out and out[T.availability(DEV)].payload == b"online"
    assert T.state(DEV, "temperature") not in out  # not yet: Home Assistant subscribes first
    assert core.next_deadline() == 11.0
    assert publishes(core.handle_timers(11.0))[T.state(DEV, "temperature")].payload == b"20.0"


def test_nothing_is_published_while_the_broker_is_away_and_everything_after() -> None:
    core = online_core()
    core.broker_disconnected()
    assert core.reading(FP, "temperature", 22.0, 1.0) == []
    assert core.shutdown() == []
    out = publishes(core.broker_connected(2.0) + core.handle_timers(2.0))
    assert {T.bridge_status, T.discovery(DEV), T.availability(DEV), T.bridge_devices} <= set(out)
    assert publishes(core.handle_timers(3.0))[T.state(DEV, "temperature")].payload == b"22.0"


def test_commands_run_one_at_a_time_and_the_newest_set_wins(caplog: pytest.LogCaptureFixture) -> None:
    core = online_core()
    assert core.message(T.command(DEV, "led", "set"), b"ON", 1.0) == [RunCommand(FP, "led", value=True)]
    assert core.message(T.command(DEV, "led", "set"), b"OFF", 1.1) == []  # waits
    assert core.message(T.command(DEV, "led", "set"), b"on", 1.2) == []  # replaces the waiting one
    assert core.message(T.command(DEV, "led", "do"), b"toggle", 1.3) == []
    assert core.message(T.command(DEV, "level", "set"), b"7", 1.4) == [RunCommand(FP, "level", value=7)]
    with caplog.at_level(logging.WARNING, "device_sdk.bridge"):
        assert core.command_done(FP, "led", "the device refused: busy", 2.0) == [RunCommand(FP, "led", value=True)]
    assert "Thermo: setting 'led' to true failed: the device refused: busy" in caplog.text
    assert core.command_done(FP, "led", None, 2.1) == [RunCommand(FP, "led", action="toggle")]
    assert core.command_done(FP, "led", None, 2.2) == []
    # the state comes only from the device: a command publishes nothing by itself
    assert all(not isinstance(a, Publish) for a in core.message(T.command(DEV, "led", "set"), b"OFF", 3.0))


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (T.command(DEV, "led", "set"), b"maybe", "expected ON or OFF, got 'maybe'"),
        (T.command(DEV, "led", "set"), b"\xff\xfe", "not UTF-8"),
        (T.command(DEV, "led", "set"), b"O" * 100_000, "more than the 4096 allowed"),
        (T.command(DEV, "level", "set"), b"2.5", "expected a whole number"),
        (T.command(DEV, "level", "set"), b"1e999", "expected a finite number"),
        (T.command(DEV, "level", "set"), b"NaN", "expected a finite number"),
        (T.command(DEV, "level", "set"), b"", "expected a number"),
        (T.command(DEV, "led", "do"), b"explode", "has no action 'explode'; it has toggle"),
        (T.command(DEV, "level", "do"), b"x", "'level' has no actions"),
        (T.command(DEV, "temperature", "set"), b"20", "'temperature' cannot be set"),
        (T.command(DEV, "nope", "set"), b"1", "has no channel 'nope'"),
    ],
)
def test_bad_commands_are_logged_with_the_reason_and_dropped(
    topic: str, payload: bytes, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    core = online_core()
    with caplog.at_level(logging.WARNING, "device_sdk.bridge"):
        assert core.message(topic, payload, 1.0) == []
    assert reason in caplog.text
    assert len(caplog.text) < 1000  # a huge payload is not copied into the log


def test_commands_for_other_bridges_devices_and_offline_devices(caplog: pytest.LogCaptureFixture) -> None:
    core = online_core()
    with caplog.at_level(logging.DEBUG, "device_sdk.bridge"):
        assert core.message(T.command(DEV2, "led", "set"), b"ON", 1.0) == []
        assert core.message("device_sdk/x/y/z/set", b"ON", 1.0) == []
        assert core.message("elsewhere/led/set", b"ON", 1.0) == []
    assert "not a device of this bridge" in caplog.text
    core.device_offline(FP, "lost contact", 2.0)
    with caplog.at_level(logging.WARNING, "device_sdk.bridge"):
        assert core.message(T.command(DEV, "led", "set"), b"ON", 3.0) == []
    assert "Thermo is offline: command for 'led' ignored" in caplog.text


def test_a_flood_of_bad_commands_is_logged_a_little(caplog: pytest.LogCaptureFixture) -> None:
    core = online_core()
    with caplog.at_level(logging.WARNING, "device_sdk.bridge"):
        for i in range(1000):
            core.message(T.command(DEV, "led", "set"), b"garbage", 1.0 + i * 0.001)
        core.message(T.command(DEV, "led", "set"), b"garbage", 100.0)
    records = [r for r in caplog.records if r.name.startswith("device_sdk.bridge")]
    assert len(records) <= 25
    assert "more warnings about bad commands were not logged" in caplog.text


def test_a_device_going_offline_and_back() -> None:
    core = online_core()
    core.message(T.command(DEV, "led", "set"), b"ON", 1.0)
    out = core.device_offline(FP, "lost contact with Thermo", 2.0)
    assert out == [Publish(T.availability(DEV), b"offline", retain=True, qos=1)]
    assert core.reading(FP, "temperature", 1.0, 2.1) == []
    assert core.command_done(FP, "led", "the device is offline", 2.2) == []
    assert not core.is_online(FP)
    back = publishes(core.device_online(FP, thermo(), 3.0))
    assert back[T.availability(DEV)].payload == b"online"
    assert core.message(T.command(DEV, "led", "set"), b"ON", 3.1) == [RunCommand(FP, "led", value=True)]


def test_unpairing_deletes_the_entities_and_updates_the_device_list() -> None:
    core = online_core()
    actions = core.peers_changed([], 3.0)
    assert DisconnectDevice(FP) in actions
    out = publishes(actions)
    assert out[T.discovery(DEV)] == Publish(T.discovery(DEV), b"", retain=True, qos=1)
    assert out[T.availability(DEV)] == Publish(T.availability(DEV), b"", retain=True, qos=1)
    assert json.loads(out[T.bridge_devices].payload) == {"discovery": "device", "devices": []}
    assert core.message(T.command(DEV, "led", "set"), b"ON", 4.0) == []
    assert core.reading(FP, "temperature", 1.0, 4.0) == []


def test_devices_unpaired_while_the_bridge_was_away_are_removed_from_its_list() -> None:
    core = BridgeCore(topics=T)
    core.peers_changed([Peer(FP, "Thermo")], 0.0)
    core.broker_connected(0.0)
    manifest = json.dumps({"devices": [DEV, DEV2, "not-ours", "dsdk_zz"]}).encode()
    out = publishes(core.message(T.bridge_devices, manifest, 0.1, retained=True))
    assert out[T.discovery(DEV2)].payload == b"" and out[T.availability(DEV2)].payload == b""
    assert T.discovery(DEV) not in out  # still paired (and its catalog is not known yet)
    assert not any("not-ours" in topic or "dsdk_zz" in topic for topic in out)  # only ids of this layout
    assert json.loads(out[T.bridge_devices].payload)["devices"] == [DEV]
    # our own later publishes echo back (not retained): nothing happens
    assert core.message(T.bridge_devices, manifest, 0.2, retained=True) == []


def test_a_list_that_arrives_before_the_pin_store_is_read_waits_for_it() -> None:
    core = BridgeCore(topics=T)
    core.broker_connected(0.0)
    manifest = json.dumps({"devices": [DEV, DEV2]}).encode()
    assert core.message(T.bridge_devices, manifest, 0.1, retained=True) == []
    out = publishes(core.peers_changed([Peer(FP, "Thermo")], 0.2))
    assert out[T.discovery(DEV2)].payload == b""


@pytest.mark.parametrize("garbage", [b"\xff", b"[1, 2]", b'{"devices": 3}', b"{" * 10])
def test_a_garbled_device_list_is_replaced(garbage: bytes, caplog: pytest.LogCaptureFixture) -> None:
    core = BridgeCore(topics=T)
    core.peers_changed([Peer(FP, "Thermo")], 0.0)
    core.broker_connected(0.0)
    with caplog.at_level(logging.WARNING, "device_sdk.bridge"):
        out = publishes(core.message(T.bridge_devices, garbage, 0.1, retained=True))
    assert "unreadable" in caplog.text
    assert json.loads(out[T.bridge_devices].payload)["devices"] == [DEV]


def test_a_rename_keeps_ids_and_updates_the_name_without_flip_flopping() -> None:
    core = online_core()
    out = publishes(core.peers_changed([Peer(FP, "Pantry")], 5.0))
    body = json.loads(out[T.discovery(DEV)].payload)
    assert body["device"]["name"] == "Pantry"
    assert body["components"]["temperature"]["unique_id"] == f"{DEV}_temperature"
    # the device reconnects with its catalog name; the pin store still says Pantry: no new announce
    core.device_online(FP, thermo("Pantry"), 6.0)
    assert core.peers_changed([Peer(FP, "Pantry")], 7.0) == []


def test_a_renamed_device_whose_pin_lags_keeps_its_catalog_name() -> None:
    core = BridgeCore(topics=T, manifest_wait_s=0.0)
    core.peers_changed([Peer(FP, "Old")], 0.0)
    core.broker_connected(0.0)
    core.handle_timers(0.0)
    body = json.loads(publishes(core.device_online(FP, thermo("New"), 1.0))[T.discovery(DEV)].payload)
    assert body["device"]["name"] == "New"
    assert core.peers_changed([Peer(FP, "Old")], 2.0) == []  # the stale pin name does not win


def test_input_events() -> None:
    core = online_core()
    core.handle_timers(2.0)  # the settle and device-list timers
    topic = T.event(DEV, "trigger")
    assert core.input_reading(FP, "trigger", False, 0.5) == []  # its state when the channel opened
    assert core.input_reading(FP, "trigger", True, 1.0) == [Publish(topic, b'{"event_type":"pressed"}')]
    assert core.input_reading(FP, "trigger", True, 1.01) == []  # no change, no event
    assert core.input_reading(FP, "trigger", False, 1.02) == [Publish(topic, b'{"event_type":"released"}')]
    pad = T.event(DEV, "pad")

    def event(value: Any) -> list[Action]:
        return [Publish(pad, json.dumps({"event_type": "changed", "value": value}, separators=(",", ":")).encode())]

    assert core.input_reading(FP, "pad", {"x": 0.0}, 1.0) == []
    assert core.input_reading(FP, "pad", {"x": 0.1}, 2.0) == event({"x": 0.1})
    assert core.input_reading(FP, "pad", {"x": 0.2}, 2.1) == []  # within event_interval_s
    assert core.input_reading(FP, "pad", {"x": 0.3}, 2.2) == []
    assert core.next_deadline() == 2.5
    assert core.handle_timers(2.5) == event({"x": 0.3})  # the newest value wins
    assert core.input_reading(FP, "pad", {"x": 0.4}, 3.1) == event({"x": 0.4})


def test_a_clean_shutdown_sets_everything_offline() -> None:
    core = online_core()
    core.peers_changed([Peer(FP, "Thermo"), Peer(FP2, "Other")], 1.0)
    out = core.shutdown()
    assert Publish(T.availability(DEV), b"offline", retain=True, qos=1) in out
    assert Publish(T.availability(DEV2), b"offline", retain=True, qos=1) in out
    assert out[-1] == Publish(T.bridge_status, b"offline", retain=True, qos=1)


def small(name: str = "Thermo", *, with_level: bool = True) -> Catalog:
    registry = ChannelRegistry(device_name=name, model="m")
    registry.sensor("temperature", unit="C")
    if with_level:
        registry.actuator("level", type="int", initial=0, min=0, max=10, handler=lambda v: v)
    return registry.catalog()


def test_component_discovery_publishes_one_config_per_entity_and_deletes_what_went() -> None:
    core = BridgeCore(topics=T, manifest_wait_s=0.0, discovery="component")
    core.peers_changed([Peer(FP, "Thermo")], 0.0)
    core.broker_connected(0.0)
    core.handle_timers(0.0)
    out = publishes(core.device_online(FP, small(), 1.0))
    temp = T.component_discovery("sensor", DEV, "temperature")
    level = T.component_discovery("number", DEV, "level")
    assert T.discovery(DEV) not in out
    body = json.loads(out[temp].payload)
    assert body["unique_id"] == f"{DEV}_temperature" and body["device"]["identifiers"] == [DEV]
    assert body["availability_mode"] == "all" and "platform" not in body
    assert json.loads(out[T.bridge_devices].payload)["components"] == {DEV: sorted([temp, level])}
    # the device comes back without "level": its entity is deleted
    core.device_offline(FP, "gone", 2.0)
    out = publishes(core.device_online(FP, small(with_level=False), 3.0))
    assert out[level] == Publish(level, b"", retain=True, qos=1)
    assert out[temp].payload
    # unpaired: every entity topic and the availability, no device-discovery topic
    out = publishes(core.peers_changed([], 4.0))
    assert out[temp].payload == b"" and out[T.availability(DEV)].payload == b""
    assert T.discovery(DEV) not in out


def test_switching_discovery_mode_deletes_the_old_configs_first() -> None:
    temp = T.component_discovery("sensor", DEV, "temperature")
    # device -> component
    core = BridgeCore(topics=T, discovery="component")
    core.peers_changed([Peer(FP, "Thermo")], 0.0)
    core.broker_connected(0.0)
    core.device_online(FP, small(), 0.1)
    actions = core.message(T.bridge_devices, json.dumps({"devices": [DEV]}).encode(), 0.2, retained=True)
    topics = [(a.topic, a.payload) for a in actions if isinstance(a, Publish)]
    assert topics.index((T.discovery(DEV), b"")) < [t for t, _ in topics].index(temp)
    # component -> device
    core = BridgeCore(topics=T)
    core.peers_changed([Peer(FP, "Thermo")], 0.0)
    core.broker_connected(0.0)
    core.device_online(FP, small(), 0.1)
    old = {"discovery": "component", "devices": [DEV], "components": {DEV: [temp, "elsewhere/x/config"]}}
    actions = core.message(T.bridge_devices, json.dumps(old).encode(), 0.2, retained=True)
    topics = [(a.topic, a.payload) for a in actions if isinstance(a, Publish)]
    assert (temp, b"") in topics and ("elsewhere/x/config", b"") not in topics
    assert topics.index((temp, b"")) < [t for t, _ in topics].index(T.discovery(DEV))


def test_component_topics_from_the_last_run_that_no_longer_exist_are_deleted() -> None:
    gone = T.component_discovery("switch", DEV, "old_relay")
    core = BridgeCore(topics=T, discovery="component")
    core.peers_changed([Peer(FP, "Thermo")], 0.0)
    core.broker_connected(0.0)
    core.device_online(FP, small(), 0.1)
    old = {"discovery": "component", "devices": [DEV], "components": {DEV: [gone]}}
    out = publishes(core.message(T.bridge_devices, json.dumps(old).encode(), 0.2, retained=True))
    assert out[gone].payload == b""
    assert out[T.component_discovery("sensor", DEV, "temperature")].payload


def test_a_catalog_change_while_connected_reannounces_and_removes_what_went() -> None:
    core = online_core()
    core.reading(FP, "temperature", 21.5, 0.1)
    core.actuator_state(FP, "level", 3, 0.1)
    core.handle_timers(1.0)
    registry = ChannelRegistry(device_name="Thermo", model="Thermo v2", board="sim", sdk="0.1.0")
    registry.sensor("temperature", unit="C")  # unchanged: its last state is kept
    registry.actuator("level", type="float", initial=0, min=0, max=1, handler=lambda v: v)  # changed
    registry.sensor("humidity", unit="%")  # new
    actions = core.catalog_changed(FP, registry.catalog(), 2.0)
    assert actions[0] == WatchChannels(FP, sensors=("temperature", "humidity"), actuators=("level",), inputs=())
    out = publishes(actions)
    components = json.loads(out[T.discovery(DEV)].payload)["components"]
    assert components["humidity"]["device_class"] == "humidity"
    assert components["led"] == {"platform": "switch"} and components["trigger"] == {"platform": "event"}
    assert components["led__toggle"] == {"platform": "button"}
    assert out[T.availability(DEV)].payload == b"online"
    again = publishes(core.handle_timers(3.0))  # the states once settled: only those still meaning the same
    assert again[T.state(DEV, "temperature")].payload == b"21.5" and T.state(DEV, "level") not in again
    # the removal is said once: the next announcement leaves the gone entities out
    body = json.loads(publishes(core.message(T.ha_status, b"online", 4.0))[T.discovery(DEV)].payload)
    assert set(body["components"]) == {"temperature", "level", "humidity"}
    assert core.catalog_changed(FP2, registry.catalog(), 5.0) == []  # not a paired device


def test_a_catalog_change_in_component_discovery_deletes_the_gone_configs() -> None:
    core = BridgeCore(topics=T, manifest_wait_s=0.0, discovery="component")
    core.peers_changed([Peer(FP, "Thermo")], 0.0)
    core.broker_connected(0.0)
    core.handle_timers(0.0)
    core.device_online(FP, small(), 1.0)
    level = T.component_discovery("number", DEV, "level")
    out = publishes(core.catalog_changed(FP, small(with_level=False), 2.0))
    assert out[level] == Publish(level, b"", retain=True, qos=1)
    assert json.loads(out[T.bridge_devices].payload)["components"][DEV] == [
        T.component_discovery("sensor", DEV, "temperature")
    ]
