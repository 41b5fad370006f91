"""Files in the state directory: private (0600) and written atomically.

A write goes to a temporary file in the same directory, is flushed and fsynced, renamed over
the target, and the directory is fsynced, so that a crash at any moment leaves either the old or
the new content, never a torn file.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from .errors import StateError

FILE_MODE = 0o600
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
    atomic_write(path, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


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
