"""Running the ``device-sdk`` command in subprocesses for the CLI tests: one-shot commands and a
device process (``device-sdk run``) that can be restarted and stopped by a signal."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["INTERNALS", "DeviceProcess", "Result", "assert_for_people", "cli", "error_lines", "unique_name"]

INTERNALS: tuple[tuple[str, str], ...] = (
    (r"\bresult \d+", "a protocol result number"),
    (r"\btype \d{3,}", "a message type key"),
    (r"(?<![\w/+.=-])(400|401|403|404|413|429|5139)(?![\w/+.=-])", "a close code"),
    (r"\b\w+=(True|False|None)\b|\bPass \w+=", "a Python parameter"),
    (r"\b(min_interval_ms|override|allow_name_change|ask_pin|pairable_only)\b", "a Python parameter name"),
    (r"Errno|No such file or directory|Not a directory|File exists|Permission denied|Is a directory", "errno text"),
    (r"Broken pipe|Connection refused|Address already in use|Read-only file system", "errno text"),
    (r"Traceback|\b[A-Z]\w*(Error|Exception)\b|NoneType|object has no attribute", "a Python exception"),
    (r"could not convert|invalid literal|not supported between", "a Python exception's text"),
    (r"\b(bad-type|out-of-range|unknown-op|forbidden|failed|busy):", "an error code prefix"),
    (r"Idle timeout|closed by (peer|local side)|before authentication", "transport internals"),
)
"""What a person must never read in a message of the CLI (pattern, what it is): written once, checked by
:func:`error_lines` for every error any CLI test sees."""


def assert_for_people(message: str) -> None:
    """``message`` is one sentence with no internals (see :data:`INTERNALS`)."""
    for pattern, what in INTERNALS:
        found = re.search(pattern, message)
        assert found is None, f"{what} ({found.group(0)!r}) in: {message}"
    assert "\n" not in message.strip(), f"more than one line: {message!r}"
    assert re.search(r"[.!?]\s+[A-Z]", message) is None, f"more than one sentence: {message}"


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


def cli(*args: str, timeout: float = 20, env: dict[str, str] | None = None) -> Result:
    """Run ``device-sdk args...`` (as ``python -m device_sdk``) to completion (in ``env`` if given)."""
    proc = subprocess.run(
        [sys.executable, "-m", "device_sdk", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def discover_until(done: Callable[[list[Any]], bool], *args: str, seconds: float = 20) -> list[Any]:
    """``device-sdk discover args...`` (``args`` with ``--json``) again until ``done`` holds for what it
    lists (a loaded machine may answer one discover window too late), or ``seconds`` have passed: the
    last listing."""
    deadline = time.monotonic() + seconds
    while True:
        found: list[Any] = cli("discover", *args).json()
        if done(found) or time.monotonic() > deadline:
            return found


def error_lines(result: Result) -> list[str]:
    """The error lines of a failed command (log warnings about other devices on the network aside),
    each checked to be for people (:func:`assert_for_people`)."""
    assert "Traceback" not in result.err, result.err
    lines = [line for line in result.err.splitlines() if line.startswith("device-sdk: error:")]
    for line in lines:
        assert_for_people(line.removeprefix("device-sdk: error:"))
    return lines


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
        self.start_in_background(*more)
        return self.wait_ready(timeout)

    def start_in_background(self, *more: str) -> None:
        """Start the device; :meth:`wait_ready` waits until it serves."""
        self.ready_file.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "device_sdk", "run", "--board", "sim", "--interface", "lo"]
        argv += ["--name", self.name, "--state-dir", str(self.state_dir), "--ready-file", str(self.ready_file)]
        argv += ["--json", *self.extra, *more]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_ready(self, timeout: float = 15) -> dict[str, Any]:
        """The ready file, once the device started by :meth:`start_in_background` serves."""
        assert self.proc is not None
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
