"""State files: private (0600), written atomically (temp file, fsync, rename, fsync of the directory),
optionally on a writer thread that belongs to the device or controller that made it; files several
processes change are merged under a lock."""

from __future__ import annotations

from .statefile import (
    DIR_MODE,
    FILE_MODE,
    FileStamp,
    MergedWrite,
    StateWriter,
    StateWriterThread,
    atomic_write,
    encode_json,
    ensure_dir,
    file_stamp,
    is_stale_temporary,
    locked,
    read_json,
    read_stamped,
    remove_stale_temporaries,
    write_json,
)

__all__ = [
    "DIR_MODE",
    "FILE_MODE",
    "FileStamp",
    "MergedWrite",
    "StateWriter",
    "StateWriterThread",
    "atomic_write",
    "encode_json",
    "ensure_dir",
    "file_stamp",
    "is_stale_temporary",
    "locked",
    "read_json",
    "read_stamped",
    "remove_stale_temporaries",
    "write_json",
]
