"""Output helpers of the CLI: the only place in device_sdk that prints."""

from __future__ import annotations

import json
import os
import sys
from typing import Any


def emit_json(value: Any) -> None:
    """One JSON document on stdout."""
    print(json.dumps(value, indent=2, sort_keys=True, default=str))


def emit_json_line(value: Any) -> None:
    """One JSON document per line (for streams of records)."""
    print(json.dumps(value, sort_keys=True, default=str), flush=True)


def say(text: str = "") -> None:
    print(text, flush=True)


def note(text: str) -> None:
    """A line for the user on stderr: stdout stays clean for ``--json`` readers."""
    print(f"device-sdk: {text}", file=sys.stderr, flush=True)


def error(text: str) -> None:
    """One clear line on stderr."""
    print(f"device-sdk: error: {text}", file=sys.stderr, flush=True)


def is_terminal() -> bool:
    return sys.stdout.isatty()


def output_is_journal() -> bool:
    """Whether stdout goes to the systemd journal (a log: no secrets there).

    systemd sets ``JOURNAL_STREAM`` to ``device:inode`` of the stream it connects; it is ours only when
    stdout is still that stream (a program may have redirected it).
    """
    stream = os.environ.get("JOURNAL_STREAM", "")
    device, _, inode = stream.partition(":")
    if not device.isdigit() or not inode.isdigit():
        return False
    try:
        st = os.fstat(sys.stdout.fileno())
    except (OSError, ValueError):
        return False
    return (st.st_dev, st.st_ino) == (int(device), int(inode))
