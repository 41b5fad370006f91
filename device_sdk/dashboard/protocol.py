"""The dashboard's WebSocket protocol (docs/dashboard.md): the page's requests as typed commands.

Pure: :func:`parse_command` turns one text message from the page into a :class:`Command`, or raises
:class:`BadMessage` with a sentence for the page. Nothing here touches a socket, a device or the clock.
The server's messages to the page are built by :mod:`device_sdk.dashboard.views`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from device_sdk import DeviceSDKError

PROTOCOL_VERSION: Final = 1
"""Sent in the ``hello`` message; a page built for another version reloads itself."""

MAX_MESSAGE_CHARS: Final = 16 * 1024
"""The longest text message accepted from a page (a rename or a setup code is far shorter)."""

MAX_NAME_CHARS: Final = 64
"""The longest device name a page may ask for (the device enforces its own limit as well)."""

MAX_WINDOW_MINUTES: Final = 15
"""The longest pairing window a page may open (the profile's 900 s)."""

PairMethod = Literal["code", "pin", "button"]


class BadMessage(DeviceSDKError):
    """A message from the page that this protocol cannot take; the text is for the page's user."""

    def __init__(self, text: str, request_id: int | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.request_id = request_id


@dataclass(frozen=True, kw_only=True)
class Command:
    """Base of the page's requests; ``id`` (a positive integer) is echoed in the answer, if any."""

    id: int | None = None


@dataclass(frozen=True, kw_only=True)
class Watch(Command):
    """Send this device's catalog, then its readings and actuator states, until :class:`Unwatch`."""

    device: str


@dataclass(frozen=True, kw_only=True)
class Unwatch(Command):
    device: str


@dataclass(frozen=True, kw_only=True)
class Listen(Command):
    """Send the chunks of byte stream ``channel`` (binary messages) until :class:`Unlisten`."""

    device: str
    channel: str


@dataclass(frozen=True, kw_only=True)
class Unlisten(Command):
    device: str
    channel: str


@dataclass(frozen=True, kw_only=True)
class Pair(Command):
    """Pair with ``device`` (a fingerprint), or with the device the code's discriminator names."""

    device: str | None
    method: PairMethod
    code: str | None = field(default=None, repr=False)
    """The QR text, manual code or passcode (method ``code``): never logged, never kept."""


@dataclass(frozen=True, kw_only=True)
class Pin(Command):
    """The PIN a display-mode device shows, for the pairing request ``id``."""

    pin: str = field(repr=False)


@dataclass(frozen=True, kw_only=True)
class Cancel(Command):
    """Give up the pairing request ``id``."""


@dataclass(frozen=True, kw_only=True)
class SetValue(Command):
    device: str
    channel: str
    value: Any


@dataclass(frozen=True, kw_only=True)
class DoAction(Command):
    device: str
    channel: str
    action: str


@dataclass(frozen=True, kw_only=True)
class ListPeers(Command):
    """The device's controllers, and this controller's role on it."""

    device: str


@dataclass(frozen=True, kw_only=True)
class RemovePeer(Command):
    device: str
    fp: str


@dataclass(frozen=True, kw_only=True)
class OpenWindow(Command):
    device: str
    minutes: int | None = None


@dataclass(frozen=True, kw_only=True)
class Rename(Command):
    device: str
    name: str


@dataclass(frozen=True, kw_only=True)
class Unpair(Command):
    """Remove this controller on the device and forget it; ``local_only`` forgets it here only."""

    device: str
    local_only: bool = False


def _text(msg: dict[str, Any], key: str, rid: int | None, *, what: str, limit: int = 256) -> str:
    value = msg.get(key)
    if not isinstance(value, str) or not value.strip():
        raise BadMessage(f"{what.capitalize()} is missing.", rid)
    if len(value) > limit:
        raise BadMessage(f"{what.capitalize()} is too long.", rid)
    return value


def _request_id(msg: dict[str, Any]) -> int | None:
    rid = msg.get("id")
    if rid is None:
        return None
    if isinstance(rid, bool) or not isinstance(rid, int) or not 0 < rid < 2**53:
        raise BadMessage("The request number must be a positive integer.")
    return rid


def parse_command(text: str | bytes) -> Command:
    """The command in one text message from the page; :class:`BadMessage` says what is wrong."""
    if not isinstance(text, str):
        raise BadMessage("The dashboard takes text messages only.")
    if len(text) > MAX_MESSAGE_CHARS:
        raise BadMessage("That message is too long.")
    try:
        msg = json.loads(text)
    except ValueError:
        raise BadMessage("That message is not JSON.") from None
    if not isinstance(msg, dict):
        raise BadMessage("A message must be a JSON object.")
    rid = _request_id(msg)
    kind = msg.get("type")
    if not isinstance(kind, str):
        raise BadMessage("The message has no type.", rid)
    parser = _PARSERS.get(kind)
    if parser is None:
        raise BadMessage(f"Unknown message type {kind[:40]!r}.", rid)
    return parser(msg, rid)


def _device(msg: dict[str, Any], rid: int | None) -> str:
    return _text(msg, "device", rid, what="the device")


def _channel(msg: dict[str, Any], rid: int | None) -> str:
    return _text(msg, "channel", rid, what="the channel")


def _pair(msg: dict[str, Any], rid: int | None) -> Pair:
    if rid is None:
        raise BadMessage("A pairing request needs a request number.")
    method = msg.get("method", "code")
    if method not in ("code", "pin", "button"):
        raise BadMessage("The pairing method must be code, pin or button.", rid)
    device = msg.get("device")
    if device is not None and (not isinstance(device, str) or len(device) > 256):
        raise BadMessage("The device is not a fingerprint.", rid)
    code = None
    if method == "code":
        code = _text(msg, "code", rid, what="the setup code", limit=512)
    elif device is None:
        raise BadMessage("Choose the device to pair with.", rid)
    return Pair(id=rid, device=device, method=method, code=code)


def _pin(msg: dict[str, Any], rid: int | None) -> Pin:
    if rid is None:
        raise BadMessage("A PIN must name its pairing request.")
    return Pin(id=rid, pin=_text(msg, "pin", rid, what="the PIN", limit=64))


def _cancel(msg: dict[str, Any], rid: int | None) -> Cancel:
    if rid is None:
        raise BadMessage("A cancel must name its pairing request.")
    return Cancel(id=rid)


def _set(msg: dict[str, Any], rid: int | None) -> SetValue:
    if "value" not in msg or msg["value"] is None:
        raise BadMessage("The value is missing.", rid)
    return SetValue(id=rid, device=_device(msg, rid), channel=_channel(msg, rid), value=msg["value"])


def _window(msg: dict[str, Any], rid: int | None) -> OpenWindow:
    minutes = msg.get("minutes")
    if minutes is not None and (
        isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= MAX_WINDOW_MINUTES
    ):
        raise BadMessage(f"The window can stay open 1 to {MAX_WINDOW_MINUTES} minutes.", rid)
    return OpenWindow(id=rid, device=_device(msg, rid), minutes=minutes)


def _rename(msg: dict[str, Any], rid: int | None) -> Rename:
    name = _text(msg, "name", rid, what="the new name", limit=MAX_NAME_CHARS).strip()
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name):
        raise BadMessage("The new name has control characters.", rid)
    return Rename(id=rid, device=_device(msg, rid), name=name)


def _unpair(msg: dict[str, Any], rid: int | None) -> Unpair:
    local_only = msg.get("local_only", False)
    if not isinstance(local_only, bool):
        raise BadMessage("The choice to forget the device here only must be true or false.", rid)
    return Unpair(id=rid, device=_device(msg, rid), local_only=local_only)


_PARSERS: Final[dict[str, Callable[[dict[str, Any], int | None], Command]]] = {
    "watch": lambda m, r: Watch(id=r, device=_device(m, r)),
    "unwatch": lambda m, r: Unwatch(id=r, device=_device(m, r)),
    "listen": lambda m, r: Listen(id=r, device=_device(m, r), channel=_channel(m, r)),
    "unlisten": lambda m, r: Unlisten(id=r, device=_device(m, r), channel=_channel(m, r)),
    "pair": _pair,
    "pin": _pin,
    "cancel": _cancel,
    "set": _set,
    "do": lambda m, r: DoAction(
        id=r, device=_device(m, r), channel=_channel(m, r), action=_text(m, "action", r, what="the action")
    ),
    "peers": lambda m, r: ListPeers(id=r, device=_device(m, r)),
    "remove-peer": lambda m, r: RemovePeer(id=r, device=_device(m, r), fp=_text(m, "fp", r, what="the controller")),
    "open-window": _window,
    "rename": _rename,
    "unpair": _unpair,
}
