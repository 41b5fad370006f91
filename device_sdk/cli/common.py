"""Shared pieces of the CLI: state directories and what they already hold."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def default_state_dir(side: str) -> Path:
    """``$STATE_DIRECTORY`` (systemd's StateDirectory=) else the platform's user data directory."""
    env = os.environ.get("STATE_DIRECTORY")
    if env:
        # systemd may pass several colon-separated directories: the first is ours.
        return Path(env.split(":")[0])
    return Path(platformdirs.user_data_dir("device_sdk")) / side
