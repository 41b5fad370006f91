"""Actuator channels, device side (profile section 6.3): :class:`Actuator` and :class:`ActuatorSession`.

A controller sends ``{"id", "set": value}`` or ``{"id", "do": action}``. The session checks the request
at once (type, range, known action, permission, load) and answers errors itself; a valid request
becomes an :class:`~device_sdk.channels.calls.ActuatorCall` that the async edge runs. Its outcome is
answered to the caller, and a state change is sent as a state frame to every other open channel.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from device_sdk.errors import ChannelError

from .calls import ActuatorCall, CallHub
from .descriptor import ChannelDescriptor
from .frames import ActuatorState, error_answer, ok_answer
from .session import ChannelSession, Hub, PeerInfo
from .source import ChannelSource
from .values import ValueRejected, ValueSpec, check_value

_log = logging.getLogger(__name__)

SetHandler = Callable[[Any], object]
"""Called with the validated value; returns the new state (None: the value), or an awaitable of it."""
ActionHandler = Callable[[], object]
"""Called for a ``do``; returns the new state (None: unchanged), or an awaitable of it."""


def _is_uint(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and bool(a == b)


class Actuator(ChannelSource["ActuatorSession"]):
    """An actuator declared with ``registry.actuator(...)``.

    It is *stateful* when it has an initial state: its state is sent on open and after every change.
    An actuator with only actions and no initial state is stateless (its answers carry no ``"v"``).
    """

    def __init__(
        self,
        *,
        hub: CallHub,
        descriptor: ChannelDescriptor,
        spec: ValueSpec,
        initial: Any,
        handler: SetHandler | None,
        actions: Mapping[str, ActionHandler],
        admin_only: bool,
        answer_limit: int,
    ) -> None:
        super().__init__(hub=hub, descriptor=descriptor)
        self._calls = hub
        self._spec = spec
        self._state = None if initial is None else check_value(spec, initial)
        self._state_t = hub.clock()
        self._handler = handler
        self._actions = dict(actions)
        self._admin_only = admin_only
        self._answer_limit = answer_limit

    def __repr__(self) -> str:
        return f"<Actuator {self.name!r} state={self._state!r}>"

    @property
    def stateful(self) -> bool:
        """Whether the actuator has a state."""
        return self._state is not None

    @property
    def value(self) -> Any:
        """The current state (None for a stateless actuator)."""
        return self._state

    @property
    def state(self) -> ActuatorState | None:
        """The current state and when it was taken, or None for a stateless actuator."""
        return None if self._state is None else ActuatorState(self._state, self._state_t)

    @property
    def actions(self) -> tuple[str, ...]:
        """The names of its actions."""
        return tuple(self._actions)

    def report(self, state: Any, t: float | None = None) -> None:
        """The state changed for another reason (a physical switch): tell every open channel.

        Raises :class:`~device_sdk.channels.values.ValueRejected` for a state of the wrong type and
        :class:`~device_sdk.errors.ChannelError` for a stateless or removed actuator. Reporting the
        current state again sends nothing.
        """
        if self._removed:
            raise ChannelError(f"channel {self.name!r} was removed")
        if self._state is None:
            raise ChannelError(f"actuator {self.name!r} has no state to report")
        checked = check_value(self._spec, state, check_range=False)
        self._set_state(checked, self._hub.clock() if t is None else float(t), exclude=None)

    # -- sessions ----------------------------------------------------------------------------------

    def _open_session(self, *, label: str, protocol: str, peer: PeerInfo) -> ActuatorSession:
        session = ActuatorSession(
            hub=self._hub,
            source=self,
            label=label,
            protocol=protocol,
            peer=peer,
            answer_limit=self._answer_limit,
        )
        self._attach(session)
        state = self.state
        if state is not None:
            session._push(state.to_frame())
        return session

    def _set_state(self, state: Any, t: float, *, exclude: ChannelSession | None) -> None:
        changed = not _same(state, self._state)
        self._state, self._state_t = state, t
        if changed:
            frame = ActuatorState(state, t).to_frame()
            for session in tuple(self._sessions):
                if session is not exclude:
                    session._state_changed(frame)

    # -- requests ----------------------------------------------------------------------------------

    def _request(self, session: ActuatorSession, request_id: int, frame: Mapping[Any, Any]) -> None:
        has_set, has_do = "set" in frame, "do" in frame
        if has_set and has_do:
            session._answer(error_answer(request_id, "bad-type", "send either 'set' or 'do', not both"))
            return
        if not has_set and not has_do:
            session._answer(error_answer(request_id, "unknown-op", "the request has no 'set' or 'do'"))
            return
        if self._admin_only and not session.peer.is_admin:
            session._answer(error_answer(request_id, "forbidden", f"{self.name!r} is for admins only"))
            return
        action: str | None = None
        value: Any = None
        if has_set:
            handler = self._handler
            if handler is None:
                message = f"{self.name!r} cannot be set; actions: {', '.join(self._actions) or 'none'}"
                session._answer(error_answer(request_id, "unknown-op", message))
                return
            try:
                value = check_value(self._spec, frame["set"])
            except ValueRejected as exc:
                session._answer(error_answer(request_id, exc.code, exc.message))
                return

            def invoke() -> object:
                assert handler is not None
                return handler(value)

        else:
            action = frame["do"]
            if not isinstance(action, str):
                session._answer(error_answer(request_id, "bad-type", "'do' must be an action name"))
                return
            action_handler = self._actions.get(action)
            if action_handler is None:
                session._answer(error_answer(request_id, "unknown-op", f"no action {action!r}"))
                return
            invoke = action_handler
        if not self._hub.has_room(session):
            session._answer(error_answer(request_id, "busy", "too many requests in flight"))
            return
        call = ActuatorCall(
            channel=self.name,
            op="set" if has_set else "do",
            request_id=request_id,
            peer=session.peer,
            value=value,
            action=action,
            session=session,
            _invoke=invoke,
            _target=self,
            _on_done=self._calls.call_done,
        )
        self._calls.submit(call)

    def _finish_call(self, call: ActuatorCall, result: object, now: float) -> None:
        session = call.session
        assert isinstance(session, ActuatorSession)
        if call.op == "do" and self._state is None:
            session._answer(ok_answer(call.request_id))
            return
        if result is None:
            result = call.value if call.op == "set" else self._state
        try:
            state = check_value(self._spec, result, check_range=False)
        except ValueRejected as exc:
            _log.warning("handler of %r returned an invalid state: %s", self.name, exc)
            session._answer(error_answer(call.request_id, "failed", f"the handler returned a bad state: {exc}"))
            return
        if not self._removed:
            self._set_state(state, now, exclude=session)
        session._answer(ok_answer(call.request_id, state))

    def _fail_call(self, call: ActuatorCall, code: str, message: str, now: float) -> None:
        session = call.session
        assert isinstance(session, ActuatorSession)
        session._answer(error_answer(call.request_id, code, message))


class ActuatorSession(ChannelSession):
    """One controller's channel to an actuator.

    Sends the state on open, answers every request it can read an id from (malformed requests get
    ``"bad-type"`` or ``"unknown-op"``, frames without a readable id are ignored) and a state frame when
    the state changes for any reason other than this controller's own request. Only the newest pending
    state frame is kept. A controller that never reads loses answers beyond ``answer_limit`` waiting.
    """

    kind: ClassVar[str] = "actuator"

    def __init__(
        self, *, hub: Hub, source: Actuator, label: str, protocol: str, peer: PeerInfo, answer_limit: int
    ) -> None:
        super().__init__(hub=hub, source=source, label=label, protocol=protocol, peer=peer)
        self._actuator = source
        self._answer_limit = answer_limit
        self.dropped_answers = 0
        """Answers dropped because the controller did not read them."""

    def receive_frame(self, frame: object, now: float) -> None:
        """Handle a request; never raises for bad input."""
        if not isinstance(frame, Mapping):
            _log.debug("%r: ignoring a frame that is not a map", self)
            return
        request_id = frame.get("id")
        if not _is_uint(request_id):
            _log.debug("%r: ignoring a request without a readable id", self)
            return
        assert isinstance(request_id, int)
        if self._closed:
            return
        self._actuator._request(self, request_id, frame)

    def _answer(self, frame: dict[str, Any]) -> None:
        if self._closed:
            return
        if len(self._queue) >= self._answer_limit:
            self.dropped_answers += 1
            _log.warning("%r: the controller does not read its answers; dropping one", self)
            return
        self._push(frame)

    def _state_changed(self, frame: dict[str, Any]) -> None:
        if self._closed:
            return
        stale = [f for f in self._queue if "id" not in f]
        for old in stale:
            self._queue.remove(old)
        self._push(frame)
