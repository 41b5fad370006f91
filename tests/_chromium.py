"""The system chromium as the dashboard's tests, bench/dashboard.py and docs/screenshots/take.py start it
(headless, driven by Playwright; never a downloaded browser). Plain Python, no pytest: the bench and the
screenshot script import it too."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
"""Headless, no first-run or background traffic, and audio that plays without a click (the baby monitor)."""


def chromium_path() -> str | None:
    """The system chromium (``$CHROMIUM`` first), or None."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def system_chromium() -> str:
    """The system chromium, for a script: ends it, saying why, when there is none."""
    path = chromium_path()
    if path is None:
        raise SystemExit("no chromium on this machine: install Debian's chromium, or set $CHROMIUM to one")
    return path
