"""Shared pieces of the CLI: state directories, whether they can be used, and what they already hold."""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from ..errors import StateError


def default_state_dir(side: str) -> Path:
    """``$STATE_DIRECTORY`` (systemd's StateDirectory=) else the platform's user data directory."""
    env = os.environ.get("STATE_DIRECTORY")
    if env:
        # systemd may pass several colon-separated directories: the first is ours.
        return Path(env.split(":")[0])
    import platformdirs  # only without --state-dir nor $STATE_DIRECTORY

    return Path(platformdirs.user_data_dir("device_sdk")) / side


def state_dir_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used as a state directory (one sentence), or None when it can.

    A directory that does not exist yet is fine when it can be created (its nearest existing parent is
    a writable directory).
    """
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if existing == path:
        if not path.is_dir():
            return f"the state directory {path} is a file, not a directory: give --state-dir a directory"
        if not os.access(path, os.R_OK | os.W_OK | os.X_OK):
            return (
                f"the state directory {path} cannot be written by this user: fix its owner or mode, "
                "or give --state-dir another directory"
            )
        return None
    if not existing.is_dir():
        return f"the state directory {path} cannot be created: {existing} is a file, not a directory"
    if not os.access(existing, os.W_OK | os.X_OK):
        return (
            f"the state directory {path} cannot be created: {existing} is not writable by this user "
            "(give --state-dir a directory you own)"
        )
    return None


def usable_state_dir(path: Path | None, side: str) -> Path:
    """``path`` (or the default state directory of ``side``), checked before anything is written to it:
    :class:`StateError` saying what is wrong and what to do when it cannot be used."""
    chosen = path if path is not None else default_state_dir(side)
    problem = state_dir_problem(chosen)
    if problem is not None:
        raise StateError(problem)
    return chosen


# -- argument types: argparse shows their ArgumentTypeError text after "argument --x:" ------------------


def whole_number(text: str) -> int:
    """A whole number, written in decimal."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def positive_count(text: str) -> int:
    """A whole number of at least 1."""
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def non_negative(text: str) -> int:
    """A whole number of at least 0."""
    value = whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is negative")
    return value


def id_number(text: str) -> int:
    """A vendor or product id: decimal, or hexadecimal as 0xFFF1."""
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (decimal, or hexadecimal like 0xFFF1)") from None


def seconds(text: str) -> float:
    """A positive, finite number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < 1e9:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number of seconds")
    return value
