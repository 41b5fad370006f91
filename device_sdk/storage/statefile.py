"""Files in the state directory: private (0600) and written atomically.

A write goes to a temporary file in the same directory, is flushed and fsynced, renamed over
the target, and the directory is fsynced, so that a crash at any moment leaves either the old or
the new content, never a torn file.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import secrets
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from ..errors import StateError

log = logging.getLogger(__name__)

FILE_MODE = 0o600
BACKGROUND_WRITE_DELAY_S = 0.02
"""A background write starts this long after its snapshot is taken: the disk work (and the writer
thread's share of the interpreter lock) stays out of the exchange that caused it, and a burst of
snapshots (a pairing writes the trust store and the window) is written once. On an event loop the
snapshot is handed to the thread by a loop timer, so the thread is not even woken before."""
DIR_MODE = 0o700


def ensure_dir(path: Path) -> Path:
    """Create the state directory (0700) if it does not exist; return it."""
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes, mode: int = FILE_MODE) -> None:
    """Replace ``path`` with ``data``: temp file (created ``mode``), fsync, rename, fsync of the directory."""
    directory = path.parent
    ensure_dir(directory)
    tmp = directory / f".{path.name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


def write_json(path: Path, value: Any) -> None:
    """Atomically write ``value`` as JSON (0600)."""
    atomic_write(path, encode_json(value))


def read_json(path: Path) -> Any | None:
    """Read a JSON state file; ``None`` when it does not exist; :class:`StateError` when corrupt."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StateError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateError(f"{path} is not valid JSON: {exc}") from exc


def remove_stale_temporaries(directory: Path) -> None:
    """Delete temporary files left by a writer that was killed before its rename."""
    if not directory.is_dir():
        return
    for entry in directory.glob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()


def encode_json(value: Any) -> bytes:
    """The bytes :func:`write_json` writes for ``value``: one line, keys sorted.

    Not indented: with ``indent`` the json module falls back to its pure-Python encoder, several
    times slower, and these snapshots are taken on the event loop (``python -m json.tool`` shows
    them indented)."""
    return (json.dumps(value, sort_keys=True) + "\n").encode()


WRITER_THREAD_NAME = "device-sdk-state-writer"
"""The name of the writer threads (one per :class:`StateWriterThread`)."""


class StateWriterThread:
    """A background thread that writes :class:`StateWriter` snapshots, owned by whoever made it (a
    device or a controller) and stopped with it: nothing of it is process-wide.

    Its thread starts at :meth:`start` (a device starting up: a pairing then never waits for a thread
    to start) or at the first snapshot handed to it. It sleeps on a condition until there is something
    to write. :meth:`close` writes what its writers have pending, stops the thread and joins it; after
    that their writes are synchronous. A process that exits without closing it loses the snapshots not
    written yet (the thread is a daemon): close the device or controller (``async with`` does).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._queue: collections.deque[tuple[float, StateWriter]] = collections.deque()
        self._thread: threading.Thread | None = None
        self._writers: weakref.WeakSet[StateWriter] = weakref.WeakSet()
        self._closed = False
        self._pid = os.getpid()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (writes are then synchronous)."""
        return self._closed

    @property
    def running(self) -> bool:
        """Whether its thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread now (again after :meth:`close`)."""
        with self._cond:
            self._closed = False
        self._ensure_started()

    def _ensure_started(self) -> None:
        if os.getpid() != self._pid:  # a forked child: the parent's thread and lock state are not ours
            self._pid = os.getpid()
            self._cond = threading.Condition()
            self._queue.clear()
            self._thread = None
        with self._cond:
            if not self._closed and (self._thread is None or not self._thread.is_alive()):
                self._thread = threading.Thread(target=self._run, name=WRITER_THREAD_NAME, daemon=True)
                self._thread.start()

    def add(self, writer: StateWriter) -> None:
        """``writer`` writes through this thread (it is flushed by :meth:`close`)."""
        self._writers.add(writer)

    def submit(self, writer: StateWriter) -> None:
        """``writer`` has a snapshot pending: write it :data:`BACKGROUND_WRITE_DELAY_S` from now.

        On an event loop, a loop timer hands it over then. If that loop stops first, the snapshot
        stays pending until the writer's next write, :meth:`StateWriter.flush` or :meth:`close`.
        """
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is None:
            self._enqueue(writer, BACKGROUND_WRITE_DELAY_S)
        elif writer._handoff_loop is not loop:
            writer._handoff_loop = loop
            loop.call_later(BACKGROUND_WRITE_DELAY_S, self._handoff, writer)

    def _handoff(self, writer: StateWriter) -> None:
        writer._handoff_loop = None
        self._enqueue(writer, 0.0)

    def _enqueue(self, writer: StateWriter, delay: float) -> None:
        if self._closed:
            writer.flush_quietly()  # closed meanwhile: written here and now
            return
        self._ensure_started()
        with self._cond:
            if all(queued is not writer for _due, queued in self._queue):
                self._queue.append((time.monotonic() + delay, writer))
            self._cond.notify()

    def close(self) -> None:
        """Write every snapshot its writers have pending, stop the thread and wait for it to end."""
        with self._cond:
            self._closed = True
            self._queue.clear()
            self._cond.notify()
            thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        for writer in list(self._writers):
            writer.flush_quietly()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                due, writer = self._queue[0]
                delay = due - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                self._queue.popleft()
            writer._write_pending()
            error = writer._error
            if error is not None:
                log.error("cannot write %s: %s", writer.path, error)


class StateWriter:
    """Atomic writes of one state file, optionally in the background so that the event loop
    never waits for ``fsync`` (tens of milliseconds on an SD card).

    Each :meth:`write` is a complete snapshot. In the background (on ``background``, a
    :class:`StateWriterThread` its owner made), only the newest snapshot not yet written is written
    (older ones are skipped), and a snapshot never overwrites a newer one. ``write(..., sync=True)``,
    :meth:`flush` and :meth:`close` return once everything written before them is on disk. Without
    ``background`` (or once it is closed) every write is synchronous.
    """

    def __init__(self, path: Path, *, background: StateWriterThread | None = None, mode: int = FILE_MODE) -> None:
        self.path = Path(path)
        self._thread = background
        self._mode = mode
        self._disk = threading.Lock()  # held while a snapshot is taken and written
        self._cond = threading.Lock()  # guards the fields below
        self._pending: bytes | None = None
        self._error: BaseException | None = None
        self._retry: bytes | None = None
        self._closed = False
        self._handoff_loop: asyncio.AbstractEventLoop | None = None
        if background is not None:
            background.add(self)

    @property
    def background(self) -> bool:
        """Whether writes go to a writer thread (not after :meth:`close`, nor once that thread is closed)."""
        return self._thread is not None and not self._thread.closed and not self._closed

    def write(self, data: bytes, *, sync: bool = False) -> None:
        """Write ``data`` as the file's new content: now when ``sync`` (or not in the background),
        else soon, on the writer thread."""
        thread = self._thread
        with self._cond:
            self._pending = data
            queue = thread is not None and not thread.closed and not sync and not self._closed
        if queue:
            assert thread is not None
            thread.submit(self)
            return
        self._write_pending()
        self._raise_error()

    def write_json(self, value: Any, *, sync: bool = False) -> None:
        """:meth:`write` ``value`` as JSON (the format of :func:`write_json`)."""
        self.write(encode_json(value), sync=sync)

    def flush(self) -> None:
        """Return once every snapshot written so far is on disk; raise :class:`StateError` if it
        cannot be written."""
        with self._cond:
            if self._pending is None and self._retry is not None:
                self._pending, self._retry = self._retry, None
        self._write_pending()
        self._raise_error()

    def flush_quietly(self) -> None:
        """:meth:`flush`, logging a failure instead of raising it (a writer thread closing)."""
        try:
            self.flush()
        except StateError as exc:
            log.error("%s", exc)

    def close(self) -> None:
        """Flush; later writes are synchronous."""
        with self._cond:
            self._closed = True
        self.flush()

    def _write_pending(self) -> None:
        with self._disk:
            with self._cond:
                item, self._pending = self._pending, None
            if item is None:
                return
            try:
                atomic_write(self.path, item, self._mode)
            except OSError as exc:
                with self._cond:
                    self._error = exc
                    if self._pending is None:
                        self._retry = item  # flush() tries again unless a newer snapshot comes
                return
            with self._cond:
                self._error = None
                self._retry = None

    def _raise_error(self) -> None:
        with self._cond:
            error = self._error
        if error is not None:
            raise StateError(f"cannot write {self.path}: {error}") from error
