"""The MQTT bridge end to end: a real Mosquitto, a simulated device (`device-sdk run --board sim`), the
`device-sdk bridge mqtt` process, and an MQTT client watching the broker as Home Assistant would."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from device_sdk import Controller, ControllerConfig, Device, DeviceConfig
from device_sdk.bridge import device_id
from device_sdk.identity import fingerprint_from_text
from tests._bridge_rig import PASSCODE, BridgeProcess, Rig, T, make_rig
from tests._cli_helpers import DeviceProcess, cli, unique_name
from tests._mosquitto import MOSQUITTO, Message, Mosquitto, Recorder
from tests.test_e2e_pairing import target

pytestmark = [
    pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto is not installed (.ci/run installs Debian's mosquitto)"),
    pytest.mark.timeout(60),
]


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with make_rig(tmp_path) as made:
        yield made


async def online(rec: Recorder, rig: Rig, *, since: int = 0, timeout: float = 20) -> None:
    await rec.wait_message(T.availability(rig.dev), lambda m: m.payload == b"online", since=since, timeout=timeout)


async def test_entities_readings_and_commands(rig: Rig) -> None:
    async with Recorder(rig.broker, "#") as rec:
        rig.bridge.start()
        config = await rec.wait_message(T.discovery(rig.dev), lambda m: m.payload != b"", timeout=20)
        body = config.json()
        components = body["components"]
        assert body["device"]["name"] == rig.device.name and body["device"]["identifiers"] == [rig.dev]
        assert components["temperature"]["device_class"] == "temperature"
        assert components["temperature"]["unit_of_measurement"] == "°C"
        assert components["led"]["platform"] == "switch"
        assert components["night_light"]["platform"] == "number"
        assert components["motion"]["platform"] == "binary_sensor"
        assert components["button"]["platform"] == "event"
        await online(rec, rig)
        reading = await rec.wait_message(T.state(rig.dev, "temperature"))
        assert 10 <= float(reading.payload) <= 35 and not reading.retain

        # retained: a client that subscribes later (Home Assistant after a restart) gets the config
        async with Recorder(rig.broker, T.discovery(rig.dev), T.availability(rig.dev)) as late:
            got = await late.wait_message(T.discovery(rig.dev))
            assert got.retain and got.json() == body
            assert (await late.wait_message(T.availability(rig.dev))).retain

        # garbage first: logged with the reason, the bridge goes on
        await rec.publish(T.command(rig.dev, "led", "set"), b"maybe")
        await rec.publish(T.command(rig.dev, "led", "set"), b"\xff" * 1_000_000)
        await rec.publish(T.command(rig.dev, "no_such_channel", "set"), b"ON")
        await rec.publish(T.command(rig.dev, "night_light", "set"), b"bright")
        since = len(rec.messages)
        await rec.publish(T.command(rig.dev, "led", "set"), b"ON")
        await rec.wait_message(T.state(rig.dev, "led"), lambda m: m.payload == b"ON", since=since)
        assert (await asyncio.to_thread(rig.sim_outputs))["led"] is True
        await rig.bridge.wait_log("expected ON or OFF, got 'maybe'")
        await rig.bridge.wait_log("more than the 4096 allowed")
        await rig.bridge.wait_log("has no channel 'no_such_channel'")
        await rig.bridge.wait_log("expected a number, got 'bright'")

        # a value the device refuses: logged with the device's reason; the state stays the confirmed one
        since = len(rec.messages)
        await rec.publish(T.command(rig.dev, "night_light", "set"), b"1.5")
        await rig.bridge.wait_log("the device refused")
        assert "out-of-range" in rig.bridge.log()
        await rec.publish(T.command(rig.dev, "night_light", "set"), b"0.25")
        await rec.wait_message(T.state(rig.dev, "night_light"), lambda m: m.payload == b"0.25", since=since)
        states = [m.payload for m in rec.on(T.state(rig.dev, "night_light"))[-3:]]
        assert b"1.5" not in states
        assert (await asyncio.to_thread(rig.sim_outputs))["night_light"] == 0.25

        # a change made another way (another controller) is published as the device confirms it
        since = len(rec.messages)
        assert (await asyncio.to_thread(rig.ctl, "set", rig.device.name, "led", "false")).rc == 0
        await rec.wait_message(T.state(rig.dev, "led"), lambda m: m.payload == b"OFF", since=since)

        # motion from the (simulated) hardware reaches the binary sensor
        since = len(rec.messages)
        await asyncio.to_thread(cli, "sim", "set", "motion", "on", "--state-dir", str(rig.device.state_dir))
        await rec.wait_message(T.state(rig.dev, "motion"), lambda m: m.payload == b"ON", since=since)
        assert "Traceback" not in rig.bridge.log()


async def test_home_assistant_birth_and_the_last_will(rig: Rig) -> None:
    async with Recorder(rig.broker, "#") as rec:
        rig.bridge.start()
        await online(rec, rig)
        await rec.wait_message(T.state(rig.dev, "led"))

        # Home Assistant restarts: its birth message makes the bridge announce again, then the states
        since = len(rec.messages)
        await rec.publish(T.ha_status, b"online")
        await rec.wait_message(T.discovery(rig.dev), lambda m: m.payload != b"", since=since)
        await rec.wait_message(T.availability(rig.dev), lambda m: m.payload == b"online", since=since)
        await rec.wait_message(T.state(rig.dev, "led"), since=since)  # an actuator state: only sent again

        # the bridge dies without a goodbye: the broker publishes its will, and the devices' availability
        # (device topic AND bridge status, mode all) makes every entity unavailable
        config = rec.last(T.discovery(rig.dev))
        assert config is not None
        availability = config.json()["availability"]
        assert {"topic": T.bridge_status} in availability and config.json()["availability_mode"] == "all"
        since = len(rec.messages)
        rig.bridge.stop(signal.SIGKILL)
        await rec.wait_message(T.bridge_status, lambda m: m.payload == b"offline", since=since)
        async with Recorder(rig.broker, T.bridge_status) as late:
            status = await late.wait_message(T.bridge_status)
            assert status.retain and status.payload == b"offline"


async def test_unpairing_and_pairing_by_another_process_while_the_bridge_runs(rig: Rig) -> None:
    second = DeviceProcess(
        name=unique_name("Second"),
        state_dir=rig.tmp / "second",
        ready_file=rig.tmp / "second.json",
        extra=("--setup-code", PASSCODE),
    )
    try:
        async with Recorder(rig.broker, "#") as rec:
            rig.bridge.start()
            await online(rec, rig)
            since = len(rec.messages)
            unpaired = await asyncio.to_thread(rig.ctl, "unpair", rig.device.name)
            assert unpaired.rc == 0, unpaired.err
            await rec.wait_message(T.discovery(rig.dev), lambda m: m.payload == b"", since=since)
            await rec.wait_message(T.availability(rig.dev), lambda m: m.payload == b"", since=since)
            await rec.wait_message(T.bridge_devices, lambda m: m.json()["devices"] == [], since=since)
            async with Recorder(rig.broker, T.discovery(rig.dev)) as late:
                await asyncio.sleep(1.0)
                assert late.messages == []  # nothing retained any more

            # another process pairs a device: the running bridge reads the pin store again and bridges it
            ready = await asyncio.to_thread(second.start, "--open-window")
            assert (await asyncio.to_thread(rig.ctl, "pair", second.name, PASSCODE)).rc == 0
            dev2 = device_id(fingerprint_from_text(ready["fp"]))
            config = await rec.wait_message(T.discovery(dev2), lambda m: m.payload != b"", timeout=30)
            assert config.json()["device"]["name"] == second.name
            await rec.wait_message(T.availability(dev2), lambda m: m.payload == b"online", timeout=30)
            # and its own writes to the pin store (on connecting) did not bring the unpaired device back
            peers = (await asyncio.to_thread(rig.ctl, "peers")).json()
            assert [p["name"] for p in peers] == [second.name]
        # the device dropped the bridge's connection when it forgot this controller, and refused the bridge's
        # next attempt (made before the bridge saw the unpairing): the bridge's own lines say why as the CLI
        # would (this controller is no longer trusted: pair again), not as a channel's generic close, and
        # with no protocol numbers or type keys
        ours = [line for line in rig.bridge.log().splitlines() if " device_sdk." in line]
        unread = [line for line in ours if "cannot read its channels" in line]
        assert all("does not trust this controller" in line and "pair again" in line for line in unread), unread
        assert not [line for line in ours if "the other side" in line or "type 1101" in line], ours
    finally:
        second.kill()


async def test_a_clean_stop_then_a_device_unpaired_while_away(rig: Rig) -> None:
    async with Recorder(rig.broker, "#") as rec:
        rig.bridge.start()
        await online(rec, rig)
        await rec.wait_message(T.bridge_devices, lambda m: m.json()["devices"] == [rig.dev])
        since = len(rec.messages)
        assert rig.bridge.stop(signal.SIGTERM) == 0
        # a goodbye, not a will: the device and the bridge are offline, retained
        await rec.wait_message(T.availability(rig.dev), lambda m: m.payload == b"offline", since=since)
        await rec.wait_message(T.bridge_status, lambda m: m.payload == b"offline", since=since)
        assert "Traceback" not in rig.bridge.log()

        assert (await asyncio.to_thread(rig.ctl, "unpair", rig.device.name)).rc == 0
        since = len(rec.messages)
        rig.bridge.start()  # it finds the device in its retained device list, no longer paired
        await rec.wait_message(T.discovery(rig.dev), lambda m: m.payload == b"", since=since)
        await rec.wait_message(T.bridge_devices, lambda m: m.json()["devices"] == [], since=since)


async def test_the_broker_restarts(rig: Rig) -> None:
    rig.bridge.start()
    async with Recorder(rig.broker, "#") as rec:
        await online(rec, rig)
    await asyncio.to_thread(rig.broker.stop)
    await asyncio.sleep(0.5)
    await asyncio.to_thread(rig.broker.start)  # no persistence: every retained message is gone
    async with Recorder(rig.broker, "#") as rec:
        await rec.wait_message(T.discovery(rig.dev), lambda m: m.payload != b"", timeout=20)
        await online(rec, rig)
        await rec.wait_message(T.state(rig.dev, "temperature"))


@pytest.mark.timeout(120)
async def test_a_device_killed_and_restarted_comes_back(rig: Rig) -> None:
    async with Recorder(rig.broker, "#") as rec:
        rig.bridge.start()
        await online(rec, rig)
        since = len(rec.messages)
        rig.device.kill()  # SIGKILL: no goodbye from the device
        # Noticed by the controller's liveness check (seconds) or, without one, the QUIC idle timeout.
        await rec.wait_message(T.availability(rig.dev), lambda m: m.payload == b"offline", since=since, timeout=60)
        since = len(rec.messages)
        await asyncio.to_thread(rig.device.start)
        await online(rec, rig, since=since, timeout=40)
        await rec.wait_message(T.state(rig.dev, "temperature"), since=since)


async def test_broker_credentials_from_a_file_never_logged(tmp_path: Path) -> None:
    secret = "s3cret-Pa55word"
    broker = Mosquitto(tmp_path / "broker", users={"bridge": secret, "watcher": "w"})
    ctl_dir = tmp_path / "ctl"
    good = tmp_path / "password"
    good.write_text(secret + "\n")
    good.chmod(0o600)
    wrong = tmp_path / "wrong"
    wrong.write_text("not-it\n")
    wrong.chmod(0o644)
    bridge = BridgeProcess(
        broker, ctl_dir, tmp_path / "bridge.log", ("--username", "bridge", "--password-file", str(good))
    )
    refused = BridgeProcess(
        broker, ctl_dir, tmp_path / "refused.log", ("--username", "bridge", "--password-file", str(wrong))
    )
    try:
        await asyncio.to_thread(broker.start)
        async with Recorder(broker, "#", username="watcher", password="w") as rec:
            bridge.start()
            await rec.wait_message(T.bridge_status, lambda m: m.payload == b"online", timeout=20)
            refused.start()
            await refused.wait_log("refused this bridge's user name or password")
            await refused.wait_log("can be read by other users")
            bridge.stop()
            refused.stop()
        for log in (bridge.log(), refused.log()):
            assert secret not in log and "not-it" not in log
            assert "Traceback" not in log
    finally:
        bridge.kill()
        refused.kill()
        broker.stop()


async def test_tls_with_a_ca_file(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker", tls=True)
    tls = (
        "--broker",
        f"mqtts://localhost:{broker.tls_port}",
        "--ca-file",
        str(broker.ca_file),
    )
    bridge = BridgeProcess(broker, tmp_path / "ctl", tmp_path / "bridge.log")
    untrusted = BridgeProcess(broker, tmp_path / "ctl", tmp_path / "untrusted.log")
    try:
        await asyncio.to_thread(broker.start)
        bridge.argv_broker = tls
        untrusted.argv_broker = ("--broker", f"mqtts://localhost:{broker.tls_port}", "--client-id", "other")
        async with Recorder(broker, T.bridge_status) as rec:  # on the plain listener
            bridge.start()
            await rec.wait_message(T.bridge_status, lambda m: m.payload == b"online", timeout=20)
            untrusted.start()  # the system's CAs do not know the test CA
            await untrusted.wait_log("presented a TLS certificate this bridge does not trust")
    finally:
        bridge.kill()
        untrusted.kill()
        broker.stop()


def test_cli_errors_are_one_sentence(tmp_path: Path) -> None:
    base = ("bridge", "mqtt", "--state-dir", str(tmp_path / "ctl"))
    cases = [
        (("--broker", "http://example"), "mqtt://HOST"),
        (("--broker", "mqtt://u:p@host"), "--password-file"),
        (("--broker", "mqtt://host", "--password-file", str(tmp_path / "none")), "does not exist"),
        (("--broker", "mqtt://host", "--base-topic", "a/+/b"), "not a usable MQTT topic prefix"),
    ]
    for args, words in cases:
        result = cli(*base, *args, timeout=20)
        assert result.rc == 1, result
        lines = [line for line in result.err.splitlines() if line.startswith("device-sdk: error:")]
        assert len(lines) == 1 and words in lines[0], result.err
        assert "Traceback" not in result.err
    (tmp_path / "empty").write_text("")
    result = cli(*base, "--broker", "mqtt://host", "--username", "u", "--password-file", str(tmp_path / "empty"))
    assert result.rc == 1 and "is empty" in result.err


def _components(m: Message) -> dict[str, Any]:
    if not m.payload:
        return {}
    components: dict[str, Any] = m.json()["components"]
    return components


async def test_channels_added_and_removed_at_run_time_are_announced_without_reconnecting(tmp_path: Path) -> None:
    broker = Mosquitto(tmp_path / "broker")
    device = Device(
        DeviceConfig(
            state_dir=tmp_path / "device",
            name=unique_name("Changing"),
            interfaces=("lo",),
            setup_code=int(PASSCODE),
            open_window=True,
        )
    )
    device.sensor("temperature", type="float", unit="°C").publish(21.5)
    bridge = BridgeProcess(broker, tmp_path / "ctl", tmp_path / "bridge.log")
    try:
        await asyncio.to_thread(broker.start)
        async with device:
            async with Controller(ControllerConfig(state_dir=tmp_path / "ctl", interfaces=("lo",))) as ctl:
                await (await ctl.pair(target(device), PASSCODE)).close()
            dev = device_id(device.identity.fingerprint)
            async with Recorder(broker, "#") as rec:
                bridge.start()
                config = await rec.wait_message(T.discovery(dev), lambda m: m.payload != b"", timeout=20)
                assert set(_components(config)) == {"temperature"}
                online_at = (await rec.wait_message(T.availability(dev), lambda m: m.payload == b"online")).arrived
                await rec.wait_message(T.state(dev, "temperature"), lambda m: m.payload == b"21.5")

                # a channel declared at run time: announced again with its entity, its readings follow
                since = len(rec.messages)
                device.sensor("humidity", type="float", unit="%").publish(40.5)
                config = await rec.wait_message(T.discovery(dev), lambda m: "humidity" in _components(m), since=since)
                assert _components(config)["humidity"]["device_class"] == "humidity"
                assert _components(config)["temperature"]["platform"] == "sensor"
                await rec.wait_message(T.state(dev, "humidity"), lambda m: m.payload == b"40.5", since=since)

                # a channel removed: Home Assistant is told to remove its entity (the platform alone)
                since = len(rec.messages)
                device.channels.remove("temperature")
                config = await rec.wait_message(
                    T.discovery(dev), lambda m: _components(m).get("temperature") == {"platform": "sensor"}, since=since
                )
                assert _components(config)["humidity"]["unit_of_measurement"] == "%"

                # ...and declared again: followed again on the same connection
                since = len(rec.messages)
                device.sensor("temperature", type="float", unit="°C").publish(22.5)
                await rec.wait_message(T.state(dev, "temperature"), lambda m: m.payload == b"22.5", since=since)
                again = rec.last(T.discovery(dev))
                assert again is not None and _components(again)["temperature"]["device_class"] == "temperature"

                # all of it without a reconnection: the device was never offline once online
                assert not [m for m in rec.on(T.availability(dev)) if m.payload == b"offline" and m.arrived > online_at]
                log = bridge.log()
                assert "is offline" not in log and log.count("is online") == 1 and "Traceback" not in log
    finally:
        bridge.kill()
        broker.stop()
