"""The sim control protocol (pure) and its server on a real Unix socket over a sim runtime on mock pins."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from device_sdk.errors import HardwareError
from device_sdk.hardware import HardwareRuntime, LedPattern, SimulatedBoard, parse_profile_text, sim_runtime
from device_sdk.hardware.sim_control import SimController, SimControlServer, sim_request, sim_socket_path
from device_sdk.hardware.sim_protocol import (
    MAX_LINE_BYTES,
    Force,
    Press,
    SetInput,
    SimControlError,
    Status,
    decode_request,
    decode_response,
    encode_request,
    encode_response,
    error_response,
    parse_request,
)

pytestmark = pytest.mark.timeout(20)

SIM_TOML = (Path(__file__).resolve().parents[1] / "device_sdk" / "hardware" / "board_profiles" / "sim.toml").read_text()


# -- the protocol (pure) --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"op": "press"}, Press(name="pairing_button", hold_s=0.2)),
        ({"op": "press", "name": "button", "hold_s": 10.5}, Press(name="button", hold_s=10.5)),
        ({"op": "press", "hold_s": 1}, Press(hold_s=1.0)),
        ({"op": "set", "name": "motion", "active": True}, SetInput(name="motion", active=True)),
        ({"op": "force", "name": "temperature", "value": 30}, Force(name="temperature", value=30.0)),
        ({"op": "force", "name": "temperature", "value": None}, Force(name="temperature", value=None)),
        ({"op": "status"}, Status()),
    ],
)
def test_valid_requests_parse(value: object, expected: object) -> None:
    assert parse_request(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "JSON object"),
        ({}, "'op' must be one of"),
        ({"op": "reboot"}, "'op' must be one of"),
        ({"op": 3}, "'op' must be one of"),
        ({"op": "status", "extra": 1}, "unknown keys extra"),
        ({"op": "set", "name": "motion"}, "missing active"),
        ({"op": "set", "name": "motion", "active": 1}, "'active' must be true or false"),
        ({"op": "press", "name": ""}, "'name' must be a string"),
        ({"op": "press", "name": "x" * 65}, "'name' must be a string"),
        ({"op": "press", "name": 7}, "'name' must be a string"),
        ({"op": "press", "hold_s": 0}, "'hold_s' must be in"),
        ({"op": "press", "hold_s": -1}, "'hold_s' must be in"),
        ({"op": "press", "hold_s": 31}, "'hold_s' must be in"),
        ({"op": "press", "hold_s": True}, "'hold_s' must be a finite number"),
        ({"op": "press", "hold_s": "1"}, "'hold_s' must be a finite number"),
        ({"op": "force", "name": "t", "value": float("nan")}, "'value' must be a finite number"),
        ({"op": "force", "name": "t", "value": "hot"}, "'value' must be a finite number"),
    ],
)
def test_invalid_requests_are_clear_errors(value: object, message: str) -> None:
    with pytest.raises(SimControlError, match=message):
        parse_request(value)


@pytest.mark.parametrize("line", [b"", b"not json\n", b"\xff\xfe\n", b"[1, 2\n", b'"status"\n'])
def test_undecodable_lines_are_errors(line: bytes) -> None:
    with pytest.raises(SimControlError):
        decode_request(line)


def test_overlong_line_is_refused() -> None:
    with pytest.raises(SimControlError, match="longer than"):
        decode_request(b'{"op": "status", "pad": "' + b"x" * MAX_LINE_BYTES + b'"}\n')


@pytest.mark.parametrize(
    "request_",
    [
        Press(),
        Press(name="button", hold_s=0.75),
        SetInput(name="motion", active=False),
        Force(name="t", value=None),
        Force(name="t", value=-3.5),
        Status(),
    ],
)
def test_requests_round_trip_as_one_line(request_: Press | SetInput | Force | Status) -> None:
    line = encode_request(request_)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_request(line) == request_


def test_responses() -> None:
    assert decode_response(encode_response({"pressed": "pairing_button"})) == {"pressed": "pairing_button"}
    assert json.loads(encode_response({"ok": False, "x": 1})) == {"ok": True, "x": 1}  # ok is not overridable
    with pytest.raises(SimControlError, match="no such thing"):
        decode_response(error_response("no such thing"))
    for garbage in (b"nope\n", b"[]\n", b'{"x": 1}\n'):
        with pytest.raises(SimControlError):
            decode_response(garbage)


# -- the server on a running sim runtime ----------------------------------------------------------


@dataclass
class Rig:
    runtime: HardwareRuntime
    board: SimulatedBoard
    server: SimControlServer
    state_dir: Path
    short: list[str] = field(default_factory=list)
    long: list[str] = field(default_factory=list)


async def start_rig(state_dir: Path) -> Rig:
    runtime = sim_runtime()
    board = SimulatedBoard(runtime)
    values: dict[str, object] = {}
    server = SimControlServer(
        path=sim_socket_path(state_dir),
        controller=SimController(board=board, values=values, status_extra=lambda: {"extra": "yes"}),
    )
    rig = Rig(runtime=runtime, board=board, server=server, state_dir=state_dir)
    await runtime.start(
        values.__setitem__,
        on_short_press=lambda: rig.short.append("short"),
        on_long_press=lambda: rig.long.append("long"),
    )
    await server.start()
    return rig


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    r = await start_rig(tmp_path)
    yield r
    await r.server.stop()
    await r.runtime.stop()


async def test_socket_is_private_and_removed_on_stop(tmp_path: Path) -> None:
    r = await start_rig(tmp_path)
    path = sim_socket_path(tmp_path)
    try:
        mode = os.stat(path).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
    finally:
        await r.server.stop()
        await r.runtime.stop()
    assert not path.exists()
    with pytest.raises(SimControlError, match="no simulated device is running"):
        await sim_request(tmp_path, Status())


async def test_press_opens_the_window_by_the_real_button_path(rig: Rig) -> None:
    assert rig.runtime.button is not None
    result = await sim_request(rig.state_dir, Press())
    assert result == {"pressed": "pairing_button", "hold_s": 0.2}
    assert rig.short == ["short"] and rig.long == []  # counted by the time the answer came
    assert not rig.runtime.button.is_pressed


async def test_status_reads_the_board(rig: Rig) -> None:
    assert rig.runtime.status_led is not None
    rig.runtime.status_led.show(LedPattern.PAIRED)
    await asyncio.sleep(0.15)  # let the sensors report once
    status = await sim_request(rig.state_dir, Status())
    assert status["board"] == "sim"
    assert status["status_led"] == {"pattern": "paired", "lit": True, "pin": 1}
    assert status["pairing_button"] == {"pressed": False, "hold_s": 10.0}
    assert status["inputs"] == {"button": False, "motion": False}
    assert status["outputs"] == {"led": False, "night_light": 0.0}
    assert status["forced"] == {"temperature": None, "sound_level": None}
    assert isinstance(status["values"]["temperature"], float)
    assert status["extra"] == "yes"
    rig.runtime.status_led.show(LedPattern.OFF)
    assert (await sim_request(rig.state_dir, Status()))["status_led"] == {"pattern": "off", "lit": False, "pin": 0}


async def test_set_input_and_force_sensor(rig: Rig) -> None:
    assert await sim_request(rig.state_dir, SetInput(name="motion", active=True)) == {"name": "motion", "active": True}
    assert await sim_request(rig.state_dir, Force(name="temperature", value=30.0)) == {
        "name": "temperature",
        "value": 30.0,
    }
    await asyncio.sleep(0.25)  # two samples at 10 Hz, and the motion debounce
    status = await sim_request(rig.state_dir, Status())
    assert status["inputs"]["motion"] is True and status["values"]["motion"] is True
    assert status["values"]["temperature"] == 30.0 and status["forced"]["temperature"] == 30.0
    await sim_request(rig.state_dir, Force(name="temperature", value=None))
    assert (await sim_request(rig.state_dir, Status()))["forced"]["temperature"] is None


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (Press(name="nope"), "no button or motion sensor 'nope'"),
        (Press(name="temperature"), "no button or motion sensor 'temperature'"),
        (Press(hold_s=0.01), "longer than the debounce"),
        (SetInput(name="led", active=True), "no button or motion sensor 'led'"),
        (Force(name="led", value=1.0), "no sensor 'led' that can be forced"),
        (Force(name="temperature", value=99.0), r"takes values in 10..35"),
    ],
)
async def test_board_refusals_are_error_responses(rig: Rig, request_: Press | SetInput | Force, message: str) -> None:
    with pytest.raises(SimControlError, match=message):
        await sim_request(rig.state_dir, request_)
    assert rig.short == []


async def test_bad_lines_get_errors_and_the_connection_survives(rig: Rig) -> None:
    reader, writer = await asyncio.open_unix_connection(str(sim_socket_path(rig.state_dir)))
    try:
        writer.write(b"garbage\n\n" + b'{"op": "launch"}\n' + b'{"op":"press","name":"motion","hold_s":"x"}\n')
        writer.write(encode_request(Status()))
        answers = [json.loads(await reader.readline()) for _ in range(4)]
        assert [a["ok"] for a in answers] == [False, False, False, True]
        assert "JSON" in answers[0]["error"] and "'op'" in answers[1]["error"]
        # a line over the limit ends the connection with an error, the server lives on
        writer.write(b'{"op":"status","pad":"' + b"x" * (2 * MAX_LINE_BYTES) + b'"}\n')
        last = json.loads(await reader.readline())
        assert last["ok"] is False and "longer than" in last["error"]
        assert await reader.read() == b""
    finally:
        writer.close()
    assert (await sim_request(rig.state_dir, Status()))["board"] == "sim"


async def test_concurrent_press_of_one_button_is_refused(rig: Rig) -> None:
    first = asyncio.create_task(sim_request(rig.state_dir, Press(hold_s=0.4)))
    await asyncio.sleep(0.1)
    with pytest.raises(SimControlError, match="already being pressed"):
        await sim_request(rig.state_dir, Press())
    status = await sim_request(rig.state_dir, Status())  # other requests go on meanwhile
    assert status["pairing_button"]["pressed"] is True
    await first
    assert rig.short == ["short"]


async def test_a_hold_is_a_long_press(tmp_path: Path) -> None:
    profile = parse_profile_text(SIM_TOML.replace("hold_s = 10.0", "hold_s = 0.3"), source="sim-fast.toml")
    runtime = HardwareRuntime(profile)
    long: list[str] = []
    server = SimControlServer(path=tmp_path / "sim.sock", controller=SimController(board=SimulatedBoard(runtime)))
    await runtime.start(lambda n, v: None, on_long_press=lambda: long.append("long"))
    await server.start()
    try:
        await sim_request(tmp_path, Press(hold_s=0.5))
        assert long == ["long"]
    finally:
        await server.stop()
        await runtime.stop()


async def test_stale_socket_is_replaced_but_a_live_one_is_not(tmp_path: Path) -> None:
    path = sim_socket_path(tmp_path)
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))
    dead.close()  # the file stays, nobody listens: a crashed device
    r = await start_rig(tmp_path)
    try:
        assert (await sim_request(tmp_path, Status()))["board"] == "sim"
        second = SimControlServer(path=path, controller=SimController(board=r.board))
        with pytest.raises(SimControlError, match="another device is serving"):
            await second.start()
        assert (await sim_request(tmp_path, Status()))["board"] == "sim"  # the first still serves
    finally:
        await r.server.stop()
        await r.runtime.stop()


async def test_a_regular_file_in_the_way_is_an_error(tmp_path: Path) -> None:
    sim_socket_path(tmp_path).write_text("not a socket")
    server = SimControlServer(
        path=sim_socket_path(tmp_path), controller=SimController(board=SimulatedBoard(sim_runtime()))
    )
    with pytest.raises(SimControlError, match="not a socket"):
        await server.start()
    assert sim_socket_path(tmp_path).read_text() == "not a socket"


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd (Linux)")
async def test_a_state_dir_longer_than_sun_path_works(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    assert len(os.fsencode(sim_socket_path(deep))) > 108
    r = await start_rig(deep)
    try:
        assert sim_socket_path(deep).exists()
        await sim_request(deep, Press())
        assert r.short == ["short"]
    finally:
        await r.server.stop()
        await r.runtime.stop()
    assert not sim_socket_path(deep).exists()


def test_sim_controller_needs_mock_pins() -> None:
    class NotMock:
        pin_factory = object()

    with pytest.raises(HardwareError, match="MockFactory"):
        SimulatedBoard(NotMock())  # type: ignore[arg-type]
