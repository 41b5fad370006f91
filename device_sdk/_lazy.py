"""Lazy public names of a package (PEP 562), so that a program loads only the parts it uses.

A package's ``__init__`` names its public objects and the submodule of each; a name is imported when it
is first read, then kept in the package's namespace. ``from device_sdk import Device`` thus loads the
device side and what it needs, not the controller side; a device without advertising loads no zeroconf.
The ``__init__`` imports the same names under ``TYPE_CHECKING`` for the type checker, and
tests/test_architecture.py checks that each listed name comes from where the table says.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, table: Mapping[str, tuple[str, ...]]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose public names are in ``table``: for
    each submodule (relative, ``".device"``), the names it provides."""
    where = {name: module for module, names in table.items() for name in names}

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module, package), name)
        setattr(sys.modules[package], name, value)  # the next read is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
