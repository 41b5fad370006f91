"""The device's pairing runner: the glue between each connection's auth machine, the pairing window
(pure policy), the window's state file and the trust store.

For every exchange (a stranger's connection, or a trusted controller that pairs again) it drives a
:class:`~device_sdk.pairing.auth_device.DeviceAuth`: sends its messages, keeps its timer, and answers
its :class:`~device_sdk.pairing.auth.AdmissionRequested` with the window's verdict. The window and the
machines only return what to do; the runner does it, after they have returned:

- every :class:`~device_sdk.pairing.window_events.WindowUpdate` goes through :meth:`PairingRunner._apply`:
  persist the snapshot (a failure at once, before anything else is sent), carry out the actions (a
  button-mode conflict aborts the first controller's attempt on its own connection), then report the
  events (device events, TXT and ready file, the window's timer);
- a pairing is committed in one place, :meth:`PairingRunner._commit`: the window's bookkeeping and the
  trust entry together.

Names (profile v1.1, docs/protocol.md "Names"): when the controller's confirmation verifies, the
device asks for its agent-info; the answer normally arrives with the controller's auth-status, so the
pairing is committed under the controller's own name. If it has not arrived yet, the entry keeps its
name (pairing again) or a placeholder until it does (at most :data:`LEARN_NAME_TIMEOUT_S`), and
:class:`~device_sdk.device.events.Paired` is reported once the name is known.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import ConfigError
from ..identity import fingerprint_text
from ..pairing.auth import (
    AdmissionRequested,
    AttemptStarted,
    Authenticated,
    AuthFailed,
    ProofVerified,
    PskProvider,
    SendMessage,
    ShowPin,
)
from ..pairing.auth_device import DeviceAuth
from ..pairing.spake2 import Spake2SharePool, password_from_psk
from ..pairing.trust import DeviceTrustStore
from ..pairing.window import (
    LockoutStarted,
    OpenReason,
    PairingMode,
    PairingWindow,
    Refusal,
    TokenRotated,
    WindowClosed,
    WindowOpened,
    WindowUpdate,
)
from ..pairing.window_store import WindowStore
from ..transport import AgentConnection
from ..wire import AgentInfoResponse, AuthMessage, AuthResult, AuthSpake2Handshake, CloseCode, Message
from .events import DeviceEvent, Paired, PairingFailed, PairingStarted, PairingWindowChanged, PinShown

log = logging.getLogger(__name__)

LEARN_NAME_TIMEOUT_S = 2.0
"""How long the device waits for a new controller's agent-info before announcing it under a
placeholder name (or, pairing again, under the name it had)."""
SHARE_REFILL_DELAY_S = 0.05
"""How long after an attempt starts the device computes the next attempt's SPAKE2 share (once this
attempt's answer is out)."""


def placeholder_name(fingerprint: bytes) -> str:
    """The name of a controller whose agent-info never came: ``controller`` and its fingerprint's start."""
    return f"controller {fingerprint_text(fingerprint)[:8]}"


@dataclass(eq=False)
class _Exchange:
    """One run of the auth exchange on one connection."""

    conn: AgentConnection
    auth: DeviceAuth
    trusted: bool
    timer: asyncio.TimerHandle | None = None
    name: asyncio.Future[Message] | None = field(default=None, repr=False)
    """The controller's agent-info, asked for when its confirmation verified."""


class PairingRunner:
    """Runs the pairing of one device (see the module docstring).

    ``window`` is the device's pairing window, ``store`` its state file, ``trust`` the trust store,
    ``psk`` the PSK of the device's mode, ``shares`` the SPAKE2 shares prepared ahead, ``device_fp``
    the device's own fingerprint. ``emit`` reports device events; ``publish`` is called when ``at`` or
    ``cm`` changed (TXT and the ready file).
    """

    def __init__(
        self,
        *,
        window: PairingWindow,
        store: WindowStore,
        trust: DeviceTrustStore,
        psk: PskProvider,
        shares: Spake2SharePool,
        device_fp: bytes,
        clock: Callable[[], float],
        emit: Callable[[DeviceEvent], None],
        publish: Callable[[], None],
    ) -> None:
        if psk.mode is not window.mode:
            raise ConfigError(f"PSK provider mode {psk.mode.value} != pairing window mode {window.mode.value}")
        self.window = window
        self.store = store
        self.trust = trust
        self.psk = psk
        self.shares = shares
        self.device_fp = device_fp
        self.clock = clock
        self._emit = emit
        self._publish = publish
        self._exchanges: dict[AgentConnection, _Exchange] = {}
        self._window_timer: asyncio.TimerHandle | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._running = False

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, *, open_window: bool) -> None:
        """At the device's start: resume a window that has not expired; open one as an admin when
        ``open_window``, else at boot while no controller is paired."""
        self._running = True
        now = self.clock()
        self._apply(self.window.restore(now))
        if open_window:
            self._apply(self.window.open(now, "admin"))
        elif not self.window.is_open and not self.trust.list():
            self._apply(self.window.open(now, "boot"))
        self.prepare_share()
        self._arm_window_timer()

    def stop(self) -> None:
        """Stop every timer and task (the device is stopping; its connections are being closed)."""
        self._running = False
        for handle in (self._window_timer, *self._timers, *(ex.timer for ex in self._exchanges.values())):
            if handle is not None:
                handle.cancel()
        self._window_timer = None
        self._timers.clear()
        for exchange in self._exchanges.values():
            if exchange.name is not None:
                exchange.name.cancel()

    def prepare_share(self) -> None:
        """Compute the next attempt's SPAKE2 share now, so that an attempt does not wait for it
        (sticker and button modes; in display mode the PIN is drawn per attempt)."""
        if self.psk.mode is not PairingMode.DISPLAY:
            self.shares.fill(password_from_psk(self.psk.fixed_psk()))

    # -- the window ------------------------------------------------------------------------------

    def open_window(self, reason: OpenReason, seconds: float | None = None) -> None:
        """Open the pairing window (``button`` or ``admin`` also clear the failure counters)."""
        self._apply(self.window.open(self.clock(), reason, duration_s=seconds))

    def abort_all(self, reason: str) -> None:
        """Abort every exchange in progress, not counted (a factory reset)."""
        now = self.clock()
        for ex in list(self._exchanges.values()):
            ex.auth.abort(now, reason)
            self._drain(ex)

    # -- connections -----------------------------------------------------------------------------

    def connection_ready(self, conn: AgentConnection) -> None:
        """A connection is up: a trusted controller is authenticated by its fingerprint, anyone
        else starts the exchange (the device sends its auth-capabilities unprompted)."""
        fp = conn.peer_fingerprint
        if fp is not None and self.trust.is_trusted(fp):
            conn.set_authenticated()
            self.trust.touch(fp, self.clock())
            return
        self._begin(conn, trusted=False)

    def auth_message(self, conn: AgentConnection, msg: AuthMessage) -> None:
        """An auth message arrived on ``conn``. A trusted controller's handshake starts the exchange
        again (pairing again, profile v1.1); other auth messages outside an exchange are ignored."""
        ex = self._exchanges.get(conn)
        if ex is None:
            fp = conn.peer_fingerprint
            trusted = conn.authenticated and fp is not None and self.trust.is_trusted(fp)
            if not trusted or not isinstance(msg, AuthSpake2Handshake):
                log.debug("ignoring %s outside an exchange", type(msg).__name__)
                return
            log.info("a paired controller is pairing again")
            ex = self._begin(conn, trusted=True)
        ex.auth.receive(msg, self.clock())
        self._drain(ex)

    def connection_lost(self, conn: AgentConnection) -> None:
        """The connection ended: an attempt in progress ends with it (counted once pB went out)."""
        ex = self._exchanges.get(conn)
        if ex is not None:
            ex.auth.connection_lost(self.clock())
            self._drain(ex)

    def _begin(self, conn: AgentConnection, *, trusted: bool) -> _Exchange:
        auth = DeviceAuth(
            device_fp=self.device_fp, controller_fp=conn.peer_fingerprint, psk=self.psk, shares=self.shares
        )
        ex = self._exchanges[conn] = _Exchange(conn, auth, trusted)
        auth.start(self.clock())
        self._drain(ex)
        return ex

    # -- driving one exchange --------------------------------------------------------------------

    def _drain(self, ex: _Exchange) -> None:
        """Act on the machine's events; an attempt's end is settled with the window first, so that
        a failure is on disk before its auth-status is sent."""
        while batch := list(iter(ex.auth.next_event, None)):
            for event in batch:
                if isinstance(event, AuthFailed):
                    self._settle_failure(ex, event)
            for event in batch:
                self._act(ex, event)
        self._arm_auth_timer(ex)
        if ex.auth.finished and self._exchanges.get(ex.conn) is ex:
            del self._exchanges[ex.conn]

    def _act(self, ex: _Exchange, event: object) -> None:
        if isinstance(event, SendMessage):
            ex.conn.send_control(event.message)
        elif isinstance(event, AdmissionRequested):
            fp = ex.auth.controller_fp
            assert fp is not None  # no certificate fails before admission
            now = self.clock()
            verdict, update = self.window.admit(now, fp, trusted=ex.trusted)
            self._apply(update)
            ex.auth.admit(verdict, now)  # its events are the next batch
        elif isinstance(event, AttemptStarted):
            # The attempt took the prepared share: prepare the next one once this one is answered.
            self._later(SHARE_REFILL_DELAY_S, self.prepare_share)
            self._emit(PairingStarted())
        elif isinstance(event, ShowPin):
            self._emit(PinShown(event.text, event.qr_text, max(0.0, event.expires_at - self.clock())))
        elif isinstance(event, ProofVerified):
            # Asked now, so that the request leaves with cB and the answer comes back with the
            # controller's auth-status; a controller that never answers is announced without it.
            name = ex.name = ex.conn.send_agent_info_request()
            self._later(LEARN_NAME_TIMEOUT_S, name.cancel)
        elif isinstance(event, Authenticated):
            self._commit(ex, event.peer_fp)
        elif isinstance(event, AuthFailed):
            self._emit(PairingFailed(event.reason, refused=ex.auth.admission is None))
            if event.close_code is not None:
                ex.conn.close_after_flush(event.close_code, event.reason)

    def _settle_failure(self, ex: _Exchange, failed: AuthFailed) -> None:
        admission = ex.auth.admission
        if admission is None:
            return  # refused or never admitted: the window has nothing to settle
        now = self.clock()
        if failed.counted:
            self._apply(self.window.attempt_failed(admission, now))
        else:
            self._apply(self.window.attempt_ended(admission, now))

    def _commit(self, ex: _Exchange, fp: bytes) -> None:
        """The controller confirmed: commit the pairing, window and trust entry together."""
        admission = ex.auth.admission
        assert admission is not None
        now = self.clock()
        existing = self.trust.get(fp)
        refusal: Refusal | None
        if admission.trusted and existing is None:
            # Removed while pairing again: pairing again does not bring a removed controller back.
            refusal = Refusal(CloseCode.UNAUTHORIZED, AuthResult.UNKNOWN_ERROR, None, "this controller was removed")
            update = self.window.attempt_ended(admission, now)
        else:
            refusal, update = self.window.attempt_succeeded(admission, now)
        if refusal is not None:
            self._apply(update)
            self._emit(PairingFailed(refusal.reason))
            ex.conn.close_after_flush(refusal.close_code, refusal.reason)
            return
        name = _learned(ex.name) or (existing.name if existing is not None else placeholder_name(fp))
        entry = self.trust.add(fp, name, now)
        self._apply(update)
        ex.conn.set_authenticated()
        log.info("controller %s… paired%s as %s", entry.fingerprint_text[:8], " again" if existing else "", entry.role)
        task = ex.name
        if task is None or task.done():
            self._announce(fp, task)
        else:
            task.add_done_callback(lambda done: self._announce(fp, done))

    def _announce(self, fp: bytes, task: asyncio.Future[Message] | None) -> None:
        """Report :class:`Paired` once the controller's name is known (or will not come)."""
        if not self._running:
            return
        entry = self.trust.get(fp)
        if entry is None:
            return  # removed meanwhile
        name = _learned(task)
        if name and name != entry.name:
            entry = self.trust.add(fp, name, self.clock())
        self._emit(Paired(entry.fingerprint_text, entry.name, entry.role))

    # -- applying what the window decided --------------------------------------------------------

    def _apply(self, update: WindowUpdate) -> None:
        """Persist, act, then notify (the window's order)."""
        if update.state is not None:
            self.store.save(update.state, sync=update.sync)
        for action in update.actions:
            self._abort_attempts_of(action.abort_fp)
        publish = False
        for event in update.events:
            if isinstance(event, WindowOpened):
                self._emit(PairingWindowChanged(True, event.reason, event.expires_at))
                publish = True
            elif isinstance(event, WindowClosed):
                self._emit(PairingWindowChanged(False, event.reason, None))
                publish = True
            elif isinstance(event, TokenRotated):
                publish = True
            elif isinstance(event, LockoutStarted):
                self._emit(event)
        if update.events:
            self._arm_window_timer()
        if publish:
            self._publish()

    def _abort_attempts_of(self, fp: bytes) -> None:
        now = self.clock()
        for ex in list(self._exchanges.values()):
            if ex.auth.controller_fp == fp and not ex.auth.finished:
                ex.auth.abort(now, "another controller tried to pair")
                self._drain(ex)

    # -- timers and tasks ------------------------------------------------------------------------

    def _arm_window_timer(self) -> None:
        if self._window_timer is not None:
            self._window_timer.cancel()
            self._window_timer = None
        when = self.window.next_timer()
        if when is None or not self._running:
            return
        delay = max(0.0, when - self.clock())
        self._window_timer = asyncio.get_running_loop().call_later(delay + 0.01, self._window_tick)

    def _window_tick(self) -> None:
        self._window_timer = None
        self._apply(self.window.handle_timer(self.clock()))
        self._arm_window_timer()

    def _arm_auth_timer(self, ex: _Exchange) -> None:
        if ex.timer is not None:
            ex.timer.cancel()
            ex.timer = None
        when = None if ex.auth.finished else ex.auth.next_timer()
        if when is None or not self._running:
            return
        delay = max(0.0, when - self.clock())
        ex.timer = asyncio.get_running_loop().call_later(delay, self._auth_tick, ex)

    def _auth_tick(self, ex: _Exchange) -> None:
        ex.timer = None
        ex.auth.handle_timer(self.clock())
        self._drain(ex)

    def _later(self, delay: float, callback: Callable[[], object]) -> None:
        def run() -> None:
            self._timers.discard(handle)
            callback()

        handle = asyncio.get_running_loop().call_later(delay, run)
        self._timers.add(handle)


def _learned(request: asyncio.Future[Message] | None) -> str | None:
    """The display name in an answered agent-info request, or None."""
    if request is None or not request.done() or request.cancelled() or request.exception() is not None:
        return None
    answer = request.result()
    if not isinstance(answer, AgentInfoResponse):
        return None
    return answer.agent_info.display_name.strip() or None
