"""Everything observable, everything simulated, from the ``device-sdk`` command on loopback:

- ``watch`` shows an actuator's confirmed state as it changes, whoever changes it;
- ``listen`` saves a byte stream: WAV for PCM audio (the format's rate and channels), raw otherwise,
  and the baby monitor example's controller saves what it hears;
- ``sim force`` drives every kind of sensor a board profile can declare on mock pins: an MCP3008 input
  (a soil-moisture probe) and an HC-SR04 distance sensor read their forced values through gpiozero.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests._cli_helpers import DeviceProcess, cli, unique_name
from tests.test_examples import CODE, device, run_controller

pytestmark = pytest.mark.timeout(60)

SOIL_BOARD = """
[board]
name = "soil-sim"
model = "Soil moisture probe (simulated pins)"
pin_factory = "mock"

[pairing_button]
pin = "GPIO17"

[[parts]]
type = "mcp3008"
channel = "soil_moisture"
adc_channel = 0
scale = 100.0
unit = "%"
min = 0
max = 100
rate_hz = 10

[[parts]]
type = "distance_sensor"
channel = "water_level"
echo = "GPIO24"
trigger = "GPIO23"
max_distance = 2.0
rate_hz = 10

[[parts]]
type = "relay"
channel = "pump"
pin = "GPIO22"
"""


def test_watch_follows_an_actuator_changed_by_another_controller(tmp_path: Path) -> None:
    dev = DeviceProcess(unique_name("Watch Led"), tmp_path / "device", tmp_path / "ready.json", ("--setup-code", CODE))
    ctl = ("--state-dir", str(tmp_path / "ctl"), "--interface", "lo", "--json")
    other = ("--state-dir", str(tmp_path / "other"), "--interface", "lo", "--json")
    watch: subprocess.Popen[str] | None = None
    try:
        dev.start("--open-window")
        cli("pair", dev.name, CODE, *ctl).json()
        cli(
            "sim", "press", "--state-dir", str(dev.state_dir), "--json"
        ).json()  # the window again, for a second controller
        cli("pair", dev.name, CODE, *other).json()
        argv = [sys.executable, "-m", "device_sdk", "watch", dev.name, "led", "--count", "3", *ctl]
        watch = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert watch.stdout is not None
        first = json.loads(watch.stdout.readline())  # the current state comes first
        assert first["v"] is False and set(first) == {"t", "v"}
        assert cli("set", dev.name, "led", "true", *other).json()["v"] is True
        assert json.loads(watch.stdout.readline())["v"] is True
        assert cli("set", dev.name, "led", "false", *other).json()["v"] is False
        out, err = watch.communicate(timeout=20)
        assert watch.returncode == 0, err
        assert [json.loads(line)["v"] for line in out.splitlines()] == [False]
        assert cli("sim", "status", "--state-dir", str(dev.state_dir), "--json").json()["outputs"]["led"] is False
    finally:
        if watch is not None and watch.poll() is None:
            watch.kill()
            watch.communicate()
        dev.kill()


async def test_listen_saves_pcm_audio_as_wav_and_other_bytes_raw(tmp_path: Path) -> None:
    at = ("--state-dir", str(tmp_path / "ctl"), "--ready-file", str(tmp_path / "ready.json"))
    async with device("baby_monitor", tmp_path, "--setup-code", CODE):  # its output is read by this loop
        assert (await asyncio.to_thread(cli, "pair", "baby", CODE, *at, "--json")).json()["paired"] is True
        wav_path = tmp_path / "baby.wav"
        listen = ("listen", "baby", "audio", "--out", str(wav_path), "--seconds", "1.5", *at, "--json")
        saved = (await asyncio.to_thread(cli, *listen)).json()
        assert saved["codec"] == "pcm_s16le" and saved["wav"] is True and saved["seconds"] == 1.5
        with wave.open(str(wav_path), "rb") as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
            assert wav.getnframes() == 24000  # exactly 1.5 s, whatever the network's timing
            assert len(wav.readframes(24000)) == 48000
        raw = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "device_sdk", "listen", "baby", "audio", "--seconds", "0.5", *at],
            capture_output=True,
            timeout=30,
            check=False,
        )
        assert raw.returncode == 0, raw.stderr
        assert len(raw.stdout) == 16000 and not raw.stdout.startswith(b"RIFF")  # raw PCM into the pipe
        assert b"saved 0.5 s of pcm_s16le audio (16000 Hz, 1 channel)" in raw.stderr
        pcm = ("listen", "baby", "audio", "--out", str(tmp_path / "a.pcm"), "--raw", "--seconds", "0.25", *at)
        forced_raw = await asyncio.to_thread(cli, *pcm)
        assert forced_raw.rc == 0 and (tmp_path / "a.pcm").read_bytes()[:4] != b"RIFF"
        assert (tmp_path / "a.pcm").stat().st_size == 8000


async def test_the_baby_monitor_controller_saves_what_it_hears(tmp_path: Path) -> None:
    wav_path = tmp_path / "heard.wav"
    async with device("baby_monitor", tmp_path, "--setup-code", CODE, "--burst-every", "2"):
        out = await run_controller("baby_monitor", tmp_path, "--code", CODE, "--duration", "3", "--save", wav_path)
    assert re.search(
        rf"saved \d\.\d s of pcm_s16le audio \(16000 Hz, 1 channel\) as WAV to {re.escape(str(wav_path))}", out
    )
    with wave.open(str(wav_path), "rb") as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
        frames = wav.getnframes()
        audio = wav.readframes(frames)
    assert frames >= 16000 * 2  # most of the 3 s it listened
    samples = memoryview(audio).cast("h")
    assert max(samples) > 5000  # the simulated cry is in the file, not silence


def test_sim_force_drives_an_adc_and_a_distance_sensor_of_a_board_profile(tmp_path: Path) -> None:
    board = tmp_path / "soil.toml"
    board.write_text(SOIL_BOARD)
    dev = DeviceProcess(
        unique_name("Soil"), tmp_path / "device", tmp_path / "ready.json", ("--setup-code", CODE, "--board", str(board))
    )
    # DeviceProcess runs --board sim; the later --board wins (argparse keeps the last)
    ctl = ("--state-dir", str(tmp_path / "ctl"), "--interface", "lo", "--json")
    sim = ("--state-dir", str(dev.state_dir), "--json")
    try:
        dev.start()
        cli("pair", dev.name, CODE, *ctl).json()
        channels = {c["name"]: c for c in cli("info", dev.name, *ctl).json()["channels"]}
        assert channels["soil_moisture"]["unit"] == "%" and channels["water_level"]["unit"] == "m"
        status = cli("sim", "status", *sim).json()
        assert status["board"] == "soil-sim" and set(status["forced"]) == {"soil_moisture", "water_level"}

        assert cli("sim", "force", "soil_moisture", "42", *sim).json() == {"name": "soil_moisture", "value": 42.0}
        assert cli("sim", "force", "water_level", "0.5", *sim).json() == {"name": "water_level", "value": 0.5}
        expected = 430 / 1023 * 100  # 42 % of Vref through the 10-bit converter
        assert _watch_until(dev.name, "soil_moisture", ctl, lambda v: v == pytest.approx(expected))
        assert _watch_until(dev.name, "water_level", ctl, lambda v: v == pytest.approx(0.5, abs=1e-6))
        assert cli("sim", "force", "soil_moisture", "none", *sim).json()["value"] is None
        assert _watch_until(dev.name, "soil_moisture", ctl, lambda v: v == 0.0)

        refused = cli("sim", "force", "soil_moisture", "120", *sim)
        assert refused.rc == 1 and "takes values in 0..100" in refused.err
        assert cli("set", dev.name, "pump", "true", *ctl).json()["v"] is True
        assert cli("sim", "status", *sim).json()["outputs"]["pump"] is True
    finally:
        dev.kill()


def _watch_until(name: str, channel: str, ctl: tuple[str, ...], good: Callable[[Any], bool]) -> bool:
    """Whether one of the next 30 readings of ``channel`` (10 Hz) satisfies ``good``."""
    readings = cli("watch", name, channel, "--count", "30", *ctl).json_lines()
    return any(good(r["v"]) for r in readings)
