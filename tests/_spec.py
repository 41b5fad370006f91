"""The wire specification as the repository holds it: ``docs/protocol.md`` and its two CDDL schemas.

Tests that validate against a schema or read the specification's text take the paths from here, so
that they run the same in a fresh clone as in any checkout (nothing outside the repository).
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
SPEC_PAGE = DOCS / "protocol.md"
"""The specification page: the device_sdk wire protocol, version 1.1."""
OSP_MESSAGES_CDDL = DOCS / "osp-messages.cddl"
"""The schema of every message (spec section 3)."""
DEVICE_CHANNELS_CDDL = DOCS / "device-channels.cddl"
"""The schema of every channel frame (spec section 6)."""

# `rule-name = ...  ; <type key>` (the comment may follow the opening brace of a multi-line rule)
_RULE_WITH_KEY = re.compile(r"^([a-z][a-z0-9-]*)\s*=[^;\n]*;\s*(\d+)\s*$", re.MULTILINE)


def spec_text() -> str:
    """The specification page as plain text: every run of white space (line breaks included) made one
    space, and the backticks of code spans dropped."""
    return " ".join(SPEC_PAGE.read_text(encoding="utf-8").replace("`", "").split())


def cddl_type_keys(schema: str) -> dict[int, str]:
    """The rules of ``osp-messages.cddl`` that carry a type key in their comment: key -> rule name."""
    return {int(key): name for name, key in _RULE_WITH_KEY.findall(schema)}


def spec_type_keys() -> dict[int, str]:
    """The list after "Type keys used:" in the specification page: key -> message name."""
    listed = spec_text().split("Type keys used:", 1)[1].split(".", 1)[0]
    return {int(k): name for k, name in re.findall(r"(\d+)\s+([a-z][a-z0-9-]*)", listed)}


def spec_close_codes() -> set[int]:
    """The codes in the first column of the specification's table of close codes."""
    page = SPEC_PAGE.read_text(encoding="utf-8")
    return {int(code) for code in re.findall(r"^\| \*\*(\d+)\*\* \|", page, re.MULTILINE)}
