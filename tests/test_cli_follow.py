"""`device-sdk watch --follow`: the device process stops and starts again; the watch goes on."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._cli_helpers import DeviceProcess, cli, unique_name

pytestmark = pytest.mark.timeout(60)

PASSCODE = "20202021"


def test_watch_follow_survives_a_device_restart(tmp_path: Path) -> None:
    device = DeviceProcess(
        name=unique_name("Follow"),
        state_dir=tmp_path / "device",
        ready_file=tmp_path / "ready.json",
        extra=("--setup-code", PASSCODE),
    )
    ctl = ("--state-dir", str(tmp_path / "ctl"), "--interface", "lo", "--json")
    watch: subprocess.Popen[str] | None = None
    try:
        first_port = device.start("--open-window")["port"]
        assert cli("pair", device.name, PASSCODE, *ctl).json()["name"] == device.name
        argv = [sys.executable, "-m", "device_sdk", "watch", device.name, "temperature", "--follow", "--count", "25"]
        watch = subprocess.Popen([*argv, *ctl], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert watch.stdout is not None
        for _ in range(5):  # readings flow (10 Hz)
            json.loads(watch.stdout.readline())
        assert device.stop().rc == 0
        time.sleep(0.5)  # gone for a moment
        assert device.start()["port"] != first_port  # back, same identity, another port
        out, err = watch.communicate(timeout=30)
        assert watch.returncode == 0, err
        lines = [json.loads(line) for line in out.splitlines() if line.strip()]
        assert len(lines) == 20 and all(set(r) == {"s", "t", "v"} for r in lines)
        assert "lost contact with" in err and "is back" in err and "Traceback" not in err, err
    finally:
        if watch is not None and watch.poll() is None:
            watch.kill()
            watch.communicate()
        device.kill()
