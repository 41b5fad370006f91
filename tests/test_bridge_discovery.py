"""The pure mapping from a device's channel catalog to Home Assistant discovery: every kind and type."""

from __future__ import annotations

import json
from typing import Any

import pytest

from device_sdk.bridge import DeviceIdentity, Topics, channel_token, device_id, discovery_payload, map_catalog
from device_sdk.bridge.discovery import humanize
from device_sdk.bridge.topics import DEVICE_ID_RE
from device_sdk.bridge.units import binary_sensor_class, device_class_pairs, sensor_class
from device_sdk.channels import Catalog, ChannelRegistry, parse_catalog

FP = bytes(range(32))
DEV = device_id(FP)
TOPICS = Topics(bridge_id="b1")


def catalog(declare: Any) -> Catalog:
    """The catalog a real registry sends (through its wire frame) after ``declare(registry)``."""
    registry = ChannelRegistry(device_name="Kitchen", model="Thermo v2", board="sim", sdk="0.1.0")
    declare(registry)
    return parse_catalog(json.loads(json.dumps(registry.catalog_frame())))


def components(declare: Any) -> dict[str, dict[str, Any]]:
    mapping = map_catalog(catalog(declare), dev=DEV, topics=TOPICS)
    return {cid: dict(c) for cid, c in mapping.components.items()}


def test_device_id_comes_from_the_fingerprint_and_is_topic_safe() -> None:
    assert DEV.removeprefix("dsdk_") == FP[:16].hex()
    assert DEVICE_ID_RE.fullmatch(DEV)
    assert device_id(bytes(32)) != DEV


def test_channel_tokens_are_topic_safe_and_distinct() -> None:
    assert channel_token("night_light") == "night_light"
    assert channel_token("a-b_C9") == "a-b_C9"
    odd = ["room temp", "room/temp", "room+temp", "temp #2", "Ünïcode", "", "x" * 100]
    tokens = [channel_token(n) for n in odd]
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        assert all(c.isascii() and (c.isalnum() or c in "_-") for c in token), token
        assert 0 < len(token) <= 64


@pytest.mark.parametrize(
    ("unit", "name", "expected"),
    [
        ("C", "temperature", ("°C", "temperature", "measurement")),
        ("°F", "outside", ("°F", "temperature", "measurement")),
        ("dB", "sound_level", ("dB", "sound_pressure", "measurement")),
        ("%", "humidity", ("%", "humidity", "measurement")),
        ("%", "soil", ("%", "moisture", "measurement")),
        ("%", "battery", ("%", "battery", "measurement")),
        ("%", "duty", ("%", None, "measurement")),
        ("kWh", "meter", ("kWh", "energy", "total_increasing")),
        ("hPa", "pressure", ("hPa", "pressure", "measurement")),
        ("MW", "plant", ("MW", "power", "measurement")),
        ("mW", "radio", ("mW", "power", "measurement")),
        ("ppm", "co2", ("ppm", "carbon_dioxide", "measurement")),
        ("ppm", "voc", ("ppm", None, "measurement")),
        ("furlong", "odd", ("furlong", None, "measurement")),
        (None, "count", (None, None, "measurement")),
    ],
)
def test_units_map_to_device_and_state_classes(unit: str | None, name: str, expected: tuple[Any, ...]) -> None:
    got = sensor_class(unit, name)
    assert (got.unit, got.device_class, got.state_class) == expected


def test_every_unit_pair_uses_home_assistant_spelling() -> None:
    pairs = device_class_pairs()
    assert ("°C", "temperature", "measurement") in pairs
    assert all(unit != "C" for unit, _, _ in pairs)  # never the catalog's spelling


def test_binary_sensor_classes_come_from_the_name() -> None:
    assert binary_sensor_class("motion") == "motion"
    assert binary_sensor_class("front_door") == "door"
    assert binary_sensor_class("button") is None


def test_sensors_of_every_type() -> None:
    got = components(
        lambda r: (
            r.sensor("temperature", unit="C", min=10, max=35, rate_hz=10),
            r.sensor("count", type="int"),
            r.sensor("motion", type="bool"),
            r.sensor("mode", type="enum", values=["eco", "boost"]),
            r.sensor("status", type="text"),
            r.sensor("blob", type="bytes"),
            r.sensor("gps", type="map"),
        )
    )
    assert got["temperature"] == {
        "platform": "sensor",
        "name": "Temperature",
        "state_topic": f"device_sdk/{DEV}/temperature/state",
        "unit_of_measurement": "°C",
        "device_class": "temperature",
        "state_class": "measurement",
        "unique_id": f"{DEV}_temperature",
    }
    assert got["count"]["platform"] == "sensor" and got["count"]["state_class"] == "measurement"
    assert "unit_of_measurement" not in got["count"]
    assert got["motion"]["platform"] == "binary_sensor" and got["motion"]["device_class"] == "motion"
    assert got["mode"] == {
        "platform": "sensor",
        "name": "Mode",
        "state_topic": f"device_sdk/{DEV}/mode/state",
        "device_class": "enum",
        "options": ["eco", "boost"],
        "unique_id": f"{DEV}_mode",
    }
    assert "state_class" not in got["status"] and "device_class" not in got["status"]
    assert "blob" not in got and "gps" not in got


def test_actuators_of_every_type() -> None:
    def declare(r: ChannelRegistry) -> None:
        r.actuator("led", type="bool", initial=False, handler=lambda v: v)
        r.actuator("night_light", type="float", initial=0.0, min=0.0, max=1.0, handler=lambda v: v)
        r.actuator("fan", type="int", initial=1, min=0, max=5, unit="%", handler=lambda v: v)
        r.actuator("gain", type="float", initial=1.0, handler=lambda v: v)  # no range
        r.actuator("preset", type="enum", values=["day", "night"], initial="day", handler=lambda v: v)
        r.actuator("label", type="text", initial="", handler=lambda v: v)
        r.actuator("config", type="map", initial={"a": 1}, handler=lambda v: v)

    got = components(declare)
    assert got["led"]["platform"] == "switch"
    assert got["led"]["command_topic"] == f"device_sdk/{DEV}/led/set"
    assert got["led"]["state_topic"] == f"device_sdk/{DEV}/led/state"
    light = got["night_light"]
    assert (light["platform"], light["min"], light["max"], light["step"]) == ("number", 0.0, 1.0, 0.01)
    assert light["name"] == "Night light"
    assert (got["fan"]["step"], got["fan"]["unit_of_measurement"]) == (1, "%")
    assert "gain" not in got  # Home Assistant's number needs a range
    assert got["preset"]["platform"] == "select" and got["preset"]["options"] == ["day", "night"]
    assert got["label"]["platform"] == "text" and got["label"]["max"] == 255
    assert "config" not in got


def test_actions_become_buttons_beside_the_state() -> None:
    def declare(r: ChannelRegistry) -> None:
        r.actuator("relay", type="bool", initial=False, handler=lambda v: v, actions={"toggle": lambda: None})
        r.actuator("feeder", actions={"feed": lambda: None, "feed_twice": lambda: None})  # stateless
        r.actuator("door", type="enum", values=["open", "shut"], initial="shut", actions={"open": lambda: "open"})

    mapping = map_catalog(catalog(declare), dev=DEV, topics=TOPICS)
    got = mapping.components
    assert got["relay"]["platform"] == "switch"
    assert got["relay__toggle"] == {
        "platform": "button",
        "name": "Relay toggle",
        "command_topic": f"device_sdk/{DEV}/relay/do",
        "payload_press": "toggle",
        "unique_id": f"{DEV}_relay__toggle",
    }
    assert {cid for cid in got if cid.startswith("feeder")} == {"feeder__feed", "feeder__feed_twice"}
    feeder = mapping.by_name("feeder")
    assert feeder is not None and not feeder.stateful and not feeder.watched
    # actions only, but with a state: the state is shown read-only
    assert got["door"]["platform"] == "sensor" and got["door"]["device_class"] == "enum"
    door = mapping.by_name("door")
    assert door is not None and door.stateful and not door.settable and door.watched


def test_inputs_become_events_and_streams_nothing() -> None:
    def declare(r: ChannelRegistry) -> None:
        r.input("pad")
        r.input("trigger", type="bool")
        r.input("dpad", type="enum", values=["up", "down"])
        r.input("raw", type="bytes")
        r.stream("audio", format={"codec": "pcm_s16le", "rate": 16000})

    mapping = map_catalog(catalog(declare), dev=DEV, topics=TOPICS)
    got = mapping.components
    assert got["pad"] == {
        "platform": "event",
        "name": "Pad",
        "state_topic": f"device_sdk/{DEV}/pad/event",
        "event_types": ["changed"],
        "unique_id": f"{DEV}_pad",
    }
    assert got["trigger"]["event_types"] == ["pressed", "released"]
    assert got["dpad"]["event_types"] == ["up", "down"]
    assert "raw" not in got and "audio" not in got
    audio = mapping.by_name("audio")
    assert audio is not None and audio.skip_reason and not audio.watched


def test_the_device_payload_has_device_origin_availability_and_no_deprecated_keys() -> None:
    mapping = map_catalog(catalog(lambda r: r.sensor("temperature", unit="C")), dev=DEV, topics=TOPICS)
    identity = DeviceIdentity(name="Kitchen", model="Thermo v2", sw_version="0.1.0", hw_version="sim")
    body = discovery_payload(mapping, dev=DEV, device=identity, topics=TOPICS)
    assert body["device"] == {
        "identifiers": [DEV],
        "name": "Kitchen",
        "model": "Thermo v2",
        "sw_version": "0.1.0",
        "hw_version": "sim",
    }
    assert body["origin"]["name"] == "device_sdk bridge"
    assert body["availability"] == [
        {"topic": "device_sdk/bridge/b1/status"},
        {"topic": f"device_sdk/{DEV}/availability"},
    ]
    assert body["availability_mode"] == "all"
    text = json.dumps(body)
    assert "object_id" not in text and "default_entity_id" not in text
    for config in body["components"].values():
        assert not config["name"].startswith("Kitchen")  # Home Assistant adds the device name itself
        assert config["unique_id"].startswith(DEV + "_")


def test_renaming_keeps_every_unique_id_and_topic() -> None:
    def declare_as(name: str) -> Catalog:
        registry = ChannelRegistry(device_name=name, model="m")
        registry.sensor("temperature", unit="C")
        registry.actuator("led", type="bool", initial=False, handler=lambda v: v)
        return registry.catalog()

    before = map_catalog(declare_as("Kitchen"), dev=DEV, topics=TOPICS)
    after = map_catalog(declare_as("Pantry"), dev=DEV, topics=TOPICS)
    assert before.components == after.components


def test_names_that_collide_as_tokens_keep_distinct_components() -> None:
    got = components(lambda r: (r.sensor("a b"), r.sensor("a_b"), r.sensor("a/b")))
    ids = [c["unique_id"] for c in got.values()]
    topics = [c["state_topic"] for c in got.values()]
    assert len(got) == 3 and len(set(ids)) == 3 and len(set(topics)) == 3


def test_humanize() -> None:
    assert humanize("night_light") == "Night light"
    assert humanize("sound-level") == "Sound level"
    assert humanize("LED") == "LED"


def test_component_payloads_for_home_assistant_before_device_discovery() -> None:
    from device_sdk.bridge import component_payloads

    mapping = map_catalog(catalog(lambda r: r.sensor("temperature", unit="C")), dev=DEV, topics=TOPICS)
    identity = DeviceIdentity(name="Kitchen")
    got = component_payloads(mapping, dev=DEV, device=identity, topics=TOPICS)
    topic = f"homeassistant/sensor/{DEV}/temperature/config"
    assert list(got) == [topic]
    assert TOPICS.is_component_discovery(topic, DEV)
    assert not TOPICS.is_component_discovery(f"homeassistant/sensor/{DEV}/temperature/state", DEV)
    assert not TOPICS.is_component_discovery(f"other/sensor/{DEV}/temperature/config", DEV)
    body = got[topic]
    assert "platform" not in body and body["unique_id"] == f"{DEV}_temperature"
    assert body["device"] == {"identifiers": [DEV], "name": "Kitchen"}
    assert body["availability_mode"] == "all" and body["origin"]["name"] == "device_sdk bridge"


def test_the_pure_parts_import_without_an_mqtt_client_and_the_cli_says_what_to_install(tmp_path: Any) -> None:
    import subprocess
    import sys

    block = "import sys; sys.modules['aiomqtt'] = None\n"  # as if the mqtt extra were not installed
    pure = block + "import device_sdk.bridge as b; print(b.map_catalog.__name__, b.BridgeCore.__name__)"
    result = subprocess.run([sys.executable, "-c", pure], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0 and result.stdout.split() == ["map_catalog", "BridgeCore"], result.stderr
    cli = block + (
        "from device_sdk.cli import main\n"
        f"sys.exit(main(['bridge', 'mqtt', '--broker', 'mqtt://localhost', '--state-dir', {str(tmp_path)!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", cli], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 1
    assert "device-sdk: error: the MQTT bridge needs the mqtt extra: pip install 'device_sdk[mqtt]'" in result.stderr
    assert "Traceback" not in result.stderr
