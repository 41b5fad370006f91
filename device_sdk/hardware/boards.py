"""Finding and loading board profiles: built-in ones, files, and plugins.

Built-in profiles are the TOML files in ``device_sdk/hardware/board_profiles/``, shipped as package
data in the wheel and read with :mod:`importlib.resources` (from a checkout, an editable install or an
installed wheel alike).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from device_sdk.errors import ConfigError
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

BUILTIN_DIR = "board_profiles"
"""The package-data directory of ``device_sdk.hardware`` holding the built-in profiles (``<name>.toml``)."""


def builtin_profiles_dir() -> Traversable:
    """The directory of the built-in profiles (package data: a real directory on disk when the package
    is installed as files, as pip and editable installs do)."""
    return resources.files("device_sdk.hardware").joinpath(BUILTIN_DIR)


def builtin_profile_names() -> tuple[str, ...]:
    """The names of the built-in profiles, sorted (``pi-4b``, ``pi-5``, ``pi-zero-2w``, ``sim``)."""
    names = {p.name.removesuffix(".toml") for p in builtin_profiles_dir().iterdir() if p.name.endswith(".toml")}
    return tuple(sorted(names))


def builtin_profile_text(name: str) -> str:
    """The TOML text of built-in profile ``name``; ConfigError if there is none."""
    if name in builtin_profile_names():
        return builtin_profiles_dir().joinpath(f"{name}.toml").read_text(encoding="utf-8")
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
        return parse_profile_text(
            builtin_profile_text(name), source=str(builtin_profiles_dir().joinpath(f"{name}.toml"))
        )
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
