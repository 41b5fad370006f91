"""The sim control protocol: JSON lines on a simulated board's Unix socket (pure: no I/O).

A client sends one JSON object per line and gets one JSON object per line back, in order::

    {"op": "press", "name": "pairing_button", "hold_s": 0.2}   -> {"ok": true, "pressed": ..., "hold_s": ...}
    {"op": "set", "name": "motion", "active": true}            -> {"ok": true, "name": ..., "active": ...}
    {"op": "force", "name": "temperature", "value": 30.0}      -> {"ok": true, "name": ..., "value": ...}
    {"op": "status"}                                           -> {"ok": true, "status_led": ..., ...}

``name`` of ``press`` defaults to the pairing button and ``hold_s`` to 0.2 s; ``value`` null
resumes a forced sensor's signal. A bad request gets ``{"ok": false, "error": "..."}`` and the
connection stays usable. :func:`decode_request` turns a line into a :data:`SimRequest`,
:func:`encode_request` does the reverse for clients.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from device_sdk.errors import HardwareError

__all__ = [
    "DEFAULT_HOLD_S",
    "MAX_HOLD_S",
    "MAX_LINE_BYTES",
    "PAIRING_BUTTON",
    "Force",
    "Press",
    "SetInput",
    "SimControlError",
    "SimRequest",
    "Status",
    "decode_request",
    "decode_response",
    "encode_request",
    "encode_response",
    "error_response",
    "parse_request",
]

PAIRING_BUTTON = "pairing_button"
"""The name a simulated board knows its pairing button by (here, so that a client of the protocol
needs no simulated board, nor gpiozero)."""

MAX_LINE_BYTES = 4096
"""The longest request or response line, newline included; longer requests end the connection."""
DEFAULT_HOLD_S = 0.2
"""How long ``press`` holds a button when the request does not say."""
MAX_HOLD_S = 30.0
"""The longest hold ``press`` accepts (a factory reset needs the profile's ``hold_s``, 10 s by default)."""
_MAX_NAME = 64


class SimControlError(HardwareError):
    """A sim control request was malformed, or the board refused it (the message says why)."""


@dataclass(frozen=True, kw_only=True)
class Press:
    """Press input ``name`` for ``hold_s`` seconds, then release it."""

    name: str = PAIRING_BUTTON
    hold_s: float = DEFAULT_HOLD_S


@dataclass(frozen=True, kw_only=True)
class SetInput:
    """Drive input ``name`` to active (pressed, motion) or inactive and leave it there."""

    name: str
    active: bool


@dataclass(frozen=True, kw_only=True)
class Force:
    """Make simulated sensor ``name`` report ``value``; None resumes its signal."""

    name: str
    value: float | None


@dataclass(frozen=True, kw_only=True)
class Status:
    """Read the board: status LED, outputs, inputs, values and the pairing window."""


SimRequest = Press | SetInput | Force | Status

_KEYS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # op: (required keys, optional keys), besides "op"
    "press": (frozenset(), frozenset({"name", "hold_s"})),
    "set": (frozenset({"name", "active"}), frozenset()),
    "force": (frozenset({"name", "value"}), frozenset()),
    "status": (frozenset(), frozenset()),
}


def _name(value: object) -> str:
    if not isinstance(value, str) or not value or len(value) > _MAX_NAME:
        raise SimControlError(f"'name' must be a string of 1..{_MAX_NAME} characters")
    return value


def _number(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SimControlError(f"{key!r} must be a finite number")
    return float(value)


def parse_request(value: object) -> SimRequest:
    """The request a decoded JSON value asks for (SimControlError when it is not a valid one)."""
    if not isinstance(value, dict):
        raise SimControlError("a request must be a JSON object")
    op = value.get("op")
    if not isinstance(op, str) or op not in _KEYS:
        raise SimControlError(f"'op' must be one of {', '.join(sorted(_KEYS))}")
    required, optional = _KEYS[op]
    keys = set(value) - {"op"}
    missing = required - keys
    if missing:
        raise SimControlError(f"{op}: missing {', '.join(sorted(missing))}")
    unknown = keys - required - optional
    if unknown:
        raise SimControlError(f"{op}: unknown keys {', '.join(sorted(unknown))}")
    if op == "press":
        hold = _number(value.get("hold_s", DEFAULT_HOLD_S), "hold_s")
        if not 0 < hold <= MAX_HOLD_S:
            raise SimControlError(f"'hold_s' must be in (0, {MAX_HOLD_S:g}] seconds")
        return Press(name=_name(value.get("name", PAIRING_BUTTON)), hold_s=hold)
    if op == "set":
        active = value["active"]
        if not isinstance(active, bool):
            raise SimControlError("'active' must be true or false")
        return SetInput(name=_name(value["name"]), active=active)
    if op == "force":
        raw = value["value"]
        return Force(name=_name(value["name"]), value=None if raw is None else _number(raw, "value"))
    return Status()


def decode_request(line: bytes) -> SimRequest:
    """The request of one line (SimControlError when it is not JSON or not a valid request)."""
    if len(line) > MAX_LINE_BYTES:
        raise SimControlError(f"request longer than {MAX_LINE_BYTES} bytes")
    try:
        value = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SimControlError("a request must be one line of UTF-8 JSON") from None
    return parse_request(value)


def encode_request(request: SimRequest) -> bytes:
    """One request line (newline-terminated), as :func:`decode_request` reads it."""
    body: dict[str, Any]
    if isinstance(request, Press):
        body = {"op": "press", "name": request.name, "hold_s": request.hold_s}
    elif isinstance(request, SetInput):
        body = {"op": "set", "name": request.name, "active": request.active}
    elif isinstance(request, Force):
        body = {"op": "force", "name": request.name, "value": request.value}
    else:
        body = {"op": "status"}
    return json.dumps(body, separators=(",", ":")).encode() + b"\n"


def encode_response(result: Mapping[str, object]) -> bytes:
    """A success line: ``{"ok": true, **result}``."""
    return json.dumps({**result, "ok": True}, separators=(",", ":"), sort_keys=True, default=str).encode() + b"\n"


def error_response(message: str) -> bytes:
    """A failure line: ``{"ok": false, "error": message}``."""
    return json.dumps({"ok": False, "error": message}, separators=(",", ":")).encode() + b"\n"


def decode_response(line: bytes) -> dict[str, Any]:
    """The result of a response line without ``ok``; SimControlError for an error response or garbage."""
    try:
        value = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SimControlError("the sim control socket sent something that is not JSON") from None
    if not isinstance(value, dict) or not isinstance(value.get("ok"), bool):
        raise SimControlError("the sim control socket sent an unexpected response")
    if not value["ok"]:
        raise SimControlError(str(value.get("error") or "request refused"))
    value.pop("ok")
    return value
