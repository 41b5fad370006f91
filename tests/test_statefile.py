"""StateWriter: atomic snapshots of one file, synchronous or on a background thread, never out of order."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from device_sdk import statefile
from device_sdk.errors import StateError
from device_sdk.statefile import StateWriter, read_json

pytestmark = pytest.mark.timeout(20)


def test_synchronous_writes_land_at_once_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "s.json"
    writer = StateWriter(path)
    writer.write_json({"n": 1})
    assert read_json(path) == {"n": 1}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert writer._thread is None  # no thread was needed


def test_background_writes_end_with_the_newest_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    writer = StateWriter(path, background=True)
    for n in range(200):
        writer.write_json({"n": n})
    writer.flush()
    assert read_json(path) == {"n": 199}
    assert writer._thread is not None and writer._thread.is_alive()
    writer.close()
    assert writer._thread is None
    writer.write_json({"n": 200})  # after close: synchronous
    assert read_json(path) == {"n": 200}
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # no temporaries left


def test_a_synchronous_write_is_never_overwritten_by_an_older_background_one(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    writer = StateWriter(path, background=True)
    for round_ in range(50):
        for n in range(5):
            writer.write_json({"round": round_, "n": n})
        writer.write_json({"round": round_, "n": "sync"}, sync=True)
        assert read_json(path) == {"round": round_, "n": "sync"}
    writer.close()
    assert read_json(path) == {"round": 49, "n": "sync"}


def test_a_failed_background_write_is_reported_and_retried_by_flush(tmp_path: Path) -> None:
    blocker = tmp_path / "dir"
    blocker.write_text("a file where the directory should be")
    path = blocker / "s.json"
    writer = StateWriter(path, background=True)
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


def test_the_writer_thread_ends_when_idle_and_comes_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statefile, "WRITER_IDLE_S", 0.05)
    writer = StateWriter(tmp_path / "s.json", background=True)
    writer.write_json({"n": 1})
    first = writer._thread
    assert first is not None
    first.join(5)
    assert not first.is_alive() and writer._thread is None
    assert read_json(tmp_path / "s.json") == {"n": 1}
    writer.write_json({"n": 2})
    writer.flush()
    assert read_json(tmp_path / "s.json") == {"n": 2}
