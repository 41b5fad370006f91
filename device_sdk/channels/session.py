"""The device side of one open channel: :class:`ChannelSession` and what surrounds it.

A session exists per open channel (one bidirectional QUIC stream, one controller). It is a pure state
machine: the transport feeds it the frames the controller sent (:meth:`ChannelSession.receive_frame`)
and pulls the frames to send when the stream can take more (:meth:`ChannelSession.next_frames`). Pulling
is the flow control: a session never grows without bound; each kind decides what to drop for a
controller that does not keep up (see the subclasses).

The registry tells the transport when to pull through :class:`SessionReady` events, edge-triggered: a
session announces itself once when data arrives, and again only after the transport has pulled.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from ..identity.fingerprint import fingerprint_text
from ..wire.codes import OpenResult

_log = logging.getLogger(__name__)

Role = Literal["admin", "user"]
"""A paired controller's role (profile section 5): the first one paired is an admin."""

REFUSED: int = OpenResult.PERMANENT_ERROR
"""The data-channel-open-response result for a refused channel (permanent error)."""


@dataclass(frozen=True, kw_only=True)
class PeerInfo:
    """The authenticated controller on the other end of a channel."""

    fp: bytes
    """The 32-byte SHA-256 fingerprint of the controller certificate's SubjectPublicKeyInfo."""
    role: Role
    name: str = ""

    @property
    def fp_text(self) -> str:
        """The fingerprint as text: standard base64, padded (44 characters), as in TXT ``fp``."""
        return fingerprint_text(self.fp)

    @property
    def is_admin(self) -> bool:
        """Whether this controller is an admin."""
        return self.role == "admin"


@dataclass(frozen=True, kw_only=True)
class OpenRefused:
    """A refused open: answer data-channel-open-response with ``result`` and end the stream."""

    label: str
    protocol: str
    reason: str
    result: int = REFUSED


# -- registry events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogChanged:
    """The catalog or the device info changed: bump TXT ``mv`` and send agent-info-event."""

    version: int


@dataclass(frozen=True, eq=False)
class SessionReady:
    """``session`` has frames (or a datagram) to send, or was closed by the device: pull from it."""

    session: ChannelSession


@dataclass(frozen=True)
class CallsReady:
    """Actuator or admin calls wait to be run: call ``registry.take_calls()``."""


RegistryEvent = CatalogChanged | SessionReady | CallsReady


class Hub(Protocol):
    """What channels need from the registry (internal; channels that take requests need
    :class:`~device_sdk.channels.calls.CallHub`)."""

    def clock(self) -> float: ...

    def notify(self, event: RegistryEvent) -> None: ...

    def has_room(self, session: ChannelSession) -> bool: ...

    def session_closed(self, session: ChannelSession) -> None: ...


class _Source(Protocol):
    def _detach(self, session: ChannelSession) -> None: ...


# -- sessions --------------------------------------------------------------------------------------


_NUMBERS = (float, int, bool)


def approx_size(obj: object) -> int:
    """An estimate of the CBOR-encoded size of ``obj`` in bytes (used for pull budgets)."""
    if type(obj) in _NUMBERS:  # exact types first (ABC checks are slow): this runs for every frame sent
        return 9
    if isinstance(obj, bytes | str):
        return len(obj) + 3
    if type(obj) is dict or isinstance(obj, Mapping):
        return 3 + sum(approx_size(k) + approx_size(v) for k, v in obj.items())
    if isinstance(obj, list | tuple):
        return 3 + sum(approx_size(v) for v in obj)
    return 9


_READING_KEYS = approx_size("s") + approx_size("t") + approx_size("v") + approx_size(0) + approx_size(0.0) + 3
"""``approx_size`` of a reading frame ``{"s", "t", "v"}`` less that of its value."""


def reading_frame_size(frame: Any) -> int:
    """``approx_size(frame)`` for a reading frame ``{"s", "t", "v"}`` as sensors and inputs queue them,
    without walking the frame (anything else is measured in full)."""
    if type(frame) is dict and len(frame) == 3:
        seq, t, value = frame.get("s"), frame.get("t"), frame.get("v")
        if type(seq) is int and type(t) is float and value is not None:
            return _READING_KEYS + (9 if type(value) in _NUMBERS else approx_size(value))
    return approx_size(frame)


class ChannelSession:
    """One open channel for one controller, device side.

    Driven by the transport:

    - :meth:`receive_frame` with every frame the controller sends (never raises for bad input);
    - :meth:`next_frames` when the stream can take more; ``has_pending`` says whether there is more;
    - :meth:`close` when the stream ends (FIN or reset from the peer, connection lost).

    When ``closed`` becomes true without the transport calling :meth:`close` (the device removed the
    channel or the controller), the transport ends the stream. Sessions are not thread-safe.
    """

    kind: ClassVar[str] = ""

    def __init__(self, *, hub: Hub, source: _Source, label: str, protocol: str, peer: PeerInfo) -> None:
        self._hub = hub
        self._source = source
        self._label = label
        self._protocol = protocol
        self.peer = peer
        """The controller; its role is updated when an admin changes it."""
        self._queue: deque[Any] = deque()
        self._closed = False
        self._close_reason: str | None = None
        self._armed = True

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} {self._label!r} peer={self.peer.fp_text[:8]} {state}>"

    @property
    def label(self) -> str:
        """The channel label (the channel name, ``catalog`` or ``admin``)."""
        return self._label

    @property
    def protocol(self) -> str:
        """The protocol name the channel was opened with."""
        return self._protocol

    @property
    def closed(self) -> bool:
        """Whether the session is closed (by :meth:`close` or by the device)."""
        return self._closed

    @property
    def close_reason(self) -> str | None:
        """Why the device closed the session, or None."""
        return self._close_reason

    @property
    def has_pending(self) -> bool:
        """Whether :meth:`next_frames` has frames to give."""
        return bool(self._queue) and not self._closed

    def receive_frame(self, frame: object, now: float) -> None:
        """Handle one frame from the controller (decoded CBOR). The base session ignores frames."""
        _log.debug("%r: ignoring a frame from the controller", self)

    def next_frames(self, *, max_frames: int | None = None, max_bytes: int | None = None) -> list[Any]:
        """Take the frames to send next, oldest first.

        ``max_frames`` bounds the count, ``max_bytes`` the estimated encoded size (at least one frame
        is returned when any is pending). Calling it re-arms the :class:`SessionReady` notification.
        """
        self._armed = True
        if self._closed:
            return []
        out: list[Any] = []
        budget = max_bytes
        while self._queue and (max_frames is None or len(out) < max_frames):
            frame = self._queue[0]
            if budget is not None:
                size = self._frame_size(frame)
                if out and size > budget:
                    break
                budget -= size
            out.append(self._queue.popleft())
            self._taken(frame)
        return out

    def close(self) -> None:
        """Close the session because the stream ended; idempotent. Pending frames are dropped, and the
        registry lets go of the session at once (nothing keeps it, or its connection, alive)."""
        if not self._closed:
            self._closed = True
            self._queue.clear()
            self._source._detach(self)
            self._hub.session_closed(self)

    # -- for subclasses and the registry -----------------------------------------------------------

    def _terminate(self, reason: str) -> None:
        """Close from the device side and tell the transport (which then ends the stream)."""
        if not self._closed:
            self._close_reason = reason
            self.close()
            self._hub.notify(SessionReady(self))

    def _push(self, frame: Any) -> None:
        if self._closed:
            return
        self._queue.append(frame)
        self._wake()

    def _wake(self) -> None:
        if self._armed and not self._closed:
            self._armed = False
            self._hub.notify(SessionReady(self))

    def _frame_size(self, frame: Any) -> int:
        return approx_size(frame)

    def _taken(self, frame: Any) -> None:
        """Hook: ``frame`` left the queue."""

    def _open(self) -> None:
        """Hook: queue what is sent on open."""
