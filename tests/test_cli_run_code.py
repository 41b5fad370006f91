"""``device-sdk run`` shows the setup code it accepts, as the sticker would (the QR code on a terminal, the
manual code always), whether it comes from the factory data or from ``--setup-code``; a controller pairs
with exactly the code shown. The code never reaches the logs, nor stdout when stdout is the journal."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._cli_helpers import cli, unique_name

pytestmark = pytest.mark.timeout(60)

MANUAL = re.compile(r"setup code (\d{4}-\d{3}-\d{4}) \((.*)\)")


def run_argv(name: str, state: Path, ready: Path, *more: str) -> list[str]:
    argv = [sys.executable, "-m", "device_sdk", "-vv", "run", "--board", "sim", "--interface", "lo"]
    return [*argv, "--name", name, "--state-dir", str(state), "--ready-file", str(ready), *more]


def read_until(fd: int, pattern: re.Pattern[str], deadline_s: float = 20) -> str:
    """Text read from ``fd`` until ``pattern`` matches it (bounded by the deadline)."""
    text = ""
    deadline = time.monotonic() + deadline_s
    while pattern.search(text) is None:
        assert time.monotonic() < deadline, f"no {pattern.pattern!r} in {text!r}"
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the pty's other end closed
                break
            text += chunk.decode(errors="replace")
    return text


def stop(proc: subprocess.Popen[bytes]) -> str:
    """SIGINT, wait, and what the device logged (stderr)."""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    return err.decode(errors="replace")


def test_the_sticker_code_is_shown_with_its_qr_on_a_terminal_and_pairs(tmp_path: Path) -> None:
    state, name = tmp_path / "device", unique_name("Code Tty")
    provisioned = cli("provision", "--state-dir", str(state), "--json").json()
    leader, follower = pty.openpty()
    proc = subprocess.Popen(run_argv(name, state, tmp_path / "ready.json"), stdout=follower, stderr=subprocess.PIPE)
    os.close(follower)
    try:
        shown = read_until(leader, MANUAL)
        manual, source = MANUAL.search(shown).groups()  # type: ignore[union-attr]
        assert manual.replace("-", "") == provisioned["manual"] and "sticker" in source
        assert "█" in shown or "▀" in shown or "▄" in shown, "no QR code drawn on the terminal"
        assert provisioned["qr"] in shown
        paired = cli("pair", name, manual, "--state-dir", str(tmp_path / "ctl"), "--interface", "lo", "--json")
        assert paired.json()["name"] == name
    finally:
        log = stop(proc)
        os.close(leader)
    assert provisioned["manual"] not in log and provisioned["qr"] not in log, "the setup code reached the log"


def test_a_setup_code_for_this_run_is_the_one_shown_and_accepted(tmp_path: Path) -> None:
    state, name = tmp_path / "device", unique_name("Code Run")
    cli("provision", "--state-dir", str(state), "--json").json()  # the sticker holds another code
    made = cli("code", "make", "--passcode", "20202021", "--discriminator", "1234", "--json").json()
    argv = run_argv(name, state, tmp_path / "ready.json", "--setup-code", "20202021", "--discriminator", "1234")
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        shown = read_until(proc.stdout.fileno(), MANUAL)
        manual, source = MANUAL.search(shown).groups()  # type: ignore[union-attr]
        assert manual.replace("-", "") == made["manual"]
        assert "this run" in source and "sticker's code is not accepted" in source
        assert "█" not in shown and made["qr"] not in shown, "a QR code drawn into a pipe"
        ctl = ("--state-dir", str(tmp_path / "ctl"), "--interface", "lo", "--json")
        assert cli("pair", name, manual, *ctl).json()["name"] == name
    finally:
        log = stop(proc)
    assert made["manual"] not in log and "20202021" not in log, "the setup code reached the log"


def test_no_code_goes_to_the_journal(tmp_path: Path) -> None:
    """systemd names the journal stream in JOURNAL_STREAM; stdout there is a log, so no code in it."""
    state, name = tmp_path / "device", unique_name("Code Journal")
    provisioned = cli("provision", "--state-dir", str(state), "--json").json()
    out_path = tmp_path / "journal.txt"
    with out_path.open("wb") as out:
        st = os.fstat(out.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        for more in ((), ("--json",)):
            ready = tmp_path / "ready.json"
            ready.unlink(missing_ok=True)
            proc = subprocess.Popen(run_argv(name, state, ready, *more), stdout=out, stderr=subprocess.PIPE, env=env)
            try:
                deadline = time.monotonic() + 20
                while not ready.exists():
                    assert proc.poll() is None and time.monotonic() < deadline
                    time.sleep(0.05)
            finally:
                log = stop(proc)
            assert provisioned["manual"] not in log
    journal = out_path.read_text()
    assert provisioned["manual"] not in journal and provisioned["qr"] not in journal
    assert "`device-sdk provision --state-dir" in journal  # where to find the code instead
    serving = [json.loads(line) for line in journal.splitlines() if line.startswith("{")]
    assert [e["setup_code"] for e in serving if e["event"] == "serving"] == [None]
