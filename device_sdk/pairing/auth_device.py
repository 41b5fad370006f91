"""The device side of authentication (wire profile section 5): SPAKE2 party B, PSK presenter.

One :class:`DeviceAuth` per exchange: on a connection from a peer that is not trusted yet, or on a
trusted controller's connection when it starts the exchange again (pairing again, profile v1.1). The
machine knows nothing of the pairing window: at the first handshake it asks
(:class:`AdmissionRequested`) and its runner answers with the window's verdict (:meth:`DeviceAuth.admit`);
when the controller confirms, it reports :class:`Authenticated` and the runner commits the pairing.

Flow (B = this device, A = the controller)::

    start         -> auth-capabilities
    A: handshake {at, ...}                    -> B: AdmissionRequested; admit(verdict):
       {at, psk-input, pA}                    -> B: token, {psk-shown, pB}          (attempt live)
       {at, psk-needs-presentation}           -> B: [ShowPin], {psk-shown, pB}      (attempt live)
       A: handshake {{}, psk-input, pA}
    A: confirmation cA  -> B: checks it: ProofVerified, confirmation cB, auth-status authenticated
    A: auth-status authenticated -> B: Authenticated (the runner commits)

Failure accounting (``AuthFailed.counted``; the runner tells the window): from the moment pB is sent
until the commit, every other ending (wrong cA, invalid pA, a non-zero auth-status from the
controller, a disconnect, the 60 s timeout) counts as one failure; a bad token and an invalid point
in the first handshake count too (profile v1.1: every failure counts and rotates ``at``). Refusals
by the window (403, 429, button conflict), a missing client certificate, and protocol misuse found
before pB do not count. An abort by the device (button-mode conflict, :meth:`DeviceAuth.abort`)
does not count either.

Sticker and button mode read psk-needs-presentation as "the code is known" (on the sticker, or
the fixed 0): they answer {psk-shown, pB} and wait for the second handshake. Display mode
requires psk-needs-presentation: a controller cannot know a PSK that is drawn fresh for each
attempt, so a first handshake with psk-input is answered with unknown-error and 401.

Streams give no order: a confirmation that overtakes the second handshake is held until the
handshake arrives.
"""

from __future__ import annotations

import enum
import hmac
import logging

from ..errors import InvalidArgument, LocalProtocolError
from ..wire.codes import AuthResult, CloseCode
from ..wire.messages import (
    AuthCapabilities,
    AuthMessage,
    AuthSpake2Confirmation,
    AuthSpake2Handshake,
    AuthStatus,
    PskStatus,
)
from .auth import (
    DEVICE_CAPABILITIES,
    PSK_TIMEOUT_S,
    STATUS_TIMEOUT_S,
    AdmissionRequested,
    AttemptStarted,
    Authenticated,
    AuthFailed,
    AuthMachine,
    ProofVerified,
    PskProvider,
    ShowPin,
)
from .spake2 import (
    InvalidPoint,
    Spake2,
    Spake2Keys,
    Spake2SharePool,
    password_from_psk,
    validate_point,
    verify_confirmation,
)
from .window import PairingMode
from .window_events import Admission, Refusal

__all__ = ["DeviceAuth"]

logger = logging.getLogger(__name__)


class _State(enum.Enum):
    IDLE = "idle"
    WAIT_HANDSHAKE = "wait-handshake"
    WAIT_ADMISSION = "wait-admission"  # first handshake held until the window's verdict
    WAIT_PA = "wait-pA"  # pB sent after psk-needs-presentation; the controller's user types the code
    WAIT_CONFIRMATION = "wait-confirmation"
    WAIT_STATUS = "wait-status"  # cB sent; the commit waits for the controller's auth-status
    DONE = "done"
    FAILED = "failed"


class DeviceAuth(AuthMachine):
    """Authenticate one connecting controller.

    ``device_fp`` and ``controller_fp`` are the 32-byte SPKI fingerprints of this connection's
    certificates (``controller_fp`` None: the client presented no certificate). ``psk`` is where the
    PSK comes from (its mode is the device's pairing mode). ``shares`` holds a SPAKE2 share prepared
    ahead (the device refills it between attempts).
    """

    def __init__(
        self,
        *,
        device_fp: bytes,
        controller_fp: bytes | None,
        psk: PskProvider,
        capabilities: AuthCapabilities = DEVICE_CAPABILITIES,
        shares: Spake2SharePool | None = None,
    ) -> None:
        super().__init__()
        if shares is not None and shares.role != "B":
            raise InvalidArgument("the device is SPAKE2 party B")
        self._device_fp = bytes(device_fp)
        self._controller_fp = None if controller_fp is None else bytes(controller_fp)
        self._psk = psk
        self._shares = shares or Spake2SharePool("B")
        self._capabilities = capabilities
        self._state = _State.IDLE
        self._spake: Spake2 | None = None
        self._keys: Spake2Keys | None = None
        self._early_confirmation: AuthSpake2Confirmation | None = None
        self._first: AuthSpake2Handshake | None = None
        self._admission: Admission | None = None
        self._attempt_live = False

    def __repr__(self) -> str:
        return f"DeviceAuth(state={self._state.value})"

    @property
    def controller_fp(self) -> bytes | None:
        """The fingerprint of the controller on this connection."""
        return self._controller_fp

    @property
    def admission(self) -> Admission | None:
        """The window's admission of this exchange's attempt, once given."""
        return self._admission

    @property
    def state(self) -> str:
        """The current state, for logs and tests."""
        return self._state.value

    # -- inputs ------------------------------------------------------------------------------

    def start(self, now: float) -> None:
        """The connection is up: send auth-capabilities."""
        if self._state is _State.IDLE:
            self._state = _State.WAIT_HANDSHAKE
            self._send(self._capabilities)

    def receive(self, msg: AuthMessage, now: float) -> None:
        """Handle an auth message from the controller."""
        self.start(now)
        self.handle_timer(now)
        if self._finished:
            logger.debug("ignoring %s after the end of authentication", type(msg).__name__)
            return
        if isinstance(msg, AuthCapabilities):
            self._peer_capabilities = msg
        elif isinstance(msg, AuthSpake2Handshake):
            self._on_handshake(msg, now)
        elif isinstance(msg, AuthSpake2Confirmation):
            self._on_confirmation(msg, now)
        elif isinstance(msg, AuthStatus):
            self._on_status(msg, now)

    def handle_timer(self, now: float) -> None:
        """Fail the attempt if the controller took too long."""
        if self._finished or self._deadline is None or now < self._deadline:
            return
        if self._state is _State.WAIT_STATUS:
            self._fail(now, AuthResult.TIMEOUT, "no auth-status after the confirmation")
        else:
            self._fail(now, AuthResult.TIMEOUT, f"no confirmation within {PSK_TIMEOUT_S:g} s")

    def connection_lost(self, now: float) -> None:
        """The connection ended: roll back a live attempt (it counts as a failure)."""
        if self._finished:
            return
        counted, self._attempt_live = self._attempt_live, False
        self._state = _State.FAILED
        self._finish(AuthFailed(None, "connection lost", AuthResult.UNKNOWN_ERROR, counted))

    def abort(self, now: float, reason: str = "pairing aborted by the device") -> None:
        """Abort the exchange (button-mode conflict): unknown-error and 401, not counted as a failure."""
        if not self._finished:
            self._fail(now, AuthResult.UNKNOWN_ERROR, reason, count=False)

    def admit(self, verdict: Admission | Refusal, now: float) -> None:
        """The pairing window's verdict on the first handshake (after :class:`AdmissionRequested`)."""
        if self._state is not _State.WAIT_ADMISSION or self._first is None:
            raise LocalProtocolError(CloseCode.UNAUTHORIZED, "no handshake is waiting for admission")
        msg, self._first = self._first, None
        if isinstance(verdict, Refusal):
            self._fail(
                now,
                AuthResult(verdict.auth_result),
                verdict.reason,
                close_code=verdict.close_code,
                count=False,
            )
            return
        self._admission = verdict
        self._admitted(msg, verdict, now)

    # -- the exchange ------------------------------------------------------------------------

    def _on_handshake(self, msg: AuthSpake2Handshake, now: float) -> None:
        if self._state is _State.WAIT_HANDSHAKE:
            self._first_handshake(msg, now)
        elif self._state is _State.WAIT_PA:
            self._second_handshake(msg, now)
        else:
            self._fail(now, AuthResult.UNKNOWN_ERROR, "unexpected auth-spake2-handshake")

    def _first_handshake(self, msg: AuthSpake2Handshake, now: float) -> None:
        if self._controller_fp is None:
            self._fail(now, AuthResult.UNKNOWN_ERROR, "the client presented no certificate", count=False)
            return
        if msg.psk_status not in (PskStatus.INPUT, PskStatus.NEEDS_PRESENTATION):
            # Not an attempt at all: refused before it could take the window's live slot.
            self._fail(now, AuthResult.UNKNOWN_ERROR, "the controller cannot present the PSK", count=False)
            return
        self._first = msg
        self._state = _State.WAIT_ADMISSION
        self._events.append(AdmissionRequested())

    def _admitted(self, msg: AuthSpake2Handshake, admission: Admission, now: float) -> None:
        expected = admission.token.encode()
        if msg.token is None or not hmac.compare_digest(msg.token.encode(), expected):
            self._fail(now, AuthResult.SECRET_UNKNOWN, "auth-initiation token mismatch", count=True)
            return
        mode = self._psk.mode
        if msg.psk_status is PskStatus.INPUT:
            if mode is PairingMode.DISPLAY:
                self._fail(
                    now,
                    AuthResult.UNKNOWN_ERROR,
                    "display mode: ask for psk-needs-presentation",
                    count=False,
                )
                return
            try:
                validate_point(msg.public_value)
            except InvalidPoint as exc:
                # Profile v1.1: an invalid point fails the attempt like any other failure.
                self._fail(now, AuthResult.PROOF_INVALID, f"invalid public value: {exc}", count=True)
                return
            self._send_pb(now, self._psk.fixed_psk())
            self._take_pa(msg.public_value, now)
        else:  # psk-needs-presentation
            if mode is PairingMode.DISPLAY:
                value, digits = self._psk.fresh_display_psk()
                self._events.append(ShowPin(value=value, digits=digits, expires_at=now + PSK_TIMEOUT_S))
            else:
                value = self._psk.fixed_psk()
            self._send_pb(now, value)
            self._state = _State.WAIT_PA

    def _send_pb(self, now: float, psk: int) -> None:
        assert self._controller_fp is not None
        share = self._shares.take(password_from_psk(psk))
        self._spake = Spake2.from_share(share, self._controller_fp, self._device_fp)
        self._send(AuthSpake2Handshake(None, PskStatus.SHOWN, self._spake.public_value))
        self._attempt_live = True
        self._events.append(AttemptStarted())
        self._deadline = now + PSK_TIMEOUT_S

    def _second_handshake(self, msg: AuthSpake2Handshake, now: float) -> None:
        if msg.psk_status is not PskStatus.INPUT:
            self._fail(now, AuthResult.UNKNOWN_ERROR, "the second handshake must carry psk-input")
            return
        self._take_pa(msg.public_value, now)

    def _take_pa(self, p_a: bytes, now: float) -> None:
        assert self._spake is not None
        try:
            self._keys = self._spake.finish(p_a)
        except InvalidPoint as exc:
            self._fail(now, AuthResult.PROOF_INVALID, f"invalid public value: {exc}")
            return
        self._state = _State.WAIT_CONFIRMATION
        early, self._early_confirmation = self._early_confirmation, None
        if early is not None:
            self._check_confirmation(early, now)

    def _on_confirmation(self, msg: AuthSpake2Confirmation, now: float) -> None:
        if self._state is _State.WAIT_CONFIRMATION:
            self._check_confirmation(msg, now)
        elif self._state is _State.WAIT_PA and self._early_confirmation is None:
            self._early_confirmation = msg  # overtook the second handshake on another stream
        else:
            self._fail(now, AuthResult.UNKNOWN_ERROR, "unexpected auth-spake2-confirmation")

    def _check_confirmation(self, msg: AuthSpake2Confirmation, now: float) -> None:
        assert self._keys is not None
        if not verify_confirmation(self._keys.confirm_a, msg.value):
            self._fail(now, AuthResult.PROOF_INVALID, "wrong confirmation")
            return
        self._events.append(ProofVerified())
        self._send(AuthSpake2Confirmation(self._keys.confirm_b))
        self._send(AuthStatus(AuthResult.AUTHENTICATED))
        self._state = _State.WAIT_STATUS
        self._deadline = now + STATUS_TIMEOUT_S

    def _on_status(self, msg: AuthStatus, now: float) -> None:
        if msg.result is not AuthResult.AUTHENTICATED:
            name = msg.result.name.lower().replace("_", "-")
            self._fail(now, msg.result, f"the controller reported {name}", send_status=False)
        elif self._state is _State.WAIT_STATUS:
            self._commit(now)
        else:
            self._fail(now, AuthResult.UNKNOWN_ERROR, "auth-status authenticated before the confirmation")

    def _commit(self, now: float) -> None:
        assert self._keys is not None and self._controller_fp is not None
        self._attempt_live = False
        self._state = _State.DONE
        logger.info("controller confirmed the pairing")
        self._finish(Authenticated(peer_fp=self._controller_fp, shared_key=self._keys.ke))

    # -- endings -----------------------------------------------------------------------------

    def _fail(
        self,
        now: float,
        result: AuthResult,
        reason: str,
        *,
        close_code: int = CloseCode.UNAUTHORIZED,
        count: bool | None = None,
        send_status: bool = True,
    ) -> None:
        """End the exchange: auth-status ``result`` (unless the peer reported), then close.

        ``count`` None: the attempt counts when it is live (pB was sent)."""
        counted = self._attempt_live if count is None else count
        self._attempt_live = False
        self._state = _State.FAILED
        self._spake = None
        self._keys = None
        logger.info("pairing attempt failed: %s (%d)", reason, close_code)
        self._finish(
            AuthFailed(close_code, reason, result, counted),
            status=result if send_status else None,
        )
