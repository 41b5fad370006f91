"""Finding and loading board profiles: built-in ones, files, and plugins.

Built-in profiles live in the repository's top-level ``boards/`` directory. An installed wheel
has no such directory, so the package also carries a copy of each as text
(``device_sdk/hardware/_builtin_boards.py``, kept identical by a test):
:func:`builtin_profiles_dir` returns the directory when it exists, and loading falls back to
the copy otherwise.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from device_sdk.errors import ConfigError
from device_sdk.hardware import _builtin_boards
from device_sdk.hardware.plugins import EntryPointLike, board_plugins, resolve_plugin
from device_sdk.hardware.profile import BoardProfile, parse_profile

__all__ = [
    "available_profiles",
    "builtin_profile_names",
    "builtin_profile_text",
    "builtin_profiles_dir",
    "load_profile",
    "parse_profile_text",
]

_REPO_BOARDS = Path(__file__).resolve().parents[2] / "boards"


def builtin_profiles_dir() -> Path | None:
    """The repository's ``boards/`` directory (a checkout or editable install), else None."""
    return _REPO_BOARDS if (_REPO_BOARDS / "sim.toml").is_file() else None


def builtin_profile_names() -> tuple[str, ...]:
    """The names of the built-in profiles, sorted (``pi-4b``, ``pi-5``, ``pi-zero-2w``, ``sim``)."""
    d = builtin_profiles_dir()
    names = {p.stem for p in d.glob("*.toml")} if d is not None else set(_builtin_boards.PROFILES)
    return tuple(sorted(names))


def builtin_profile_text(name: str) -> str:
    """The TOML text of built-in profile ``name``; ConfigError if there is none."""
    d = builtin_profiles_dir()
    if d is not None:
        path = d / f"{name}.toml"
        if path.is_file():
            return path.read_text(encoding="utf-8")
    elif name in _builtin_boards.PROFILES:
        return _builtin_boards.PROFILES[name]
    raise ConfigError(f"no built-in board profile {name!r} (built-in: {', '.join(builtin_profile_names())})")


def parse_profile_text(text: str, *, source: str) -> BoardProfile:
    """Parse and validate a profile's TOML text; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}") from exc
    return parse_profile(data, source=source)


def _load_file(path: Path) -> BoardProfile:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read board profile {path}: {exc.strerror or exc}") from exc
    return parse_profile_text(text, source=str(path))


def _looks_like_path(value: str | Path) -> bool:
    return isinstance(value, Path) or "/" in value or "\\" in value or value.endswith(".toml")


def available_profiles(entry_points: Iterable[EntryPointLike] | None = None) -> dict[str, str]:
    """Every profile that can be loaded by name: name -> where it comes from.

    Plugins whose name is a built-in profile are ignored (built-ins win).
    """
    found = {name: "built-in" for name in builtin_profile_names()}
    for name, ep in board_plugins(entry_points).items():
        found.setdefault(name, f"plugin {ep.value}")
    return found


def load_profile(
    path_or_name: str | Path,
    *,
    entry_points: Iterable[EntryPointLike] | None = None,
) -> BoardProfile:
    """Load a board profile: a TOML file path, a built-in name, or a ``device_sdk.boards`` plugin.

    A value containing a slash or ending in ``.toml`` is a file; otherwise built-in names are
    tried first, then plugins (``entry_points`` replaces the installed ones, for tests).
    Raises :class:`ConfigError` naming the file and part on any problem.
    """
    if _looks_like_path(path_or_name):
        return _load_file(Path(path_or_name))
    name = str(path_or_name)
    if name in builtin_profile_names():
        source = f"boards/{name}.toml" if builtin_profiles_dir() is None else str(_REPO_BOARDS / f"{name}.toml")
        return parse_profile_text(builtin_profile_text(name), source=source)
    plugins = board_plugins(entry_points)
    if name in plugins:
        ep = plugins[name]
        resolved = resolve_plugin(ep)
        if isinstance(resolved, Path):
            return _load_file(resolved)
        return parse_profile(_plain(resolved), source=f"board plugin {name!r} ({ep.value})")
    known = ", ".join(sorted({*builtin_profile_names(), *plugins}))
    raise ConfigError(f"unknown board {name!r}: give a profile file path or one of {known}")


def _plain(table: Mapping[str, Any]) -> dict[str, Any]:
    return dict(table)
