"""Shared pieces of the CLI: state directories and what they already hold."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from ..errors import StateError
from ..identity.agent import META_FILE
from ..statefile import read_json


def default_state_dir(side: str) -> Path:
    """``$STATE_DIRECTORY`` (systemd's StateDirectory=) else the platform's user data directory."""
    env = os.environ.get("STATE_DIRECTORY")
    if env:
        # systemd may pass several colon-separated directories: the first is ours.
        return Path(env.split(":")[0])
    return Path(platformdirs.user_data_dir("device_sdk")) / side


def stored_names(state_dir: Path) -> tuple[str | None, str | None]:
    """The (instance name, model name) an existing identity in ``state_dir`` holds, else Nones.

    Used so that a command run without ``--name``/``--model`` keeps the names the device already
    has instead of renaming it to the defaults.
    """
    try:
        value = read_json(Path(state_dir) / META_FILE)
    except StateError:
        return None, None  # the identity code reports a corrupt file with a better message
    if not isinstance(value, dict):
        return None, None
    name, model = value.get("instance_name"), value.get("model_name")
    return (name if isinstance(name, str) and name else None, model if isinstance(model, str) and model else None)
