"""Extension points: custom part drivers (``module:factory``) and board plugins (entry points).

A custom part names ``driver = "package.module:factory"``; the factory is called as
``factory(part: PartConfig, pin_factory)`` and returns a source or sink.

A board plugin is an entry point in the group ``device_sdk.boards``; its name is the board
name and it loads an object that is a profile table (dict), a path to a TOML file, or a
callable returning either.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from device_sdk.errors import ConfigError

__all__ = ["ENTRY_POINT_GROUP", "EntryPointLike", "board_plugins", "load_driver", "resolve_plugin"]

_log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "device_sdk.boards"


class EntryPointLike(Protocol):
    """What :func:`board_plugins` needs of an ``importlib.metadata.EntryPoint``."""

    @property
    def name(self) -> str: ...

    @property
    def value(self) -> str: ...

    def load(self) -> Any: ...


def load_driver(spec: str, *, where: str) -> Callable[..., Any]:
    """The callable named by ``"module:attr"`` (dotted attrs allowed); ConfigError if missing."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ConfigError(f"{where}: driver must be 'module:factory', not {spec!r}")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{where}: cannot import driver module {module_name!r}: {exc}") from exc
    for name in attr.split("."):
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise ConfigError(f"{where}: driver module {module_name!r} has no {attr!r}") from None
    if not callable(obj):
        raise ConfigError(f"{where}: driver {spec!r} is not callable")
    return obj  # type: ignore[no-any-return]


def board_plugins(entry_points: Iterable[EntryPointLike] | None = None) -> dict[str, EntryPointLike]:
    """Board plugins by name, from ``entry_points`` or the installed ``device_sdk.boards`` group."""
    eps: Iterable[EntryPointLike] = (
        importlib.metadata.entry_points(group=ENTRY_POINT_GROUP) if entry_points is None else entry_points
    )
    found: dict[str, EntryPointLike] = {}
    for ep in eps:
        if ep.name in found:
            _log.warning("board plugin %r defined twice; using %s", ep.name, found[ep.name].value)
            continue
        found[ep.name] = ep
    return found


def resolve_plugin(ep: EntryPointLike) -> Mapping[str, Any] | Path:
    """Load a board plugin: the profile table it provides, or the path of its TOML file."""
    where = f"board plugin {ep.name!r} ({ep.value})"
    try:
        obj = ep.load()
        if callable(obj):
            obj = obj()
    except Exception as exc:
        raise ConfigError(f"{where}: failed to load: {exc}") from exc
    if isinstance(obj, Mapping):
        return obj
    if isinstance(obj, str | Path):
        return Path(obj)
    raise ConfigError(f"{where}: must give a profile dict or a path, not {type(obj).__name__}")
