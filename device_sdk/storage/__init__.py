"""State files: private (0600), written atomically (temp file, fsync, rename, fsync of the directory),
optionally on a writer thread that belongs to the device or controller that made it."""

from __future__ import annotations

from .statefile import (
    DIR_MODE,
    FILE_MODE,
    StateWriter,
    StateWriterThread,
    atomic_write,
    encode_json,
    ensure_dir,
    read_json,
    remove_stale_temporaries,
    write_json,
)

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "StateWriter",
    "StateWriterThread",
    "atomic_write",
    "encode_json",
    "ensure_dir",
    "read_json",
    "remove_stale_temporaries",
    "write_json",
]
