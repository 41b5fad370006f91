"""The examples run as their users run them: device and controller scripts as separate processes,
over real QUIC on loopback, found through the device's ready file (no mDNS). Each example runs twice
in a row with the same state directories: the second run pairs again (the device already trusts the
controller) and passes as the first did."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)
RUNS = (1, 2)
"""Each example runs twice: a real user's second run pairs a device that already trusts it."""

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
CODE = "20202021"


class Script:
    """A running example script whose stdout is collected line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            async with self._changed:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self._changed.notify_all()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def wait_line(self, match: Callable[[str], bool], timeout: float = 10.0) -> str:
        """The first line ``match`` accepts (failing with the output so far after ``timeout``)."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                while True:
                    for line in self.lines:
                        if match(line):
                            return line
                    if self._reader.done():
                        break
                    await self._changed.wait()
        except TimeoutError:
            pass
        raise AssertionError(f"no matching line; output so far:\n{self.output}")

    async def wait_exit(self, timeout: float) -> int:
        async with asyncio.timeout(timeout):
            code = await self.proc.wait()
            await self._reader
        return code

    async def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 10.0) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        return await self.wait_exit(timeout)

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()


async def spawn(example: str, script: str, *args: str | Path) -> Script:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(EXAMPLES / example / script),
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    return Script(proc)


@contextlib.asynccontextmanager
async def device(example: str, tmp_path: Path, *args: str | Path) -> AsyncIterator[Script]:
    """Run ``example``'s device on loopback until it is serving; on exit kill it if still running."""
    script = await spawn(
        example,
        "device.py",
        "--state-dir",
        tmp_path / "device",
        "--ready-file",
        tmp_path / "ready.json",
        "--loopback",
        "--duration",
        "60",
        *args,
    )
    try:
        await script.wait_line(lambda line: line.startswith("serving on UDP port"), timeout=15)
        yield script
    finally:
        script.kill()
        with contextlib.suppress(Exception):
            await script.wait_exit(5)


async def run_controller(example: str, tmp_path: Path, *args: str | Path, timeout: float = 20) -> str:
    """Run ``example``'s controller to its end; its output (it must exit 0)."""
    script = await spawn(
        example,
        "controller.py",
        "--state-dir",
        tmp_path / "controller",
        "--ready-file",
        tmp_path / "ready.json",
        *args,
    )
    try:
        code = await script.wait_exit(timeout)
    finally:
        script.kill()
    assert code == 0, script.output
    return script.output


def at_plug(tmp_path: Path) -> tuple[str, ...]:
    """CLI options that reach the example device as the example controller (its state, the ready file)."""
    return ("--state-dir", str(tmp_path / "controller"), "--ready-file", str(tmp_path / "ready.json"))


async def cli(*args: str, timeout: float = 20) -> str:
    """Run ``device-sdk ARGS`` to its end; its standard output (it must exit 0)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "device_sdk", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    finally:
        if proc.returncode is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    return out.decode()


def number_after(pattern: str, text: str) -> float:
    found = re.search(pattern + r"\s*(-?[0-9.]+)", text)
    assert found is not None, f"{pattern!r} not in:\n{text}"
    return float(found.group(1))


async def test_smart_plug_sticker_button_pair_and_switch(tmp_path: Path) -> None:
    for run in RUNS:
        async with device("smart_plug", tmp_path, "--press-button") as dev:
            assert "MT:" in dev.output  # the sticker's QR text is printed
            code = (await dev.wait_line(lambda line: line.startswith("manual code:"))).split(":", 1)[1].strip()
            assert re.fullmatch(r"\d{4}-\d{3}-\d{4}", code)
            await dev.wait_line(lambda line: line == "pairing window open (button)")
            out = await run_controller("smart_plug", tmp_path, "--code", code)
            assert number_after("power with relay on:", out) > 1.0, f"run {run}"
            assert number_after("power with relay off:", out) == 0.0
            assert "relay set: True" in out and "relay set: False" in out
            await dev.wait_line(lambda line: line == "relay OFF")
            assert "relay ON" in dev.output
            paired = await dev.wait_line(lambda line: line.startswith("paired with"))
            assert paired == "paired with 'Plug demo controller' as admin"  # its own name, run after run
            # the CLI drives the paired plug with the controller's state: an action, and its answer
            for expected in (True, False):
                done = await cli("do", "plug", "relay", "toggle", "--json", *at_plug(tmp_path))
                assert json.loads(done) == {"channel": "relay", "action": "toggle", "v": expected}
            async with asyncio.timeout(10):  # the device's own report of the first toggle
                while dev.output.count("relay ON") < 2:
                    await asyncio.sleep(0.02)
            assert await dev.stop(signal.SIGTERM) == 0
            assert dev.lines[-1] == "stopped"


async def test_smart_plug_wrong_code_is_refused(tmp_path: Path) -> None:
    async with device("smart_plug", tmp_path, "--press-button") as dev:
        passcode = json.loads((tmp_path / "device" / "factory.json").read_text())["passcode"]
        wrong = next(c for c in ("20202021", "20202022") if int(c) != passcode)
        script = await spawn(
            "smart_plug",
            "controller.py",
            "--state-dir",
            tmp_path / "controller",
            "--ready-file",
            tmp_path / "ready.json",
            "--code",
            wrong,
        )
        assert await script.wait_exit(20) == 2
        assert script.lines[-1].startswith("error: WrongSetupCode"), script.output
        assert "relay ON" not in dev.output


async def test_baby_monitor_levels_alerts_light_and_audio(tmp_path: Path) -> None:
    for _run in RUNS:
        async with device("baby_monitor", tmp_path, "--setup-code", CODE, "--burst-every", "3") as dev:
            out = await run_controller(
                "baby_monitor",
                tmp_path,
                "--code",
                CODE,
                "--duration",
                "5",
                "--threshold",
                "70",
                "--night-light",
                "0.25",
            )
            assert "threshold set: 70.0" in out and "night light set: 0.25" in out
            levels = [float(m) for m in re.findall(r"^level\s+([0-9.]+) dB", out, re.MULTILINE)]
            assert len(levels) >= 20  # 10 Hz for 5 s
            assert min(levels) < 70 < max(levels)  # quiet hum and a cry
            assert "ALERT: the baby is crying" in out
            assert "room temperature" in out
            assert "audio format: pcm_s16le {'rate': 16000, 'channels': 1}" in out
            # whole 20 ms chunks of 16-bit 16 kHz audio; how fast they come is bench/channels.py's to measure
            chunks, received = number_after("audio:", out), number_after(r"chunks,", out)
            assert chunks > 0 and received == chunks * 640
            await dev.wait_line(lambda line: line == "night light PWM duty 0.25")
            assert await dev.stop(signal.SIGTERM) == 0


async def test_game_controller_streams_its_input_states(tmp_path: Path) -> None:
    for _run in RUNS:
        async with device("game_controller", tmp_path, "--setup-code", CODE) as dev:
            out = await run_controller("game_controller", tmp_path, "--code", CODE, "--frames", "1000")
            assert "first state: {'x':" in out
            assert number_after("frames", out) == 1000
            assert number_after("skipped", out) >= 0  # counted; the rate and latency are bench/channels.py's
            p50, p99 = number_after("p50", out), number_after("p99", out)
            assert 0 <= p50 <= p99, out
            assert await dev.stop(signal.SIGINT) == 0
            assert dev.lines[-1] == "stopped"


async def test_device_scripts_exit_by_themselves_after_duration(tmp_path: Path) -> None:
    for example in ("baby_monitor", "game_controller", "smart_plug"):
        script = await spawn(example, "device.py", "--state-dir", tmp_path / example, "--loopback", "--duration", "0.5")
        try:
            assert await script.wait_exit(15) == 0, script.output
        finally:
            script.kill()
        assert script.lines[-1] == "stopped", script.output
