"""The bridge against a real Home Assistant (opt-in: ``make test-ha`` installs one and sets
DEVICE_SDK_HA_VENV; it takes minutes, so it is not part of ``make test``).

Home Assistant runs from its own venv with a minimal configuration: the MQTT integration (a config entry
written before the first start, as its config flow would), ``mqtt_statestream`` (it publishes every
entity's state and attributes back to the broker, which is how this test reads Home Assistant without an
access token) and one automation: motion turns the LED on.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from device_sdk.bridge.units import device_class_pairs
from tests._bridge_rig import Rig, T, make_rig
from tests._cli_helpers import cli
from tests._mosquitto import MOSQUITTO, Message, Recorder, free_port, terminate

HA_VENV = os.environ.get("DEVICE_SDK_HA_VENV")

pytestmark = [
    pytest.mark.skipif(not HA_VENV, reason="opt-in: `make test-ha` installs Home Assistant and runs this"),
    pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed"),
    pytest.mark.timeout(600),
]

STATES = "ha_states"


def slug(text: str) -> str:
    """Home Assistant's entity id part for an ASCII name."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


@dataclass
class HomeAssistant:
    directory: Path
    venv: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.directory / "hass.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [str(self.venv / "bin" / "hass"), "-c", str(self.directory), "--skip-pip"],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            terminate(proc, timeout=60)

    def log(self) -> str:
        return (self.directory / "hass.log").read_text(errors="replace")


def write_config(directory: Path, broker_port: int, device_slug: str) -> None:
    """configuration.yaml, and the MQTT config entry the UI's config flow would have created."""
    storage = directory / ".storage"
    storage.mkdir(parents=True)
    (directory / "configuration.yaml").write_text(
        f"""
homeassistant:
  name: device_sdk test
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
  currency: EUR
  country: DE
http:
  server_host: 127.0.0.1
  server_port: {free_port()}
logger:
  default: info
mqtt_statestream:
  base_topic: {STATES}
  publish_attributes: true
automation:
  - alias: motion turns the LED on
    triggers:
      - trigger: state
        entity_id: binary_sensor.{device_slug}_motion
        to: "on"
    actions:
      - action: switch.turn_on
        target:
          entity_id: switch.{device_slug}_led
"""
    )
    entry = {
        "entry_id": "01JDEVICESDKBRIDGETEST0000",
        "version": 1,
        "minor_version": 1,
        "domain": "mqtt",
        "title": "Mosquitto",
        "data": {"broker": "127.0.0.1", "port": broker_port, "discovery": True},
        "options": {},
        "pref_disable_new_entities": False,
        "pref_disable_polling": False,
        "source": "user",
        "unique_id": None,
        "disabled_by": None,
        "created_at": "2025-01-01T00:00:00+00:00",
        "modified_at": "2025-01-01T00:00:00+00:00",
        "discovery_keys": {},
        "subentries": [],
    }
    document = {"version": 1, "minor_version": 5, "key": "core.config_entries", "data": {"entries": [entry]}}
    (storage / "core.config_entries").write_text(json.dumps(document))


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with make_rig(tmp_path, "HA Test") as made:
        yield made


def test_every_unit_pair_is_valid_in_the_installed_home_assistant() -> None:
    assert HA_VENV is not None
    check = (
        "import json, sys\n"
        "from homeassistant.components.sensor.const import DEVICE_CLASS_UNITS, DEVICE_CLASS_STATE_CLASSES, "
        "SensorDeviceClass\n"
        "bad = []\n"
        "for unit, dc, sc in json.loads(sys.argv[1]):\n"
        "    d = SensorDeviceClass(dc)\n"
        "    if unit not in DEVICE_CLASS_UNITS.get(d, {unit}) or sc not in DEVICE_CLASS_STATE_CLASSES.get(d, {sc}):\n"
        "        bad.append((unit, dc, sc))\n"
        "print(json.dumps(bad))\n"
    )
    result = subprocess.run(
        [str(Path(HA_VENV) / "bin" / "python"), "-c", check, json.dumps(device_class_pairs())],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize("discovery", ["device", "component"])
async def test_entities_and_an_automation_in_home_assistant(rig: Rig, discovery: str) -> None:
    assert HA_VENV is not None
    rig.bridge.extra = ("--discovery", discovery)
    device_slug = slug(rig.device.name)
    ha = HomeAssistant(rig.tmp / "ha", Path(HA_VENV))
    write_config(ha.directory, rig.broker.port, device_slug)

    def state(domain: str, name: str, attribute: str = "state") -> str:
        return f"{STATES}/{domain}/{device_slug}_{name}/{attribute}"

    def known(m: Message) -> bool:
        return m.payload not in (b"unknown", b"unavailable")

    try:
        async with Recorder(rig.broker, "#") as rec:
            rig.bridge.start()
            await rec.wait_message(T.availability(rig.dev), lambda m: m.payload == b"online", timeout=30)
            ha.start()
            # Home Assistant finds the device through discovery; its entities' states come back via statestream
            temperature = await rec.wait_message(state("sensor", "temperature"), known, timeout=240)
            assert 10 <= float(temperature.payload) <= 35
            unit = await rec.wait_message(state("sensor", "temperature", "unit_of_measurement"))
            assert unit.json() == "°C"
            assert (await rec.wait_message(state("sensor", "temperature", "device_class"))).json() == "temperature"
            assert (await rec.wait_message(state("sensor", "temperature", "state_class"))).json() == "measurement"
            friendly = (await rec.wait_message(state("sensor", "temperature", "friendly_name"))).json()
            assert friendly == f"{rig.device.name} Temperature"  # the device name once, put there by HA
            assert (await rec.wait_message(state("sensor", "sound_level", "unit_of_measurement"))).json() == "dB"
            assert (await rec.wait_message(state("switch", "led"), known)).payload == b"off"
            assert (await rec.wait_message(state("binary_sensor", "motion"), known)).payload == b"off"
            assert (await rec.wait_message(state("binary_sensor", "motion", "device_class"))).json() == "motion"
            assert (await rec.wait_message(state("number", "night_light", "max"))).json() == 1.0
            await rec.wait_message(state("event", "button", "event_types"))

            # the automation: motion (from the simulated hardware) -> Home Assistant -> the LED on the device
            since = len(rec.messages)
            await asyncio.to_thread(cli, "sim", "set", "motion", "on", "--state-dir", str(rig.device.state_dir))
            await rec.wait_message(state("binary_sensor", "motion"), lambda m: m.payload == b"on", since=since)
            await rec.wait_message(T.command(rig.dev, "led", "set"), lambda m: m.payload == b"ON", since=since)
            await rec.wait_message(state("switch", "led"), lambda m: m.payload == b"on", since=since, timeout=20)
            assert (await asyncio.to_thread(rig.sim_outputs))["led"] is True

            # the bridge dies: its last will makes the entities unavailable in Home Assistant
            since = len(rec.messages)
            rig.bridge.stop(signal.SIGKILL)
            await rec.wait_message(
                state("sensor", "temperature"), lambda m: m.payload == b"unavailable", since=since, timeout=30
            )
            # and back
            since = len(rec.messages)
            rig.bridge.start()
            await rec.wait_message(
                state("sensor", "temperature"), lambda m: m.payload != b"unavailable", since=since, timeout=60
            )
    finally:
        ha.stop()
    log = ha.log()
    assert "Invalid MQTT device discovery payload" not in log
    assert "is not valid together with device class" not in log
    assert not re.search(r"ERROR \(MainThread\) \[homeassistant\.components\.mqtt", log), log[-3000:]
