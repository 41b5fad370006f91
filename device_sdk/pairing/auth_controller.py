"""The controller side of authentication (wire profile section 5): SPAKE2 party A, PSK consumer.

Flow (A = this controller, B = the device)::

    start with a passcode -> auth-capabilities, handshake {at, psk-input, pA}
          B: {psk-shown, pB} -> confirmation cA
    start without one     -> auth-capabilities, handshake {at, psk-needs-presentation, b""}
          B: {psk-shown, pB} -> NeedPin; provide_pin(code) -> handshake {{}, psk-input, pA}, cA
    B: confirmation cB -> checked -> auth-status authenticated
    B: auth-status authenticated -> Authenticated (both checks done: cB here, cA on the device)

The device sends cB and its auth-status back to back on separate streams; whichever arrives
first, both are needed. A non-zero auth-status from the device ends the attempt with
``AuthFailed(close_code=None, ...)``: the device closes the connection (403, 429 or 401) and the
transport passes that close to :func:`device_sdk.pairing.auth.failure_to_error`. A failure this
side detects (wrong cB, invalid pB, the device not answering within ``response_timeout_s``)
sends auth-status with the reason and ends with close code 401.
"""

from __future__ import annotations

import enum
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
    CONTROLLER_CAPABILITIES,
    RESPONSE_TIMEOUT_S,
    Authenticated,
    AuthFailed,
    AuthMachine,
    NeedPin,
)
from .spake2 import (
    InvalidPoint,
    Spake2,
    Spake2Keys,
    Spake2Share,
    password_from_psk,
    validate_point,
    verify_confirmation,
)

__all__ = ["ControllerAuth"]

logger = logging.getLogger(__name__)


class _State(enum.Enum):
    IDLE = "idle"
    WAIT_PB = "wait-pB"  # sent pA
    WAIT_PRESENTATION = "wait-presentation"  # sent psk-needs-presentation
    WAIT_USER = "wait-user"  # have pB, waiting for provide_pin
    WAIT_CB = "wait-cB"  # sent cA
    WAIT_STATUS = "wait-status"  # cB verified, waiting for the device's auth-status
    DONE = "done"
    FAILED = "failed"


class ControllerAuth(AuthMachine):
    """Authenticate to one device.

    ``controller_fp``/``device_fp``: the SPKI fingerprints of this connection's certificates.
    ``token``: the device's ``at`` from discovery (None sends an empty token map).
    ``passcode``: the PSK if known (sticker setup code, 0 for button mode); None asks the device
    to present one (display mode), and :class:`NeedPin` follows.
    """

    def __init__(
        self,
        *,
        controller_fp: bytes,
        device_fp: bytes,
        token: str | None,
        passcode: int | None,
        capabilities: AuthCapabilities = CONTROLLER_CAPABILITIES,
        response_timeout_s: float = RESPONSE_TIMEOUT_S,
    ) -> None:
        super().__init__()
        if passcode is not None and passcode < 0:
            raise InvalidArgument("a passcode is a non-negative integer")
        self._controller_fp = bytes(controller_fp)
        self._device_fp = bytes(device_fp)
        self._token = token
        self._passcode = passcode
        self._capabilities = capabilities
        self._response_timeout_s = response_timeout_s
        self._state = _State.IDLE
        self._share: Spake2Share | None = None
        self._spake: Spake2 | None = None
        self._p_b: bytes | None = None
        self._keys: Spake2Keys | None = None
        self._device_authenticated = False

    def __repr__(self) -> str:
        return f"ControllerAuth(state={self._state.value})"

    @property
    def state(self) -> str:
        """The current state, for logs and tests."""
        return self._state.value

    # -- inputs ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Compute the SPAKE2 share before the connection is up (when the passcode is known), so
        that :meth:`start` only sends. Optional; it emits nothing."""
        if self._state is _State.IDLE and self._passcode is not None and self._share is None:
            self._share = Spake2Share.generate("A", password_from_psk(self._passcode))

    def start(self, now: float) -> None:
        """The connection is up: send auth-capabilities and the first handshake."""
        if self._state is not _State.IDLE:
            return
        self._send(self._capabilities)
        if self._passcode is None:
            self._send(AuthSpake2Handshake(self._token, PskStatus.NEEDS_PRESENTATION, b""))
            self._state = _State.WAIT_PRESENTATION
        else:
            self.prepare()
            assert self._share is not None
            self._spake = Spake2.from_share(self._share, self._controller_fp, self._device_fp)
            self._share = None
            self._send(AuthSpake2Handshake(self._token, PskStatus.INPUT, self._spake.public_value))
            self._state = _State.WAIT_PB
        self._passcode = None
        self._deadline = now + self._response_timeout_s

    def provide_pin(self, passcode: int, now: float) -> None:
        """The user typed the code the device presents (after :class:`NeedPin`)."""
        if self._state is not _State.WAIT_USER:
            raise LocalProtocolError(CloseCode.UNAUTHORIZED, "the device has not presented a code")
        if passcode < 0:
            raise InvalidArgument("a passcode is a non-negative integer")
        assert self._p_b is not None
        self._spake = Spake2("A", password_from_psk(passcode), self._controller_fp, self._device_fp)
        self._send(AuthSpake2Handshake(None, PskStatus.INPUT, self._spake.public_value))
        self._use_pb(self._p_b, now)

    def cancel(self, now: float) -> None:
        """Give up (the user cancelled): auth-status unknown-error, close 401."""
        if not self._finished:
            self._fail(AuthResult.UNKNOWN_ERROR, "cancelled")

    def receive(self, msg: AuthMessage, now: float) -> None:
        """Handle an auth message from the device."""
        self.handle_timer(now)
        if self._finished:
            logger.debug("ignoring %s after the end of authentication", type(msg).__name__)
            return
        if isinstance(msg, AuthCapabilities):
            self._peer_capabilities = msg
        elif self._state is _State.IDLE:
            self._fail(AuthResult.UNKNOWN_ERROR, f"{type(msg).__name__} before the exchange started")
        elif isinstance(msg, AuthSpake2Handshake):
            self._on_handshake(msg, now)
        elif isinstance(msg, AuthSpake2Confirmation):
            self._on_confirmation(msg, now)
        elif isinstance(msg, AuthStatus):
            self._on_status(msg)

    def handle_timer(self, now: float) -> None:
        """Fail when the device did not answer in time."""
        if not self._finished and self._deadline is not None and now >= self._deadline:
            self._fail(AuthResult.TIMEOUT, "the device did not answer in time")

    def connection_lost(self, now: float) -> None:
        """The connection ended before authentication finished."""
        if not self._finished:
            self._state = _State.FAILED
            self._finish(AuthFailed(None, "connection lost", AuthResult.UNKNOWN_ERROR))

    # -- the exchange ------------------------------------------------------------------------

    def _on_handshake(self, msg: AuthSpake2Handshake, now: float) -> None:
        if msg.psk_status is not PskStatus.SHOWN:
            self._fail(AuthResult.UNKNOWN_ERROR, "the device's handshake must carry psk-shown")
        elif self._state is _State.WAIT_PB:
            self._use_pb(msg.public_value, now)
        elif self._state is _State.WAIT_PRESENTATION:
            try:
                validate_point(msg.public_value)
            except InvalidPoint as exc:
                self._fail(AuthResult.PROOF_INVALID, f"invalid public value: {exc}")
                return
            self._p_b = msg.public_value
            self._state = _State.WAIT_USER
            self._deadline = None  # the user takes their time; the device enforces 60 s
            self._events.append(NeedPin())
        else:
            self._fail(AuthResult.UNKNOWN_ERROR, "unexpected auth-spake2-handshake")

    def _use_pb(self, p_b: bytes, now: float) -> None:
        assert self._spake is not None
        try:
            self._keys = self._spake.finish(p_b)
        except InvalidPoint as exc:
            self._fail(AuthResult.PROOF_INVALID, f"invalid public value: {exc}")
            return
        self._send(AuthSpake2Confirmation(self._keys.confirm_a))
        self._state = _State.WAIT_CB
        self._deadline = now + self._response_timeout_s

    def _on_confirmation(self, msg: AuthSpake2Confirmation, now: float) -> None:
        if self._state is not _State.WAIT_CB:
            self._fail(AuthResult.UNKNOWN_ERROR, "unexpected auth-spake2-confirmation")
            return
        assert self._keys is not None
        if not verify_confirmation(self._keys.confirm_b, msg.value):
            self._fail(AuthResult.PROOF_INVALID, "the device's confirmation is wrong")
            return
        self._send(AuthStatus(AuthResult.AUTHENTICATED))
        self._state = _State.WAIT_STATUS
        if self._device_authenticated:
            self._succeed()
        else:
            self._deadline = now + self._response_timeout_s

    def _on_status(self, msg: AuthStatus) -> None:
        if msg.result is not AuthResult.AUTHENTICATED:
            name = msg.result.name.lower().replace("_", "-")
            self._state = _State.FAILED
            self._keys = None
            self._finish(AuthFailed(None, f"the device reported {name}", msg.result))
        elif self._state is _State.WAIT_STATUS:
            self._succeed()
        elif self._state is _State.WAIT_CB and not self._device_authenticated:
            self._device_authenticated = True  # overtook cB on another stream
        else:
            self._fail(AuthResult.UNKNOWN_ERROR, "unexpected auth-status authenticated")

    def _succeed(self) -> None:
        assert self._keys is not None
        self._state = _State.DONE
        self._finish(Authenticated(peer_fp=self._device_fp, shared_key=self._keys.ke))

    def _fail(self, result: AuthResult, reason: str) -> None:
        self._state = _State.FAILED
        self._spake = None
        self._keys = None
        logger.info("authentication failed: %s", reason)
        self._finish(AuthFailed(CloseCode.UNAUTHORIZED, reason, result), status=result)
