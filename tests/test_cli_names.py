"""Five ``device-sdk run --name Thermo`` processes started together on one host are advertised under five
names (``Thermo``, ``Thermo (2)`` ... ``Thermo (5)``), each device knows its own, and ``discover`` lists
all five. (Before: the processes' mDNS probes were answered by unicast to port 5353, which the kernel
gives to one socket of the host, and simultaneous probes never broke ties: two devices often both
advertised "Thermo".)"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests._cli_helpers import DeviceProcess, discover_until, unique_name

pytestmark = pytest.mark.timeout(90)


def test_five_devices_with_one_name_on_one_host(tmp_path: Path) -> None:
    name = unique_name("Thermo")
    devices = [DeviceProcess(name, tmp_path / f"d{i}", tmp_path / f"ready{i}.json") for i in range(5)]
    try:
        for device in devices:  # started without waiting for each other: their probes overlap
            device.ready_file.unlink(missing_ok=True)
            device.start_in_background()
        ready = [device.wait_ready(timeout=45) for device in devices]
        expected = {name, *(f"{name} ({n})" for n in range(2, 6))}
        deadline = time.monotonic() + 20
        while {r["name"] for r in ready} != expected:  # a tie lost after announcing renames a little later
            assert time.monotonic() < deadline, [r["name"] for r in ready]
            time.sleep(0.2)
            ready = [json.loads(device.ready_file.read_text()) for device in devices]
        wanted = {r["name"]: r["fp"] for r in ready}

        def listed(found: list[Any]) -> dict[str, str]:
            return {d["name"]: d["fp"] for d in found if d["name"] in expected}

        at = ("--timeout", "2", "--state-dir", str(tmp_path / "ctl"), "--interface", "lo", "--json")
        assert listed(discover_until(lambda found: listed(found) == wanted, *at, seconds=30)) == wanted
    finally:
        for device in devices:
            device.kill()
