"""Every error path of the ``device-sdk`` command that a test can reach, run as a subprocess on loopback
against a real ``device-sdk run --board sim``: each ends with one line for people (no protocol numbers,
type keys, Python names or errno text: ``tests._cli_helpers.INTERNALS``), saying what to do next, and a
mistyped device, channel or part name gets "did you mean".

The module's device is paired with one controller; a second controller ("stranger") is not paired.
"""

from __future__ import annotations

import errno
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from device_sdk.cli.device_cmds import _render
from device_sdk.cli.messages import ErrorContext, describe, did_you_mean
from device_sdk.device.events import PairingFailed
from device_sdk.errors import (
    ActuatorError,
    ChannelOpenFailed,
    ConnectionClosed,
    ConnectTimeout,
    FingerprintMismatch,
    InvalidSetupCode,
    LockedOut,
    PairingTimeout,
    RemoteProtocolError,
    TransportError,
)
from tests._cli_helpers import DeviceProcess, Result, assert_for_people, cli, error_lines, unique_name

pytestmark = pytest.mark.timeout(60)

PASSCODE = "20202021"


@dataclass
class Bench:
    root: Path
    device: DeviceProcess
    ready: dict[str, Any]
    wrong_code: Result
    """``pair`` with a wrong code, tried while the window was open (before the controller paired)."""

    @property
    def name(self) -> str:
        return self.device.name

    def ctl(self, who: str = "ctl") -> tuple[str, ...]:
        return ("--state-dir", str(self.root / who), "--interface", "lo")


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    root = tmp_path_factory.mktemp("messages")
    device = DeviceProcess(
        name=unique_name("Msg Thermo"),
        state_dir=root / "device",
        ready_file=root / "ready.json",
        extra=("--setup-code", PASSCODE),
    )
    ready = device.start("--open-window")
    try:
        wrong = cli("pair", device.name, "20202022", "--state-dir", str(root / "wrong"), "--interface", "lo")
        bench = Bench(root, device, ready, wrong)
        assert cli("pair", device.name, PASSCODE, *bench.ctl(), "--json").json()["name"] == device.name
        yield bench
    finally:
        device.kill()


def typo(name: str) -> str:
    """``name`` with two letters swapped (a typing slip)."""
    return name[:1] + name[2] + name[1] + name[3:]


def one_error(result: Result, *fragments: str) -> str:
    """The one error line of a failed command (checked for people), holding each of ``fragments``."""
    assert result.rc != 0, result
    lines = error_lines(result)
    assert len(lines) == 1, result.err
    message = lines[0].removeprefix("device-sdk: error: ")
    for fragment in fragments:
        assert fragment.lower() in message.lower(), message
    return message


Case = Callable[[Bench], tuple[tuple[str, ...], tuple[str, ...]]]
"""A failing command and the fragments its message holds, made from the bench."""

CONTROLLER_CASES: dict[str, Case] = {
    "pair a mistyped device": lambda b: (
        ("pair", typo(b.name), PASSCODE, *b.ctl("stranger")),
        ("did you mean", repr(b.name)),
    ),
    "pair with text that is no code": lambda b: (
        ("pair", b.name, "MT:garbage", *b.ctl("stranger")),
        ("'MT:garbage' is not a setup code", "manual code"),
    ),
    "pair at a closed window": lambda b: (
        ("pair", b.name, PASSCODE, *b.ctl("stranger")),
        ("pairing window is closed", "press its pairing button"),
    ),
    "pair by code with no open window": lambda b: (
        ("pair", "-", PASSCODE, *b.ctl("stranger")),
        ("no device with an open pairing window",),
    ),
    "info of a mistyped device": lambda b: (
        ("info", typo(b.name), *b.ctl()),
        ("no paired device", "did you mean", repr(b.name)),
    ),
    "info of a device this controller has not paired": lambda b: (
        ("info", b.name, *b.ctl("stranger")),
        ("no paired device is called", "device-sdk pair"),
    ),
    "watch a mistyped channel": lambda b: (
        ("watch", b.name, "temprature", "--count", "1", *b.ctl()),
        (f"{b.name} has no channel 'temprature'; did you mean 'temperature'?",),
    ),
    "watch a channel unlike any": lambda b: (
        ("watch", b.name, "nonexistent_stream", *b.ctl()),
        ("has no channel 'nonexistent_stream'", "its channels are"),
    ),
    "set a mistyped channel": lambda b: (
        ("set", b.name, "ledd", "true", *b.ctl()),
        ("did you mean 'led'",),
    ),
    "set a sensor": lambda b: (
        ("set", b.name, "temperature", "20", *b.ctl()),
        ("'temperature' is a sensor", "device-sdk watch"),
    ),
    "set a value of the wrong type": lambda b: (
        ("set", b.name, "led", "7", *b.ctl()),
        ("'led' refused", "true or false"),
    ),
    "set a value out of range": lambda b: (
        ("set", b.name, "night_light", "2", *b.ctl()),
        ("'night_light' refused",),
    ),
    "do an action the actuator lacks": lambda b: (
        ("do", b.name, "led", "explode", *b.ctl()),
        ("'led' has no action 'explode'",),
    ),
    "listen to a sensor": lambda b: (
        ("listen", b.name, "temperature", "--out", str(b.root / "x.wav"), *b.ctl()),
        ("'temperature' is a sensor", "device-sdk watch"),
    ),
    "unpair a device never paired": lambda b: (
        ("unpair", "Nobody at all", *b.ctl()),
        ("no paired device",),
    ),
    "browse on an unknown interface": lambda b: (
        ("discover", "--timeout", "0.5", "--state-dir", str(b.root / "ctl"), "--interface", "nope0"),
        ("no network interface is called 'nope0'", "this machine has"),
    ),
    "a controller state directory that is a file": lambda b: (
        ("peers", "--state-dir", str(b.root / "ready.json")),
        ("is a file, not a directory", "--state-dir"),
    ),
}


@pytest.mark.parametrize("case", list(CONTROLLER_CASES))
def test_controller_errors_are_for_people(bench: Bench, case: str) -> None:
    argv, fragments = CONTROLLER_CASES[case](bench)
    one_error(cli(*argv), *fragments)


def test_a_wrong_code_says_to_check_the_sticker(bench: Bench) -> None:
    one_error(bench.wrong_code, "did not accept the setup code", "sticker")


def _config(bench: Bench, name: str, text: str) -> str:
    path = bench.root / name
    path.write_text(text)
    return str(path)


DEVICE_CASES: dict[str, Case] = {
    "run with a state directory that is a file": lambda b: (
        ("run", "--board", "sim", "--state-dir", str(b.root / "ready.json"), "--no-advertise"),
        ("the state directory", "is a file, not a directory"),
    ),
    "run inside a file": lambda b: (
        ("run", "--board", "sim", "--state-dir", str(b.root / "ready.json" / "dev"), "--no-advertise"),
        ("cannot be created", "is a file"),
    ),
    "run an unknown board": lambda b: (
        ("run", "--board", "pi-9", "--state-dir", str(b.root / "dev-board"), "--no-advertise"),
        ("unknown board 'pi-9'", "pi-4b"),
    ),
    "run on a port in use": lambda b: (
        ("run", "--port", str(b.ready["port"]), "--state-dir", str(b.root / "dev-port"), "--no-advertise"),
        (f"cannot serve on udp port {b.ready['port']}", "--port"),
    ),
    "run with a config file that is missing": lambda b: (
        ("run", "--config", str(b.root / "none.toml"), "--state-dir", str(b.root / "dev-cfg")),
        ("does not exist",),
    ),
    "run with a config file that is not TOML": lambda b: (
        ("run", "--config", _config(b, "bad.toml", "[device\nname = 1"), "--state-dir", str(b.root / "dev-cfg")),
        ("is not valid toml",),
    ),
    "run with a config file with an unknown setting": lambda b: (
        ("run", "--config", _config(b, "key.toml", "[device]\nnmae = 'x'\n"), "--state-dir", str(b.root / "d")),
        ("settings device_sdk does not know: nmae",),
    ),
    "run with a config file with a wrong value": lambda b: (
        ("run", "--config", _config(b, "val.toml", "[device]\nport = 'x'\n"), "--state-dir", str(b.root / "d")),
        ("the setting port takes a whole number",),
    ),
    "provision another passcode over the factory data": lambda b: (
        ("provision", "--state-dir", str(b.device.state_dir), "--passcode", "20202022"),
        ("kept for life", "--setup-code"),
    ),
    "provision into a file": lambda b: (
        ("provision", "--state-dir", str(b.root / "ready.json")),
        ("is a file, not a directory",),
    ),
    "parse a mistyped manual code": lambda b: (("code", "parse", "3497-011-2333"), ("is not a setup code",)),
    "make a code from a forbidden passcode": lambda b: (
        ("code", "make", "--passcode", "11111111", "--discriminator", "1"),
        ("cannot make a setup code",),
    ),
    "force a sensor with no number": lambda b: (
        ("sim", "force", "temperature", "hot", "--state-dir", str(b.device.state_dir)),
        ("'hot' is not a number",),
    ),
    "force a mistyped sensor": lambda b: (
        ("sim", "force", "temprature", "20", "--state-dir", str(b.device.state_dir)),
        ("did you mean 'temperature'",),
    ),
    "force beyond the sensor's range": lambda b: (
        ("sim", "force", "temperature", "99", "--state-dir", str(b.device.state_dir)),
        ("takes values in 10..35",),
    ),
    "press a mistyped button": lambda b: (
        ("sim", "press", "buton", "--state-dir", str(b.device.state_dir)),
        ("did you mean 'button'",),
    ),
    "drive a device that is not running": lambda b: (
        ("sim", "status", "--state-dir", str(b.root / "nothing-here")),
        ("no simulated device is running",),
    ),
}


@pytest.mark.parametrize("case", list(DEVICE_CASES))
def test_device_and_tool_errors_are_for_people(bench: Bench, case: str) -> None:
    argv, fragments = DEVICE_CASES[case](bench)
    one_error(cli(*argv), *fragments)


@pytest.mark.parametrize("argv", [("watch", "D", "c", "--count", "0"), ("code", "make", "--passcode", "x")])
def test_bad_arguments_name_the_argument(argv: tuple[str, ...]) -> None:
    result = cli(*argv)
    assert result.rc == 2 and result.out == ""
    line = [x for x in result.err.splitlines() if "error:" in x][-1]
    assert_for_people(line.split("error:", 1)[1])
    assert "argument" in line


def test_an_unwritable_state_directory_is_one_line(tmp_path: Path) -> None:
    """As another user when the tests run as root (root may write anywhere)."""
    shared = Path(tempfile.mkdtemp(prefix="device-sdk-ro-"))
    try:
        shared.chmod(0o755)
        argv = [sys.executable, "-m", "device_sdk", "run", "--board", "sim", "--state-dir", str(shared)]
        argv += ["--no-advertise"]
        if os.geteuid() == 0:
            setpriv = shutil.which("setpriv")
            if setpriv is None:
                pytest.skip("running as root without setpriv: no other user to try as")
            argv = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
        else:
            shared.chmod(0o555)
        env = {**os.environ, "HOME": str(shared)}
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False, env=env)
        one_error(Result(proc.returncode, proc.stdout, proc.stderr), f"the state directory {shared}", "writ")
        doctor = cli("doctor", "--state-dir", str(tmp_path / "file"), "--json")  # a missing dir is fine
        assert {c["check"]: c for c in json.loads(doctor.out)}["state dir"]["ok"] is True
    finally:
        shared.chmod(0o755)
        shutil.rmtree(shared)


def test_a_closed_pipe_ends_quietly(bench: Bench) -> None:
    """``device-sdk watch ... | head -1``: the reader goes away; the command ends without a word."""
    argv = [sys.executable, "-m", "device_sdk", "watch", bench.name, "temperature", *bench.ctl(), "--json"]
    watch = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert watch.stdout is not None and watch.stderr is not None
        json.loads(watch.stdout.readline())  # one reading arrived
        watch.stdout.close()  # head -1 is done
        err = watch.stderr.read()
        watch.wait(timeout=15)
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()
    assert err == "" and watch.returncode == 141


def test_listen_on_a_terminal_asks_for_a_file(bench: Bench) -> None:
    leader, follower = pty.openpty()
    try:
        argv = [sys.executable, "-m", "device_sdk", "listen", bench.name, "audio", *bench.ctl()]
        proc = subprocess.run(argv, stdout=follower, stderr=subprocess.PIPE, text=True, timeout=30, check=False)
    finally:
        os.close(follower)
        os.close(leader)
    one_error(Result(proc.returncode, "", proc.stderr), "--out")


def test_a_device_that_forgot_this_controller(bench: Bench) -> None:
    """The device lost its trust store (reset): the controller is told to pair again, by name."""
    bench.device.stop()
    (bench.device.state_dir / "trust.json").unlink()
    bench.ready = bench.device.start()
    for argv in (("info", bench.name), ("watch", bench.name, "temperature"), ("set", bench.name, "led", "true")):
        one_error(cli(*argv, *bench.ctl()), f"{bench.name} does not trust this controller", "pair again")


def test_a_device_that_is_gone(bench: Bench) -> None:
    bench.device.stop(signal.SIGTERM)
    one_error(cli("info", bench.name, *bench.ctl()), "was not found on the network", "switched on")
    bench.ready = bench.device.start()


# -- the sentences themselves, for errors no loopback run provokes (pure functions) ---------------------


def test_did_you_mean_ignores_case_and_the_word_itself() -> None:
    assert did_you_mean("Thrmo", ["Thermo", "Lamp"]) == "; did you mean 'Thermo'?"
    assert did_you_mean("THERMO 2", ["Thermo (2)", "Thermo (3)"]) == "; did you mean 'Thermo (2)' or 'Thermo (3)'?"
    assert did_you_mean("thermo", ["Thermo"]) == ""  # the same name: nothing to suggest
    assert did_you_mean("zzz", ["Thermo"]) == ""


@pytest.mark.parametrize("code", [0, 1, 400, 401, 403, 404, 413, 429, 5139, 6000])
@pytest.mark.parametrize("by_peer", [True, False])
def test_every_closed_connection_is_told_for_people(code: int, by_peer: bool) -> None:
    error = ConnectionClosed(code, "type 1101 before authentication", by_peer=by_peer)
    assert_for_people(str(error))
    message = describe(error, ErrorContext(device="Thermo"))
    assert_for_people(message)
    assert "Thermo" in message


@pytest.mark.parametrize("result", [100, 101, 102, 103, 199])
def test_every_refused_channel_is_told_for_people(result: int) -> None:
    error = ChannelOpenFailed("temprature", result)
    assert_for_people(str(error))
    assert_for_people(describe(error, ErrorContext(device="Thermo")))


@pytest.mark.parametrize("code", ["out-of-range", "bad-type", "busy", "forbidden", "failed", "unknown-op", "new"])
def test_every_actuator_refusal_is_told_for_people(code: str) -> None:
    for error in (ActuatorError(code), ActuatorError(code, "the pump is dry")):
        assert_for_people(str(error))
        assert_for_people(describe(error, ErrorContext(device="Thermo", channel="pump")))


def test_other_library_errors_are_told_for_people() -> None:
    ctx = ErrorContext(device="Thermo", code="MT:xyz")
    for error in (
        LockedOut(31.6),
        FingerprintMismatch("A" * 44, "B" * 44),
        ConnectTimeout("no QUIC handshake with 127.0.0.1:4433 in 5 s"),
        TransportError("cannot connect to 127.0.0.1:4433: [Errno 111] Connection refused"),
        RemoteProtocolError(400, "type 1101 before authentication"),
        InvalidSetupCode("bad prefix"),
        PairingTimeout("x"),
        OSError(errno.EACCES, "Permission denied", "/var/lib/x"),
        OSError(errno.ENOSPC, "No space left on device", "/var/lib/x"),
    ):
        assert_for_people(describe(error, ctx))
    assert "Thermo is not taking pairing attempts for 32 s" in describe(LockedOut(31.6), ctx)


def test_run_tells_a_refusal_from_a_failed_attempt(capsys: pytest.CaptureFixture[str]) -> None:
    """`run`'s event lines: a handshake turned away tested no code and counts as no failure."""
    _render(PairingFailed("pairing window closed", refused=True), False)
    _render(PairingFailed("wrong setup code"), False)
    assert capsys.readouterr().out.splitlines() == [
        "pairing refused: pairing window closed",
        "pairing attempt failed: wrong setup code",
    ]
