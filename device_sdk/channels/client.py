"""Controller side of the channel protocols: pure helpers fed the frames a device sends.

- :class:`ReadingFilter` (alias :class:`InputFilter`): typed readings of a sensor or input channel,
  dropping frames whose sequence number is not larger than the last one seen (use one per channel for
  both the datagram and the stream path) and counting the gaps.
- :class:`ActuatorClient` and :class:`AdminClient`: allocate request ids, build request frames and
  match answers to them.
- :class:`StreamReceiver`: the format frame, then chunks.
- :func:`~device_sdk.channels.descriptor.parse_catalog` parses catalog frames.

``receive``/``accept`` methods never raise for a malformed frame from the device: they log it and return
None (the profile ignores frames of the wrong shape).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidArgument, InvalidType
from .admin import MAX_WINDOW_SECONDS
from .descriptor import FrameError
from .frames import (
    ActuatorAnswer,
    ActuatorState,
    Reading,
    StreamChunk,
    StreamFormat,
    Subscription,
    admin_request,
    do_request,
    is_answer,
    parse_answer,
    parse_chunk,
    parse_format,
    parse_reading,
    parse_state,
    set_request,
)
from .session import Role

_log = logging.getLogger(__name__)


def subscription_frame(*, min_interval_ms: int | None = None, change: float | None = None) -> dict[str, Any]:
    """A sensor subscription frame; no arguments means "every reading" (the default)."""
    if min_interval_ms is not None and (
        isinstance(min_interval_ms, bool) or not isinstance(min_interval_ms, int) or min_interval_ms < 0
    ):
        raise InvalidArgument("min_interval_ms must be a non-negative integer")
    if change is not None and (isinstance(change, bool) or not isinstance(change, int | float) or not change >= 0):
        raise InvalidArgument("change must be a non-negative number")
    return Subscription(min_interval_ms, change).to_frame()


class ReadingFilter:
    """Readings of one sensor or input channel, newest only.

    :meth:`accept` returns the :class:`Reading` of a frame whose sequence number is larger than any seen
    so far, else None. ``missed`` counts readings skipped by the device (gaps), ``stale`` the frames
    dropped for arriving late (a datagram overtaken by a stream frame or the reverse).
    """

    def __init__(self) -> None:
        self.last_seq: int | None = None
        self.missed = 0
        self.stale = 0
        self.malformed = 0

    def accept(self, frame: object) -> Reading | None:
        """The reading in ``frame`` if it is new, else None."""
        try:
            reading = parse_reading(frame)
        except FrameError as exc:
            self.malformed += 1
            _log.debug("ignoring a malformed reading: %s", exc)
            return None
        if self.last_seq is not None:
            if reading.seq <= self.last_seq:
                self.stale += 1
                return None
            self.missed += reading.seq - self.last_seq - 1
        self.last_seq = reading.seq
        return reading


InputFilter = ReadingFilter
"""The filter of an input channel: one per channel, shared by the datagram and the stream path."""


@dataclass(frozen=True, slots=True)
class PendingRequest:
    """A request to send: ``frame`` goes out on the channel; its answer carries ``id``."""

    id: int
    frame: dict[str, Any]


class _RequestClient:
    def __init__(self, *, first_id: int = 1) -> None:
        if first_id < 0:
            raise InvalidArgument("request ids are unsigned")
        self._next_id = first_id
        self._pending: dict[int, dict[str, Any]] = {}

    @property
    def pending(self) -> frozenset[int]:
        """The ids of requests sent and not yet answered."""
        return frozenset(self._pending)

    def cancel_all(self) -> list[int]:
        """Forget every unanswered request (the channel closed); return their ids."""
        ids = list(self._pending)
        self._pending.clear()
        return ids

    def _new(self, frame: dict[str, Any]) -> PendingRequest:
        request_id = frame["id"]
        self._pending[request_id] = frame
        return PendingRequest(request_id, frame)

    def _allocate(self) -> int:
        request_id = self._next_id
        self._next_id += 1
        return request_id

    def _match(self, frame: object) -> ActuatorAnswer | None:
        try:
            answer = parse_answer(frame)
        except FrameError as exc:
            _log.debug("ignoring a malformed answer: %s", exc)
            return None
        if self._pending.pop(answer.id, None) is None:
            _log.debug("ignoring an answer to unknown request %d", answer.id)
            return None
        return answer


class ActuatorClient(_RequestClient):
    """One actuator channel, controller side.

    Build requests with :meth:`set` / :meth:`do`, send their ``frame``, and feed every frame the device
    sends to :meth:`receive`: it returns the :class:`ActuatorAnswer` to one of your requests (its
    :meth:`~ActuatorAnswer.result` gives the new state or raises
    :class:`~device_sdk.errors.ActuatorError`), an :class:`ActuatorState` when the state changed for
    another reason, or None for anything else. ``state`` follows both.
    """

    def __init__(self, *, first_id: int = 1) -> None:
        super().__init__(first_id=first_id)
        self.state: ActuatorState | None = None

    def set(self, value: Any) -> PendingRequest:
        """A ``{"id", "set": value}`` request."""
        if value is None:
            raise InvalidArgument("None is not a channel value")
        return self._new(set_request(self._allocate(), value))

    def do(self, action: str) -> PendingRequest:
        """A ``{"id", "do": action}`` request."""
        if not isinstance(action, str):
            raise InvalidType("an action is named by text")
        return self._new(do_request(self._allocate(), action))

    def receive(self, frame: object) -> ActuatorAnswer | ActuatorState | None:
        """Match an answer or take a state frame (see the class doc)."""
        if is_answer(frame):
            answer = self._match(frame)
            if answer is not None and answer.ok and answer.has_value:
                self.state = ActuatorState(answer.value, None)
            return answer
        try:
            self.state = parse_state(frame)
        except FrameError as exc:
            _log.debug("ignoring a malformed actuator frame: %s", exc)
            return None
        return self.state


@dataclass(frozen=True, kw_only=True)
class PeerRecord:
    """One paired controller in a ``list-peers`` answer. ``last_seen`` (an extension key; None from a
    device that does not send it) is when the controller last connected or paired; ``extra`` holds
    the keys this SDK does not know."""

    fp: str
    name: str = ""
    role: str = "user"
    paired_at: float | None = None
    last_seen: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


def parse_peers(value: object) -> list[PeerRecord]:
    """Parse the ``"v"`` of a ``list-peers`` answer; :class:`FrameError` when malformed."""
    if not isinstance(value, list | tuple):
        raise FrameError("a peer list must be an array")
    peers: list[PeerRecord] = []
    for item in value:
        if not isinstance(item, Mapping) or not isinstance(item.get("fp"), str):
            raise FrameError("every peer needs a text 'fp'")
        name, role = item.get("name", ""), item.get("role", "user")
        if not isinstance(name, str) or not isinstance(role, str):
            raise FrameError("a peer's 'name' and 'role' must be text")
        extra = {k: v for k, v in item.items() if k not in _PEER_KEYS}
        peers.append(
            PeerRecord(
                fp=item["fp"],
                name=name,
                role=role,
                paired_at=_time(item, "paired_at"),
                last_seen=_time(item, "last_seen"),
                extra=extra,
            )
        )
    return peers


_PEER_KEYS = ("fp", "name", "role", "paired_at", "last_seen")


def _time(item: Mapping[Any, Any], key: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FrameError(f"a peer's {key!r} must be a number")
    return float(value)


class AdminClient(_RequestClient):
    """The admin channel, controller side: build requests, then feed answers to :meth:`receive`."""

    def open_pairing_window(self, seconds: int | None = None) -> PendingRequest:
        """Open the device's pairing window for ``seconds`` (None: the device's default)."""
        if seconds is not None and not 1 <= seconds <= MAX_WINDOW_SECONDS:
            raise InvalidArgument(f"seconds must be 1..{MAX_WINDOW_SECONDS}")
        params = {} if seconds is None else {"seconds": seconds}
        return self._new(admin_request(self._allocate(), "open-pairing-window", params))

    def list_peers(self) -> PendingRequest:
        """List the paired controllers (parse the answer's value with :func:`parse_peers`)."""
        return self._new(admin_request(self._allocate(), "list-peers"))

    def remove_peer(self, fp: str) -> PendingRequest:
        """Forget controller ``fp`` (base64 fingerprint)."""
        return self._new(admin_request(self._allocate(), "remove-peer", {"fp": fp}))

    def set_role(self, fp: str, role: Role) -> PendingRequest:
        """Make controller ``fp`` an admin or a user."""
        return self._new(admin_request(self._allocate(), "set-role", {"fp": fp, "role": role}))

    def rename(self, name: str) -> PendingRequest:
        """Rename the device; the answer's value is the name now in use."""
        return self._new(admin_request(self._allocate(), "rename", {"name": name}))

    def leave(self) -> PendingRequest:
        """Ask the device to forget this controller (any paired controller may); once it answers ok
        the device closes this controller's connections."""
        return self._new(admin_request(self._allocate(), "leave"))

    def request(self, op: str, **params: Any) -> PendingRequest:
        """Any other operation (for newer devices)."""
        return self._new(admin_request(self._allocate(), op, params))

    def receive(self, frame: object) -> ActuatorAnswer | None:
        """The answer to one of the requests, or None."""
        return self._match(frame)


class StreamReceiver:
    """One byte-stream channel, controller side: the format frame first, then chunks.

    :meth:`receive` returns the :class:`StreamFormat`, a :class:`StreamChunk`, or None for a frame that
    is malformed, a chunk before the format, or a repeated/old chunk. ``missed`` counts the chunks the
    device dropped for this controller (sequence gaps).
    """

    def __init__(self) -> None:
        self.format: StreamFormat | None = None
        self.last_seq: int | None = None
        self.missed = 0

    def receive(self, frame: object) -> StreamFormat | StreamChunk | None:
        """Take one frame (see the class doc)."""
        try:
            if isinstance(frame, Mapping) and "format" in frame:
                self.format = parse_format(frame)
                return self.format
            chunk = parse_chunk(frame)
        except FrameError as exc:
            _log.debug("ignoring a malformed stream frame: %s", exc)
            return None
        if self.format is None:
            _log.debug("ignoring a chunk before the format frame")
            return None
        if self.last_seq is not None:
            if chunk.seq <= self.last_seq:
                return None
            self.missed += chunk.seq - self.last_seq - 1
        self.last_seq = chunk.seq
        return chunk
