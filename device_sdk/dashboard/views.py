"""What the dashboard tells the page: its messages as JSON-ready dicts, and errors as sentences.

Pure: builders from the SDK's public value objects (readings, catalogs, peer records, errors) to the
messages of docs/dashboard.md. Nothing here sends them.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any, Final

from device_sdk import (
    ActuatorError,
    AmbiguousDevice,
    Catalog,
    ChannelError,
    ChannelOpenFailed,
    ConnectionClosed,
    DeviceNotFound,
    DeviceSDKError,
    DeviceUnreachable,
    FingerprintMismatch,
    InvalidSetupCode,
    LockedOut,
    NotPaired,
    PairingAborted,
    PairingTimeout,
    PairingWindowClosed,
    Reading,
    StreamFormat,
    TransportError,
    WrongSetupCode,
)
from device_sdk.channels import ADMIN_LABEL, ActuatorState, PeerRecord
from device_sdk.wire import CloseCode

CHUNK_HEADER: Final = struct.Struct(">II")
"""The header of a binary message: stream number and chunk sequence number, both big-endian u32."""


def wire_value(value: Any) -> Any:
    """A channel value as JSON can carry it: bytes as a list of numbers is useless to a person, so
    they become their length; NaN and infinities (not JSON) become text."""
    if isinstance(value, bytes | bytearray):
        return {"bytes": len(value)}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, list | tuple):
        return [wire_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): wire_value(v) for k, v in value.items()}
    return value


def reading_message(device: str, channel: str, reading: Reading) -> dict[str, Any]:
    return {
        "type": "reading",
        "device": device,
        "channel": channel,
        "s": reading.seq,
        "t": reading.t,
        "v": wire_value(reading.value),
    }


def state_message(device: str, channel: str, state: ActuatorState) -> dict[str, Any]:
    return {"type": "state", "device": device, "channel": channel, "v": wire_value(state.value), "t": state.t}


def format_message(device: str, channel: str, stream: int, fmt: StreamFormat) -> dict[str, Any]:
    return {
        "type": "format",
        "device": device,
        "channel": channel,
        "stream": stream,
        "codec": fmt.codec,
        "params": wire_value(dict(fmt.params)),
    }


def chunk_message(stream: int, seq: int, data: bytes) -> bytes:
    """A binary message: :data:`CHUNK_HEADER` then the chunk's bytes."""
    return CHUNK_HEADER.pack(stream, seq & 0xFFFFFFFF) + data


def catalog_message(device: str, catalog: Catalog, info: Mapping[str, Any]) -> dict[str, Any]:
    """The device's channels (catalog descriptors as the profile writes them) and its info (the
    catalog's board and SDK; name and model from agent-info, which the device announces as they change)."""
    return {
        "type": "catalog",
        "device": device,
        "info": {**{k: v for k, v in asdict(catalog.device).items() if v is not None}, **info},
        "channels": [wire_value(c.to_frame()) for c in catalog.channels],
    }


def peers_value(peers: Iterable[PeerRecord], own_fp: str) -> list[dict[str, Any]]:
    """The device's controllers, this one marked ``you``."""
    return [
        {
            "fp": p.fp,
            "name": p.name,
            "role": p.role,
            "paired_at": p.paired_at,
            "last_seen": p.last_seen,
            "you": p.fp == own_fp,
        }
        for p in peers
    ]


def error_message(request_id: int | None, text: str, *, offer: str | None = None) -> dict[str, Any]:
    """An ``error`` answer; ``offer`` names what the page may offer instead (``"forget-here"``)."""
    if text.startswith("the "):  # "the device ..." when its name is not known: a sentence starts upper case
        text = "The " + text[4:]
    message: dict[str, Any] = {"type": "error", "id": request_id, "text": text}
    if offer is not None:
        message["offer"] = offer
    return message


def result_message(request_id: int | None, value: Any = None) -> dict[str, Any]:
    return {"type": "result", "id": request_id, "value": value}


def _duration(seconds: float) -> str:
    seconds = max(1, math.ceil(seconds))
    if seconds < 90:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


_ACTUATOR_ERRORS: Final = {
    "out-of-range": "{device} refused that value for {channel}: it is out of range",
    "bad-type": "{device} refused that value for {channel}: it is not the right kind of value",
    "busy": "{channel} on {device} is busy: try again in a moment",
    "forbidden": "Only an admin controller of {device} may do that",
    "unknown-op": "{device} does not know how to do that (its software may be older than this dashboard)",
    "failed": "{device} could not do that",
}


def pairing_error_text(exc: BaseException, device: str) -> str:
    """One sentence for a failed pairing: what happened and what to do next."""
    if isinstance(exc, WrongSetupCode):
        return f"That code is not the one {device} expects: check the sticker or the display and try again."
    if isinstance(exc, PairingWindowClosed):
        return (
            f"{device} is not accepting new controllers right now: press its pairing button, or open its "
            "pairing window from a controller that is already paired (Controllers, Open pairing window)."
        )
    if isinstance(exc, LockedOut):
        return (
            f"{device} is not taking pairing attempts for {_duration(exc.retry_after)} (too many wrong codes, "
            "or another controller is pairing): wait, then try again with the right code."
        )
    if isinstance(exc, PairingTimeout):
        return f"{device} did not finish pairing in time: check that it is powered and on this network, then try again."
    if isinstance(exc, InvalidSetupCode):
        return f"That is not a setup code: {exc}."
    if isinstance(exc, PairingAborted):
        return f"{device} stopped the pairing (another controller may be pairing at the same time): try again."
    if isinstance(exc, AmbiguousDevice):
        return "Several devices are waiting for this code: choose the device in the list, then pair."
    if isinstance(exc, DeviceNotFound):
        return "No device with an open pairing window matches this code: check that it is on and in pairing mode."
    return error_text(exc, device)


def unpair_error_text(exc: BaseException, device: str) -> str:
    """One sentence for an unpairing that did not reach the device (nothing was forgotten)."""
    if isinstance(exc, DeviceUnreachable):
        return (
            f"The dashboard could not reach {device} to remove itself from it, so nothing was forgotten: "
            "check that it is on and try again, or choose Forget here only (it then keeps listing this "
            "dashboard until one of its admins removes it)."
        )
    return f"{device} did not forget this dashboard: ask one of its admins to remove it, or choose Forget here only."


def error_text(exc: BaseException, device: str, channel: str | None = None) -> str:
    """One sentence for a failed request about ``device`` (and its ``channel``)."""
    where = channel or "that channel"
    if isinstance(exc, ActuatorError):
        text = _ACTUATOR_ERRORS.get(exc.code, "{device} refused: {message}").format(
            device=device, channel=where, message=exc.message or exc.code
        )
        if exc.message and exc.code in ("out-of-range", "bad-type", "failed"):
            text += f" ({exc.message})"
        return text + "."
    if isinstance(exc, ChannelOpenFailed) and exc.label == ADMIN_LABEL:
        return f"Only an admin controller of {device} may do that."
    if isinstance(exc, ChannelOpenFailed):
        return f"{device} has no channel {exc.label!r} open to this controller (it may have been removed)."
    if isinstance(exc, FingerprintMismatch):
        return f"The device answering as {device} is not the one that was paired: it may be an impostor."
    if isinstance(exc, NotPaired):
        return f"{device} is not paired with this dashboard: pair it first."
    if isinstance(exc, ConnectionClosed) and exc.by_peer and exc.code == CloseCode.TOO_MANY_ATTEMPTS:
        return (
            f"{device} turned this dashboard away for now (too many connections or unread answers): "
            "try again in a minute."
        )
    if isinstance(exc, ConnectionClosed | ChannelError | TransportError | TimeoutError):
        return f"{device} did not answer: it may be off or out of reach; the dashboard reconnects when it is back."
    if isinstance(exc, DeviceSDKError):
        return f"{device}: {exc}."
    return f"Something went wrong with {device}; the dashboard's log (-v) has the details."
