"""The ``device-sdk`` command end to end on loopback: a ``device-sdk run --board sim --interface lo``
process and the controller commands (discover, pair, peers, info, watch, set, do, unpair), each in
its own subprocess with its own state directory, finding the device over mDNS on 127.0.0.1.

One device process serves the whole module (restarted with ``--open-window`` where a test needs a
fresh pairing window: a successful pairing closes it). Names are unique per run, since loopback mDNS
is shared with every other process on the host.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._cli_helpers import DeviceProcess, Result, cli, discover_until, error_lines, unique_name

pytestmark = pytest.mark.timeout(60)

PASSCODE = 20202021  # this run's code; the provisioned factory data hold another one
DEVICE_KEYS = {"name", "addresses", "port", "fp", "discriminator", "cm", "mv", "sn"}
PEER_KEYS = {"name", "fp", "discriminator", "addresses", "port", "paired_at"}


class Bench:
    """The module's device and what the tests need to know about it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.discriminator = 1 + secrets.randbelow(4094)
        self.device = DeviceProcess(
            name=unique_name("CLI Loop"),
            state_dir=root / "device",
            ready_file=root / "ready.json",
            extra=("--setup-code", str(PASSCODE), "--discriminator", str(self.discriminator)),
        )
        self.ready: dict[str, Any] = {}
        self.provisioned: dict[str, Any] = {}
        self.factory_before = ""

    def start(self) -> None:
        self.ready = self.device.start("--open-window")

    def controller(self, name: str) -> tuple[str, ...]:
        """Options of a controller with its own state directory (created by the first command)."""
        return ("--state-dir", str(self.root / name), "--interface", "lo", "--json")

    def make_code(self) -> dict[str, str]:
        made: dict[str, str] = cli(
            "code", "make", "--passcode", str(PASSCODE), "--discriminator", str(self.discriminator), "--json"
        ).json()
        return made


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    bench = Bench(tmp_path_factory.mktemp("cli"))
    bench.provisioned = cli("provision", "--state-dir", str(bench.device.state_dir), "--json").json()
    bench.factory_before = (bench.device.state_dir / "factory.json").read_text()
    bench.start()
    try:
        yield bench
    finally:
        bench.device.kill()


def assert_one_error(result: Result, *words: str) -> None:
    assert result.rc != 0 and result.out == "", result
    lines = error_lines(result)
    assert len(lines) == 1, result.err
    assert all(w.lower() in lines[0].lower() for w in words), lines[0]


def test_run_overrides_apply_to_this_run_only(bench: Bench) -> None:
    assert bench.ready["d"] == bench.discriminator and bench.ready["name"] == bench.device.name
    assert (bench.device.state_dir / "factory.json").read_text() == bench.factory_before
    assert bench.ready["fp"] == bench.provisioned["fp"]


def test_discover_json(bench: Bench) -> None:
    def mine_in(found: list[Any]) -> list[Any]:
        return [d for d in found if d["fp"] == bench.ready["fp"]]

    found = discover_until(lambda found: bool(mine_in(found)), "--timeout", "1.5", *bench.controller("ctl-discover"))
    assert isinstance(found, list) and all(set(d) == DEVICE_KEYS for d in found)
    mine = mine_in(found)
    assert len(mine) == 1, found
    assert mine[0]["name"] == bench.device.name and mine[0]["port"] == bench.ready["port"]
    assert mine[0]["addresses"] == ["127.0.0.1"] and mine[0]["cm"] == 1
    assert mine[0]["discriminator"] == bench.discriminator


def test_errors_are_one_line_and_fail(bench: Bench) -> None:
    ctl = bench.controller("ctl-errors")
    assert_one_error(cli("pair", unique_name("Nobody"), str(PASSCODE), *ctl), "no device")
    assert_one_error(cli("pair", bench.device.name, "MT:garbage", *ctl))
    assert_one_error(cli("info", bench.device.name, *ctl), "no paired device")
    assert_one_error(cli("unpair", bench.device.name, *ctl))
    wrong = cli("pair", bench.device.name, "20202022", *ctl)  # a valid passcode, not this device's
    assert_one_error(wrong, "code")
    assert cli("peers", *ctl).json() == []


def test_pair_by_name_with_qr_text_then_use_the_device(bench: Bench) -> None:
    ctl = bench.controller("ctl-main")
    name, fp = bench.device.name, bench.ready["fp"]
    paired = cli("pair", name, bench.make_code()["qr"], *ctl).json()
    assert paired == {"paired": True, "name": name, "fp": fp}

    peers = cli("peers", *ctl).json()
    assert [set(p) for p in peers] == [PEER_KEYS] and peers[0]["fp"] == fp

    info = cli("info", name, *ctl).json()
    assert set(info) == {"name", "model", "capabilities", "locales", "channels"}
    assert info["name"] == name and {"temperature", "led", "button"} <= {c["name"] for c in info["channels"]}

    readings = cli("watch", name, "temperature", "--count", "3", *ctl).json_lines()
    assert len(readings) == 3 and all(set(r) == {"s", "t", "v"} and isinstance(r["v"], float) for r in readings)
    assert [r["s"] for r in readings] == sorted({r["s"] for r in readings})

    assert cli("set", name, "led", "true", *ctl).json() == {"channel": "led", "v": True}
    assert cli("set", fp[:10], "led", "false", *ctl).json() == {"channel": "led", "v": False}
    assert_one_error(cli("set", name, "led", "7", *ctl))
    assert_one_error(cli("do", name, "led", "explode", *ctl), "explode")
    assert_one_error(cli("watch", name, "no_such_channel", "--count", "1", *ctl), "no_such_channel")

    # the window closed with the pairing: a second controller is refused
    assert_one_error(cli("pair", name, str(PASSCODE), *bench.controller("ctl-late")), "window")

    gone = cli("unpair", fp[:8], *ctl).json()
    assert gone == {"unpaired": name, "fp": fp}
    assert cli("peers", *ctl).json() == []


@pytest.mark.parametrize("by", ["fingerprint prefix and manual code", "discriminator and bare passcode"])
def test_pair_other_ways(bench: Bench, by: str) -> None:
    bench.device.stop()
    bench.start()  # a fresh pairing window
    ctl = bench.controller(f"ctl-{secrets.token_hex(3)}")
    if by.startswith("fingerprint"):
        device, code = bench.ready["fp"][:12], bench.make_code()["manual"]
    else:
        device, code = str(bench.discriminator), str(PASSCODE)
    paired = cli("pair", device, code, *ctl).json()
    assert paired == {"paired": True, "name": bench.device.name, "fp": bench.ready["fp"]}
    assert [p["fp"] for p in cli("peers", *ctl).json()] == [bench.ready["fp"]]


def test_watch_without_count_ends_cleanly_on_ctrl_c(bench: Bench) -> None:
    ctl = bench.controller("ctl-watch")
    bench.device.stop()
    bench.start()
    cli("pair", bench.device.name, str(PASSCODE), *ctl).json()
    watch = subprocess.Popen(
        [sys.executable, "-m", "device_sdk", "watch", bench.device.name, "temperature", *ctl],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watch.stdout is not None
        first = watch.stdout.readline()  # blocks until a reading streams (bounded by the test timeout)
        assert set(json.loads(first)) == {"s", "t", "v"}
        watch.send_signal(signal.SIGINT)
        started = time.monotonic()
        out, err = watch.communicate(timeout=10)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.communicate()
    assert time.monotonic() - started < 5
    assert watch.returncode == 0 and err.strip() == "", err
    assert all(set(json.loads(line)) == {"s", "t", "v"} for line in out.splitlines() if line)


def test_run_json_lines_and_clean_exit_on_ctrl_c(bench: Bench) -> None:
    started = time.monotonic()
    result = bench.device.stop(signal.SIGINT)
    assert time.monotonic() - started < 5
    assert result.rc == 0 and "Traceback" not in result.err, result.err
    events = [json.loads(line) for line in result.out.splitlines() if line.strip()]
    assert all(isinstance(e, dict) and "event" in e for e in events)
    serving = [e for e in events if e["event"] == "serving"]
    assert len(serving) == 1 and set(serving[0]) == {"event", "name", "port", "fp", "state_dir", "setup_code"}
    assert serving[0]["fp"] == bench.ready["fp"]
    made = bench.make_code()  # the code this run accepts (--setup-code), not the sticker's
    assert serving[0]["setup_code"] == {"qr": made["qr"], "manual": made["manual"], "source": "this run"}
    paired = [e for e in events if e["event"] == "Paired"]
    assert len(paired) == 1 and paired[0]["fingerprint"]
