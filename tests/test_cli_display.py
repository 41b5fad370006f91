"""``device-sdk pair DEVICE pin`` against a display-mode ``device-sdk run`` on loopback: the code the
device shows is typed at the prompt; Ctrl-C at the prompt ends the command at once. One device per
test: its JSON events are read to learn the code, and a successful pairing closes its window."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._cli_helpers import DeviceProcess, unique_name

pytestmark = pytest.mark.timeout(60)

PROMPT = "code shown on the device: "


@pytest.fixture
def device(tmp_path: Path) -> Iterator[DeviceProcess]:
    root = tmp_path
    proc = DeviceProcess(
        name=unique_name("CLI Display"),
        state_dir=root / "device",
        ready_file=root / "ready.json",
        extra=("--pairing", "display"),
    )
    proc.start("--open-window")
    try:
        yield proc
    finally:
        proc.kill()


def pair_with_pin(device: DeviceProcess, state_dir: Path) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "device_sdk", "pair", device.name, "pin", "--state-dir", str(state_dir)]
    argv += ["--interface", "lo", "--json"]
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_ctrl_c_at_the_pin_prompt_ends_pair_at_once(device: DeviceProcess, tmp_path: Path) -> None:
    pair = pair_with_pin(device, tmp_path / "ctl")
    try:
        assert pair.stdout is not None and pair.stderr is not None
        prompt = pair.stderr.read(len(PROMPT))  # blocks until the prompt shows
        assert prompt == PROMPT
        pair.send_signal(signal.SIGINT)
        started = time.monotonic()
        pair.wait(timeout=10)
        assert time.monotonic() - started < 10  # not the 60 s a PIN prompt would wait
        assert pair.returncode == 130
        assert pair.stderr.read() == "" and pair.stdout.read() == ""
    finally:
        if pair.poll() is None:
            pair.kill()
        pair.communicate()


def test_pair_with_the_code_the_device_shows(device: DeviceProcess, tmp_path: Path) -> None:
    assert device.proc is not None and device.proc.stdout is not None
    pair = pair_with_pin(device, tmp_path / "ctl")
    try:
        shown = None
        while shown is None:  # the device's JSON events, until it shows a code (bounded by the timeout)
            event = json.loads(device.proc.stdout.readline())
            if event["event"] == "PinShown":
                shown = event["text"]
        out, err = pair.communicate(shown + "\n", timeout=20)
    finally:
        if pair.poll() is None:
            pair.kill()
            pair.communicate()
    assert pair.returncode == 0, err
    assert err == PROMPT
    fp = json.loads(device.ready_file.read_text())["fp"]
    assert json.loads(out) == {"paired": True, "name": device.name, "fp": fp}
