"""Actuator and admin requests waiting to be carried out: :class:`ActuatorCall` and its dispatcher.

Handlers are application code that may be slow or async, so sessions never run them. A valid request
becomes an :class:`ActuatorCall`; the registry hands out calls that are ready (``take_calls()``), the
async edge runs them (:func:`device_sdk.channels.runner.run_call` or any equivalent) and reports the
outcome with :meth:`ActuatorCall.complete` or :meth:`ActuatorCall.fail_with`. The answer frame, the new
state and the state frames to the other controllers follow from that.

Calls on one channel run one at a time, in the order received (a second ``set`` on a motor waits until
the first is done); calls on different channels run independently.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from device_sdk.errors import ActuatorError

from .session import CallsReady, ChannelSession, Hub, PeerInfo, RegistryEvent
from .values import ERROR_CODES

_log = logging.getLogger(__name__)


class ActuatorBusy(ActuatorError):
    """Raise from a handler to answer ``"busy"`` (the actuator cannot take the request now)."""

    def __init__(self, message: str = "") -> None:
        super().__init__("busy", message)


class CallHub(Hub, Protocol):
    """What channels that take requests (actuators, admin) need from the registry (internal)."""

    def submit(self, call: ActuatorCall) -> None: ...

    def call_done(self, call: ActuatorCall) -> None: ...


class _CallTarget(Protocol):
    def _finish_call(self, call: ActuatorCall, result: object, now: float) -> None: ...

    def _fail_call(self, call: ActuatorCall, code: str, message: str, now: float) -> None: ...


@dataclass(eq=False, kw_only=True)
class ActuatorCall:
    """A valid request from a controller, waiting to be run.

    ``op`` is ``"set"`` (``value`` holds the validated value), ``"do"`` (``action`` names the action)
    or an admin operation name (``value`` holds its checked parameters as a dict).
    """

    channel: str
    op: str
    request_id: int
    peer: PeerInfo
    value: Any = None
    action: str | None = None
    session: ChannelSession = field(repr=False)
    _invoke: Callable[[], object] = field(repr=False)
    _target: _CallTarget = field(repr=False)
    _on_done: Callable[[ActuatorCall], None] = field(repr=False)
    _done: bool = field(default=False, repr=False)

    @property
    def done(self) -> bool:
        """Whether the call was completed or failed."""
        return self._done

    def invoke(self) -> object:
        """Call the handler: its result, or an awaitable of it for an async handler. May raise."""
        return self._invoke()

    def complete(self, result: object, now: float) -> None:
        """The handler returned ``result`` at ``now``: answer, update the state. Idempotent."""
        if self._mark_done():
            try:
                self._target._finish_call(self, result, now)
            finally:
                self._on_done(self)

    def fail(self, code: str, message: str, now: float) -> None:
        """Answer with error ``code`` (a profile error code; others become ``"failed"``). Idempotent."""
        if self._mark_done():
            try:
                self._target._fail_call(self, code if code in ERROR_CODES else "failed", message, now)
            finally:
                self._on_done(self)

    def fail_with(self, exc: BaseException, now: float) -> None:
        """The handler raised ``exc``: :class:`~device_sdk.errors.ActuatorError` (and
        :class:`ActuatorBusy`) give their code, anything else ``"failed"`` with the message."""
        if isinstance(exc, ActuatorError):
            self.fail(exc.code, exc.message, now)
            return
        _log.warning("handler of %r (%s) raised %s: %s", self.channel, self.op, type(exc).__name__, exc)
        self.fail("failed", str(exc) or type(exc).__name__, now)

    def _mark_done(self) -> bool:
        if self._done:
            return False
        self._done = True
        return True


class CallDispatcher:
    """Serializes calls per channel and hands out the ones that may run (internal to the registry)."""

    def __init__(self, notify: Callable[[RegistryEvent], None], *, max_in_flight: int) -> None:
        self._notify = notify
        self._max_in_flight = max_in_flight
        self._ready: list[ActuatorCall] = []
        self._waiting: dict[str, deque[ActuatorCall]] = {}
        self._running: set[str] = set()
        self._per_session: dict[ChannelSession, int] = {}

    def has_room(self, session: ChannelSession) -> bool:
        """Whether ``session`` may start another call (its unfinished calls are below the limit)."""
        return self._per_session.get(session, 0) < self._max_in_flight

    def submit(self, call: ActuatorCall) -> None:
        """Queue ``call``; it is ready at once when its channel is idle."""
        self._per_session[call.session] = self._per_session.get(call.session, 0) + 1
        if call.channel in self._running:
            self._waiting.setdefault(call.channel, deque()).append(call)
            return
        self._running.add(call.channel)
        self._make_ready(call)

    def take(self) -> list[ActuatorCall]:
        """The calls that may run now, each returned once."""
        ready, self._ready = self._ready, []
        return ready

    def finished(self, call: ActuatorCall) -> None:
        """``call`` is done: release its channel to the next waiting call."""
        count = self._per_session.get(call.session, 0) - 1
        if count > 0:
            self._per_session[call.session] = count
        else:
            self._per_session.pop(call.session, None)
        waiting = self._waiting.get(call.channel)
        if waiting:
            self._make_ready(waiting.popleft())
            if not waiting:
                del self._waiting[call.channel]
        else:
            self._running.discard(call.channel)

    def _make_ready(self, call: ActuatorCall) -> None:
        self._ready.append(call)
        if len(self._ready) == 1:
            self._notify(CallsReady())
