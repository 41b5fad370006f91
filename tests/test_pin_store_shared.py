"""The controller's pin store shared by processes: a bridge or dashboard runs while the user pairs and
unpairs with `device-sdk`. Real processes, real files, real locks: no pairing or unpairing is lost, none
is undone by a stale copy, and a running Controller sees what others changed."""

from __future__ import annotations

import asyncio
import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from device_sdk import Controller, ControllerConfig, DeviceNotFound
from device_sdk.pairing.trust import ControllerPinStore
from device_sdk.storage import StateWriterThread, file_stamp
from tests._pin_store_worker import fingerprint, unpinned

pytestmark = pytest.mark.timeout(60)

WORKER = Path(__file__).with_name("_pin_store_worker.py")
ROUNDS = 120
OURS = bytes([0xEE]) * 32


def _start_worker(state_dir: Path, worker: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), str(state_dir), str(worker), str(ROUNDS)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


async def test_two_controllers_in_two_processes_lose_nothing_and_a_running_one_sees_it_all(tmp_path: Path) -> None:
    state_dir = tmp_path / "ctl"
    async with Controller(ControllerConfig(state_dir=state_dir)) as ctl:  # creates the identity they share
        ctl.pins.add(OURS, "ours", now=time.time(), port=999)
        seen = ctl.pins.revision
        workers = [_start_worker(state_dir, w) for w in (1, 2)]
        try:
            for proc in workers:
                assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
            for proc in workers:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            # meanwhile this controller goes on changing its own device (a bridge renaming, touching)
            for n in range(40):
                ctl.pins.update(OURS, name=f"ours {n}", now=time.time())
                await asyncio.sleep(0.02)
            for proc in workers:
                out, _ = await asyncio.to_thread(proc.communicate, timeout=40)
                assert proc.returncode == 0 and out.split() == ["done"]
        finally:
            for proc in workers:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        expected = {OURS} | {
            fingerprint(w, i) for w in (1, 2) for i in range(ROUNDS) if not (i < ROUNDS - 1 and unpinned(i))
        }
        # the running controller sees the others' pairings and unpairings without being told
        assert ctl.pins.revision != seen
        assert {p.fingerprint for p in ctl.peers()} == expected
        ctl.pins.update(OURS, name="ours at last")  # and a write of its own undoes none of them
        await asyncio.to_thread(ctl.pins.flush)

    on_disk = {p.fingerprint: p for p in ControllerPinStore(state_dir / "devices.json").list()}
    assert set(on_disk) == expected
    assert on_disk[OURS].name == "ours at last" and on_disk[OURS].port == 999
    for w in (1, 2):
        for i in range(ROUNDS - 1):
            if not unpinned(i):  # updated in the round after it was pinned: a merged field change
                assert on_disk[fingerprint(w, i)].addresses == (f"192.0.2.{(i + 1) % 250}",)
                assert on_disk[fingerprint(w, i)].port == 1000 + i
    lock = state_dir / ".devices.json.lock"
    assert stat.S_IMODE(lock.stat().st_mode) == 0o600
    assert stat.S_IMODE((state_dir / "devices.json").stat().st_mode) == 0o600  # merged writes stay private
    assert not list(state_dir.glob(".devices.json.*.tmp"))


def test_a_stale_copy_never_undoes_another_stores_change(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    thread = StateWriterThread()
    try:
        mine = ControllerPinStore(path, background=thread)  # a long-running controller's store
        mine.add(bytes([1]) * 32, "lamp", now=1.0)
        mine.add(bytes([2]) * 32, "plug", now=2.0)
        mine.flush()
        other = ControllerPinStore(path)  # `device-sdk unpair` / `pair` in another process
        mine.update(bytes([1]) * 32, name="desk lamp")  # waiting for the writer thread...
        mine.add(bytes([4]) * 32, "fan", now=4.0)
        other.remove(bytes([1]) * 32)  # ...while the other unpairs the lamp
        other.add(bytes([3]) * 32, "sensor", now=3.0)  # and pairs a sensor
        mine.flush()
        names = {p.name for p in ControllerPinStore(path).list()}
        assert names == {"plug", "sensor", "fan"}  # the rename did not bring the lamp back
        assert {p.name for p in mine.list()} == names  # and this store sees it so
        with pytest.raises(DeviceNotFound):
            mine.update(bytes([1]) * 32, name="desk lamp again")
        other.update(bytes([2]) * 32, port=1234)
        assert mine.get(bytes([2]) * 32).port == 1234  # type: ignore[union-attr]
    finally:
        thread.close()


def test_reading_costs_a_stat_until_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    store = ControllerPinStore(path)
    store.add(bytes([1]) * 32, "lamp", now=1.0)
    revision, stamp = store.revision, file_stamp(path)
    for _ in range(3):
        assert store.revision == revision and len(store) == 1
    assert file_stamp(path) == stamp  # reading wrote nothing
    document = json.loads(path.read_text())
    document["devices"][0]["name"] = "renamed elsewhere"
    path.write_text(json.dumps(document))  # (not atomic, not locked: a person editing the file)
    assert store.revision > revision and store.list()[0].name == "renamed elsewhere"
    path.write_text("{")  # torn or garbled: the last good content stays in use, logged
    assert store.list()[0].name == "renamed elsewhere"
