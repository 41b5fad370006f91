"""StateWriter: atomic snapshots of one file, synchronous or on a background thread, never out of order."""

from __future__ import annotations

import asyncio
import json
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from device_sdk.errors import StateError
from device_sdk.storage.statefile import WRITER_THREAD_NAME, StateWriter, StateWriterThread, read_json

pytestmark = pytest.mark.timeout(20)


def test_synchronous_writes_land_at_once_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "s.json"
    writer = StateWriter(path)
    writer.write_json({"n": 1})
    assert read_json(path) == {"n": 1}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.fixture
def thread() -> Iterator[StateWriterThread]:
    owned = StateWriterThread()
    yield owned
    owned.close()


def test_background_writes_end_with_the_newest_snapshot(tmp_path: Path, thread: StateWriterThread) -> None:
    path = tmp_path / "s.json"
    writer = StateWriter(path, background=thread)
    for n in range(200):
        writer.write_json({"n": n})
    writer.flush()
    assert read_json(path) == {"n": 199}
    writer.close()
    writer.write_json({"n": 200})  # after close: synchronous
    assert read_json(path) == {"n": 200}
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # no temporaries left


def test_a_synchronous_write_is_never_overwritten_by_an_older_background_one(
    tmp_path: Path, thread: StateWriterThread
) -> None:
    path = tmp_path / "s.json"
    writer = StateWriter(path, background=thread)
    for round_ in range(50):
        for n in range(5):
            writer.write_json({"round": round_, "n": n})
        writer.write_json({"round": round_, "n": "sync"}, sync=True)
        assert read_json(path) == {"round": round_, "n": "sync"}
    writer.close()
    assert read_json(path) == {"round": 49, "n": "sync"}


def test_a_failed_background_write_is_reported_and_retried_by_flush(tmp_path: Path, thread: StateWriterThread) -> None:
    blocker = tmp_path / "dir"
    blocker.write_text("a file where the directory should be")
    path = blocker / "s.json"
    writer = StateWriter(path, background=thread)
    writer.write_json({"n": 1})
    with pytest.raises(StateError, match="cannot write"):
        writer.flush()
    blocker.unlink()
    writer.flush()  # the failed snapshot is written now
    assert json.loads(path.read_text()) == {"n": 1}
    writer.close()


def test_synchronous_failure_raises(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(StateError):
        StateWriter(tmp_path / "f" / "s.json").write(b"{}")


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WRITER_THREAD_NAME]


def test_one_thread_started_by_its_owner_serves_all_its_writers(tmp_path: Path, thread: StateWriterThread) -> None:
    before = writer_threads()
    thread.start()
    first = StateWriter(tmp_path / "a.json", background=thread)
    started = [t for t in writer_threads() if t not in before]
    assert len(started) == 1 and started[0].daemon  # there before any write: a pairing never waits for it
    writers = [first] + [StateWriter(tmp_path / f"{n}.json", background=thread) for n in range(20)]
    for n, writer in enumerate(writers):
        writer.write_json({"n": n})
    assert [t for t in writer_threads() if t not in before] == started
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all((w.path).exists() for w in writers):
        time.sleep(0.01)
    assert [read_json(w.path) for w in writers] == [{"n": n} for n in range(len(writers))]
    for writer in writers:
        writer.close()


def test_on_an_event_loop_the_snapshot_is_handed_over_by_a_loop_timer(
    tmp_path: Path, thread: StateWriterThread
) -> None:
    path = tmp_path / "s.json"
    writer = StateWriter(path, background=thread)

    async def burst() -> None:
        for n in range(10):
            writer.write_json({"n": n})
        assert writer._handoff_loop is asyncio.get_running_loop()  # one timer for the burst
        queued = [w for _due, w in thread._queue]
        assert not path.exists() and writer not in queued  # the thread was not told yet
        deadline = time.monotonic() + 10
        while not path.exists() and time.monotonic() < deadline:
            await asyncio.sleep(0.005)

    asyncio.run(burst())
    writer.flush()
    assert read_json(path) == {"n": 9}

    async def stop_before_the_handoff() -> None:
        writer.write_json({"n": 10})

    asyncio.run(stop_before_the_handoff())  # the loop is gone before its timer fired
    writer.flush()
    assert read_json(path) == {"n": 10}
    writer.write_json({"n": 11})  # no loop now: the thread is told directly
    writer.close()
    assert read_json(path) == {"n": 11}


def test_closing_the_thread_writes_what_is_pending_and_ends_it(tmp_path: Path) -> None:
    owned = StateWriterThread()
    writer = StateWriter(tmp_path / "s.json", background=owned)
    before = writer_threads()
    writer.write_json({"n": 1})  # the first snapshot starts the thread
    mine = [t for t in writer_threads() if t not in before]
    assert len(mine) == 1
    owned.close()
    assert read_json(writer.path) == {"n": 1}
    assert not mine[0].is_alive() and not owned.running
    writer.write_json({"n": 2})  # the thread is closed: synchronous
    assert read_json(writer.path) == {"n": 2}
