"""Running the ``device-sdk`` command in subprocesses for the CLI tests: one-shot commands and a
device process (``device-sdk run``) that can be restarted and stopped by a signal."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["DeviceProcess", "Result", "cli", "error_lines", "unique_name"]


def unique_name(base: str) -> str:
    """A device name no other test on this host uses (loopback mDNS is shared by every process)."""
    return f"{base} {os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Result:
    """What a finished command left: exit code, stdout, stderr."""

    rc: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout as one JSON document (fails the test when it is not)."""
        assert self.rc == 0, f"exit {self.rc}: {self.err}"
        return json.loads(self.out)

    def json_lines(self) -> list[Any]:
        """stdout as JSON lines, one document per non-empty line."""
        assert self.rc == 0, f"exit {self.rc}: {self.err}"
        return [json.loads(line) for line in self.out.splitlines() if line.strip()]


def cli(*args: str, timeout: float = 20) -> Result:
    """Run ``device-sdk args...`` (as ``python -m device_sdk``) to completion."""
    proc = subprocess.run(
        [sys.executable, "-m", "device_sdk", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def error_lines(result: Result) -> list[str]:
    """The error lines of a failed command (log warnings about other devices on the network aside)."""
    assert "Traceback" not in result.err, result.err
    return [line for line in result.err.splitlines() if line.startswith("device-sdk: error:")]


@dataclass
class DeviceProcess:
    """``device-sdk run --board sim --interface lo --json`` with a state directory and ready file."""

    name: str
    state_dir: Path
    ready_file: Path
    extra: tuple[str, ...] = ()
    proc: subprocess.Popen[str] | None = field(default=None, repr=False)

    def start(self, *more: str, timeout: float = 15) -> dict[str, Any]:
        """Start the device and return its ready file once it serves."""
        self.ready_file.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "device_sdk", "run", "--board", "sim", "--interface", "lo"]
        argv += ["--name", self.name, "--state-dir", str(self.state_dir), "--ready-file", str(self.ready_file)]
        argv += ["--json", *self.extra, *more]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        while not self.ready_file.exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"the device exited with {self.proc.returncode}: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the device did not become ready"
            time.sleep(0.05)
        ready: dict[str, Any] = json.loads(self.ready_file.read_text())
        return ready

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10) -> Result:
        """Send ``sig`` and wait (killing it after ``timeout``); the exit code and its output."""
        assert self.proc is not None
        proc, self.proc = self.proc, None
        proc.send_signal(sig)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"the device did not exit within {timeout} s of signal {sig}") from None
        return Result(proc.returncode, out, err)

    def kill(self) -> None:
        """Kill it if it runs (teardown after a failure)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
        self.proc = None
