"""A real device process in namespace A, the device-sdk CLI as controller in namespace B, joined by a
veth pair: discover over mDNS, pair by setup code, read agent-info and the catalog, stream a sensor.
Needs root (``ip netns``); skipped otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netns import LinkedNamespaces, linked_namespaces, skip_reason

pytestmark = [pytest.mark.netns, pytest.mark.timeout(60)]

PASSCODE = "20202021"


@pytest.fixture
def link() -> Iterator[LinkedNamespaces]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with linked_namespaces(subnet="10.231.9") as pair:
        yield pair


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "device_sdk", *args]


def test_discover_pair_and_use_a_device_across_namespaces(link: LinkedNamespaces, tmp_path: Path) -> None:
    ready = tmp_path / "ready.json"
    device = link.a.popen(
        cli(
            "run",
            "--board",
            "sim",
            "--name",
            "Attic Sensor",
            "--state-dir",
            str(tmp_path / "device"),
            "--interface",
            link.a_if,
            "--setup-code",
            PASSCODE,
            "--ready-file",
            str(ready),
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 15
        while not ready.exists():
            assert device.poll() is None, device.stderr.read() if device.stderr else ""
            assert time.monotonic() < deadline, "the device did not become ready"
            time.sleep(0.05)
        fp = json.loads(ready.read_text())["fp"]

        ctl = ("--state-dir", str(tmp_path / "controller"), "--interface", link.b_if, "--json")
        found = json.loads(link.b.run(cli("discover", "--timeout", "2.5", *ctl), timeout=20))
        attic = [d for d in found if d["fp"] == fp]
        assert attic and attic[0]["addresses"] == [link.a_addr] and attic[0]["cm"] == 1

        paired = json.loads(link.b.run(cli("pair", "Attic Sensor", PASSCODE, *ctl), timeout=20))
        assert paired == {"paired": True, "name": "Attic Sensor", "fp": fp}

        info = json.loads(link.b.run(cli("info", "Attic Sensor", *ctl), timeout=20))
        assert info["name"] == "Attic Sensor" and 1100 in info["capabilities"]
        assert {c["name"] for c in info["channels"]} >= {"temperature", "led"}

        lines = link.b.run(cli("watch", fp[:8], "temperature", "--count", "3", *ctl), timeout=20).splitlines()
        readings = [json.loads(line) for line in lines]
        assert len(readings) == 3 and all(isinstance(r["v"], float) for r in readings)
        assert [r["s"] for r in readings] == sorted(r["s"] for r in readings)
    finally:
        device.terminate()
        device.wait(timeout=10)
    assert device.returncode == 0
