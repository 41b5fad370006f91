"""Channel values as MQTT payloads and command payloads as channel values (pure).

States: ``ON`` / ``OFF`` for booleans (Home Assistant's defaults), numbers as JSON numbers, texts and enum
members as UTF-8 text, maps as JSON objects. Events (input channels): a JSON object with ``event_type``
(and ``value`` for inputs that are not bool or enum), as Home Assistant's ``event`` entity reads it.

Commands come from anyone who can publish on the broker, so every payload is checked here and a bad one
raises :class:`CommandRejected` with a sentence saying why; the bridge logs it and carries on.
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

from device_sdk.errors import DeviceSDKError

from .discovery import BOOL_EVENTS, CHANGED_EVENT, ChannelPlan

MAX_COMMAND_BYTES: Final = 4096
"""Longer command payloads are refused before they are decoded."""

_TRUE: Final = frozenset({"on", "true", "1"})
_FALSE: Final = frozenset({"off", "false", "0"})


class CommandRejected(DeviceSDKError):
    """A command from the broker cannot be carried out: ``reason`` is one sentence saying why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def encode_state(value: Any) -> bytes | None:
    """The state-topic payload of ``value`` (None for values that have no payload: bytes)."""
    if isinstance(value, bool):
        return b"ON" if value else b"OFF"
    if isinstance(value, int | float):
        return json.dumps(value).encode()
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, dict | list):
        try:
            return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
        except (TypeError, ValueError):  # bytes inside a map: JSON has no bytes
            return None
    return None


def encode_event(plan: ChannelPlan, value: Any) -> bytes | None:
    """The event-topic payload of an input reading, or None when the reading is no event (bytes)."""
    if plan.type == "bool" and isinstance(value, bool):
        body: dict[str, Any] = {"event_type": BOOL_EVENTS[0] if value else BOOL_EVENTS[1]}
    elif plan.type == "enum" and isinstance(value, str):
        body = {"event_type": value}
    else:
        body = {"event_type": CHANGED_EVENT, "value": value}
    try:
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()
    except (TypeError, ValueError):
        return None


def _text(payload: bytes) -> str:
    try:
        return payload.decode()
    except UnicodeDecodeError:
        raise CommandRejected("the payload is not UTF-8 text") from None


def _show(text: str) -> str:
    """A payload quoted for a log line, cut short."""
    return repr(text if len(text) <= 40 else text[:40] + "…")


def decode_set(plan: ChannelPlan, payload: bytes) -> Any:
    """The value a ``set`` command carries for ``plan``'s channel; :class:`CommandRejected` if none."""
    if not plan.settable:
        raise CommandRejected(f"{plan.name!r} cannot be set")
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandRejected(f"the payload has {len(payload)} bytes, more than the {MAX_COMMAND_BYTES} allowed")
    text = _text(payload)
    vtype = plan.type
    if vtype == "bool":
        word = text.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise CommandRejected(f"expected ON or OFF, got {_show(text)}")
    if vtype in ("float", "int"):
        try:
            number = float(text.strip())
        except ValueError:
            raise CommandRejected(f"expected a number, got {_show(text)}") from None
        if not math.isfinite(number):
            raise CommandRejected(f"expected a finite number, got {_show(text)}")
        if vtype == "int":
            if not number.is_integer():
                raise CommandRejected(f"expected a whole number, got {_show(text)}")
            return int(number)
        return number
    if vtype in ("text", "enum"):
        return text
    if vtype == "map":
        try:
            value = json.loads(text)
        except ValueError:
            raise CommandRejected(f"expected a JSON object, got {_show(text)}") from None
        if not isinstance(value, dict):
            raise CommandRejected(f"expected a JSON object, got {_show(text)}")
        return value
    raise CommandRejected(f"{vtype} values cannot be sent over MQTT")


def decode_action(plan: ChannelPlan, payload: bytes) -> str:
    """The action a ``do`` command names; :class:`CommandRejected` when the channel has no such action."""
    if len(payload) > MAX_COMMAND_BYTES:
        raise CommandRejected(f"the payload has {len(payload)} bytes, more than the {MAX_COMMAND_BYTES} allowed")
    action = _text(payload).strip()
    if action not in plan.actions:
        if not plan.actions:
            raise CommandRejected(f"{plan.name!r} has no actions")
        raise CommandRejected(f"{plan.name!r} has no action {_show(action)}; it has {', '.join(plan.actions)}")
    return action
