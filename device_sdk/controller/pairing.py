"""The controller's side of one pairing attempt over one connection (:meth:`Controller.pair`).

It drives the sans-I/O :class:`~device_sdk.pairing.auth_controller.ControllerAuth` from the
connection's events and timers, asks the user for a display-mode PIN, and turns the outcome into
the exceptions :meth:`~device_sdk.controller.Controller.pair` raises.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ..errors import ConnectionClosed, InvalidSetupCode, PairingAborted, PairingError
from ..pairing.auth import Authenticated, AuthFailed, NeedPin, SendMessage, failure_to_error
from ..pairing.auth_controller import ControllerAuth
from ..pairing.display_pin import parse_display_pin
from ..transport import AgentConnection, ConnectionHandler
from ..wire import AuthMessage, CloseCode, Message

PEER_CLOSE_GRACE_S = 2.0
"""After the device reports a failed pairing, wait this long for its close before closing ourselves."""

PinCallback = Callable[[], Awaitable[str]]
"""Asks the user for the code a display-mode device shows."""


class PairingAttempt(ConnectionHandler):
    """Drives ``auth`` over one connection until it ends."""

    def __init__(self, auth: ControllerAuth, *, ask_pin: PinCallback | None, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.auth = auth
        self.ask_pin = ask_pin
        self.agent: AgentConnection | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.failure: AuthFailed | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._ask_task: asyncio.Task[None] | None = None
        self.confirmed: asyncio.Future[Message] | None = None
        self._early: list[AuthMessage] = []

    def connection_ready(self, conn: AgentConnection) -> None:
        """The device's fingerprint matched: start, so that our capabilities and pA leave in the
        same flight as the TLS Finished. Messages that came earlier are handled now."""
        if self.agent is not None:
            return
        self.agent = conn
        now = self.clock()
        self.auth.start(now)
        early, self._early = self._early, []
        for msg in early:
            self.auth.receive(msg, now)
        self._drain()

    async def run(self, agent: AgentConnection) -> None:
        """Wait until the exchange on ``agent`` (started by :meth:`connection_ready`) has ended."""
        self.connection_ready(agent)
        await self.done

    def control_message(self, conn: AgentConnection, msg: Message) -> None:
        if not isinstance(msg, AuthMessage):
            return
        if self.agent is None:
            self._early.append(msg)  # before connect() has checked the device fingerprint
            return
        self.auth.receive(msg, self.clock())
        self._drain()

    def connection_lost(self, conn: AgentConnection, error: ConnectionClosed) -> None:
        if self.done.done() or self.agent is None:
            return
        if self.failure is None:
            self.auth.connection_lost(self.clock())
            self._drain()
        failure = self.failure
        if failure is None:
            self.done.set_exception(PairingError(f"the device closed the connection: {error}"))
        else:
            self.done.set_exception(failure_to_error(failure, close_code=error.code, close_reason=error.reason))

    def _drain(self) -> None:
        agent = self.agent
        assert agent is not None
        while (event := self.auth.next_event()) is not None:
            if isinstance(event, SendMessage):
                agent.send_control(event.message)
            elif isinstance(event, NeedPin):
                self._ask_task = asyncio.get_running_loop().create_task(self._ask())
            elif isinstance(event, Authenticated):
                # The device is authenticated: its limits are lifted in the flight of our auth-status
                # (not in a datagram of their own once pair() resumes).
                agent.set_authenticated()
                # Asked in the same flight as our auth-status: answered once the device has committed.
                self.confirmed = agent.send_agent_status_request()
                if not self.done.done():
                    self.done.set_result(None)
            elif isinstance(event, AuthFailed):
                self.failure = event
                if event.close_code is not None:
                    agent.close_after_flush(event.close_code, event.reason)
                    if not self.done.done():
                        self.done.set_exception(failure_to_error(event))
                else:
                    # The device reported the failure and should close (its close code says why);
                    # a peer that never does must not keep the user waiting.
                    asyncio.get_running_loop().call_later(PEER_CLOSE_GRACE_S, self._peer_did_not_close)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        when = self.auth.next_timer()
        if when is not None and not self.auth.finished:
            delay = max(0.0, when - self.clock())
            self._timer = asyncio.get_running_loop().call_later(delay, self._tick)

    def _peer_did_not_close(self) -> None:
        if self.done.done() or self.failure is None or self.agent is None:
            return
        self.done.set_exception(failure_to_error(self.failure))
        self.agent.close(CloseCode.UNAUTHORIZED, self.failure.reason)

    def _tick(self) -> None:
        self._timer = None
        self.auth.handle_timer(self.clock())
        self._drain()

    async def _ask(self) -> None:
        if self.ask_pin is None:
            self.auth.cancel(self.clock())
            self._drain()
            return
        try:
            pin = parse_display_pin(await self.ask_pin())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # A PIN that cannot be read or parsed ends the attempt now, not at the 60 s timeout.
            if not self.done.done():
                error = exc if isinstance(exc, InvalidSetupCode) else PairingAborted(f"no PIN was given: {exc}")
                self.done.set_exception(error)
            self.auth.cancel(self.clock())
            self._drain()
            return
        self.auth.provide_pin(pin, self.clock())
        self._drain()

    def stop(self) -> None:
        """The pairing is over: stop asking for a PIN and stop the response timer."""
        if self._ask_task is not None:
            self._ask_task.cancel()
            self._ask_task = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.done.done() and not self.done.cancelled():
            self.done.exception()  # retrieved: nobody awaits it when the dial itself failed
