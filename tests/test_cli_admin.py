"""``device-sdk controllers / window / rename / unpair`` end to end: a ``device-sdk run --board sim``
process and each command in its own subprocess with its own controller state, reaching the device
through its ready file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from device_sdk.pairing.trust import DeviceTrustStore
from tests._cli_helpers import DeviceProcess, Result, cli, error_lines, unique_name

pytestmark = pytest.mark.timeout(90)

CODE = "20202021"
ROW_KEYS = {"name", "fp", "role", "paired_at", "last_seen", "this_controller"}


@pytest.fixture
def device(tmp_path: Path) -> Iterator[DeviceProcess]:
    dev = DeviceProcess(
        name=unique_name("Admin CLI"),
        state_dir=tmp_path / "device",
        ready_file=tmp_path / "ready.json",
        extra=("--setup-code", CODE),
    )
    dev.start()
    try:
        yield dev
    finally:
        dev.kill()


def as_controller(device: DeviceProcess, name: str, *, json_out: bool = True) -> tuple[str, ...]:
    options = (
        "--state-dir",
        str(device.state_dir.parent / name),
        "--name",
        name,
        "--ready-file",
        str(device.ready_file),
    )
    return (*options, "--json") if json_out else options


def one_error(result: Result, *words: str) -> str:
    assert result.rc == 1 and result.out == "", result
    lines = error_lines(result)
    assert len(lines) == 1, result.err
    assert all(word.lower() in lines[0].lower() for word in words), lines[0]
    for internal in ("result 1", "forbidden", "type 1", "Traceback"):
        assert internal not in lines[0]
    return lines[0]


def test_controllers_window_rename_and_unpair(device: DeviceProcess) -> None:
    name = device.name
    laptop, phone = as_controller(device, "Laptop"), as_controller(device, "Phone")
    assert cli("pair", name, CODE, *laptop).json()["paired"] is True
    assert cli("pair", name, CODE, *laptop).json()["paired"] is True  # again: safe to repeat

    rows = cli("controllers", name, *laptop).json()
    assert [set(r) for r in rows] == [ROW_KEYS]
    assert (rows[0]["name"], rows[0]["role"], rows[0]["this_controller"]) == ("Laptop", "admin", True)
    assert isinstance(rows[0]["paired_at"], float) and rows[0]["last_seen"] >= rows[0]["paired_at"]

    opened = cli("window", name, "open", "--minutes", "5", *laptop).json()
    assert opened == {"device": name, "window": "open", "minutes": 5}
    assert json.loads(device.ready_file.read_text())["cm"] == 1
    assert cli("pair", name, CODE, *phone).json()["paired"] is True
    rows = cli("controllers", name, *laptop).json()
    assert [(r["name"], r["role"], r["this_controller"]) for r in rows] == [
        ("Laptop", "admin", True),
        ("Phone", "user", False),
    ]
    text = cli("controllers", name, *as_controller(device, "Laptop", json_out=False))
    assert text.rc == 0 and "(this controller)" in text.out and "Phone" in text.out and "user" in text.out

    # A user may not list, open or rename; it is told so in a sentence.
    one_error(cli("controllers", name, *phone), "only an admin")
    one_error(cli("window", name, "open", *phone), "only an admin")
    one_error(cli("controllers", name, "remove", "Laptop", *laptop), "this controller", "unpair")
    one_error(cli("controllers", name, "remove", "Tablet", *laptop), "no controller", "Tablet")

    removed = cli("controllers", name, "remove", "phone", *laptop).json()  # a name, case aside
    assert removed == {"removed": "Phone", "fp": rows[1]["fp"]}
    assert [r["name"] for r in cli("controllers", name, *laptop).json()] == ["Laptop"]
    # The removed phone unpairs on its side: the device forgot it already, so that completes.
    assert cli("unpair", name, *phone).json()["unpaired"] == name
    assert cli("peers", *phone).json() == []

    renamed = cli("rename", name, "Kitchen Thermo", *laptop).json()
    assert renamed == {"renamed": name, "name": "Kitchen Thermo", "fp": json.loads(device.ready_file.read_text())["fp"]}
    assert [p["name"] for p in cli("peers", *laptop).json()] == ["Kitchen Thermo"]

    gone = cli("unpair", "Kitchen Thermo", *laptop).json()
    assert gone == {"unpaired": "Kitchen Thermo", "fp": renamed["fp"]}
    assert cli("peers", *laptop).json() == []
    assert DeviceTrustStore(device.state_dir / "trust.json").list() == []  # both sides forgot


def test_unpair_an_unreachable_device_offers_local_only(device: DeviceProcess) -> None:
    laptop = as_controller(device, "Laptop")
    assert cli("pair", device.name, CODE, *laptop).json()["paired"] is True
    device.stop()
    line = one_error(cli("unpair", device.name, *laptop), "could not reach", device.name, "--local-only")
    assert "Errno" not in line
    assert len(cli("peers", *laptop).json()) == 1  # nothing forgotten
    text = cli("unpair", device.name, "--local-only", *as_controller(device, "Laptop", json_out=False))
    assert text.rc == 0 and "this side only" in text.out
    assert cli("peers", *laptop).json() == []
    assert [e.name for e in DeviceTrustStore(device.state_dir / "trust.json").list()] == ["Laptop"]


def test_usage_mistakes_get_one_sentence(device: DeviceProcess) -> None:
    laptop = as_controller(device, "Laptop")
    one_error(cli("controllers", device.name, "remove", *laptop), "name the controller")
    bad = cli("window", device.name, "open", "--minutes", "60", *laptop)
    assert bad.rc == 2 and "3 to 15 minutes" in bad.err
    one_error(cli("unpair", device.name, *laptop), "not paired")
