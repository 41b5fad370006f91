"""What the two auth state machines share: events, the PSK provider, timeouts, error mapping.

The state machines themselves are :class:`device_sdk.pairing.auth_device.DeviceAuth` (the TLS
server, SPAKE2 party B, PSK presenter) and :class:`device_sdk.pairing.auth_controller.ControllerAuth`
(the TLS client, party A). Both are sans-I/O, one per connection, in the manner of aioquic's
``QuicConnection``: feed them messages (``receive(msg, now)``) and timers (``handle_timer(now)`` at
``next_timer()``), then take events with ``next_event()`` until it returns None:

- :class:`SendMessage`: send ``message`` (one new unidirectional stream per message).
- :class:`AuthFailed`: the attempt is over. Once the messages queued before it are sent, close the
  connection with ``close_code`` and ``reason`` as reason phrase; a ``close_code`` of None (only on
  the controller) means the device reported the failure and will close: wait for its close and
  pass its code and reason phrase to :func:`failure_to_error`.
- :class:`Authenticated`: the peer is authenticated (the device commits the pairing now; the
  controller pins ``peer_fp``).
- :class:`AdmissionRequested` (device): a first handshake arrived; ask the pairing window, then
  call ``admit`` with its verdict. :class:`AttemptStarted` (device): pB went out.
  :class:`ProofVerified` (device): cA verified, cB follows (ask the controller's name now).
- :class:`ShowPin` (device, display mode): show this fresh PSK until the attempt ends.
- :class:`NeedPin` (controller): ask the user for the code, then call ``provide_pin``.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from ..errors import (
    ConfigError,
    LockedOut,
    PairingAborted,
    PairingError,
    PairingTimeout,
    PairingWindowClosed,
    WrongSetupCode,
)
from ..wire.codes import AuthResult, CloseCode
from ..wire.messages import AuthCapabilities, AuthMessage, AuthStatus
from .display_pin import display_pin_qr_text, format_display_pin, generate_display_pin
from .setup_code import passcode_is_valid
from .window import BACKOFF_CAP_S, PairingMode

__all__ = [
    "CONTROLLER_CAPABILITIES",
    "DEVICE_CAPABILITIES",
    "PSK_TIMEOUT_S",
    "RESPONSE_TIMEOUT_S",
    "STATUS_TIMEOUT_S",
    "AdmissionRequested",
    "AttemptStarted",
    "AuthEvent",
    "AuthFailed",
    "AuthMachine",
    "Authenticated",
    "NeedPin",
    "ProofVerified",
    "PskProvider",
    "SendMessage",
    "ShowPin",
    "failure_to_error",
    "parse_retry_after",
]

PSK_TIMEOUT_S = 60.0
"""The device gives up this long after it sent pB (auth-status timeout): the PSK's validity."""
STATUS_TIMEOUT_S = 10.0
"""The device waits this long for the controller's auth-status after sending cB."""
RESPONSE_TIMEOUT_S = 30.0
"""The controller waits this long for each answer of the device (not for its user)."""

DEVICE_CAPABILITIES = AuthCapabilities(psk_ease_of_input=0, psk_input_methods=(), psk_min_bits_of_entropy=20)
"""A device without a keypad: it presents the PSK and cannot input one."""
CONTROLLER_CAPABILITIES = AuthCapabilities(psk_ease_of_input=100, psk_input_methods=(0, 1), psk_min_bits_of_entropy=20)
"""A controller that can type a numeric code or scan a QR code."""

_RETRY_AFTER_RE = re.compile(r"retry after (\d+)")


# -- events ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SendMessage:
    """Send ``message`` to the peer."""

    message: AuthMessage


@dataclass(frozen=True)
class AdmissionRequested:
    """Device side: a first handshake arrived. Ask the pairing window whether it is admitted
    (:meth:`~device_sdk.pairing.window.PairingWindow.admit`) and pass its verdict to
    :meth:`~device_sdk.pairing.auth_device.DeviceAuth.admit` before feeding anything else."""


@dataclass(frozen=True)
class AttemptStarted:
    """Device side: pB went out, so the attempt is live (pairing in progress; it counts from now)."""


@dataclass(frozen=True)
class ProofVerified:
    """Device side: the controller's confirmation cA verified; cB and auth-status authenticated
    follow. The commit still waits for the controller's own auth-status (:class:`Authenticated`)."""


@dataclass(frozen=True)
class Authenticated:
    """Authentication succeeded: ``peer_fp`` is the peer's SPKI fingerprint; ``shared_key`` is Ke.

    On the device it means the controller confirmed: commit the pairing now (trust entry and window)."""

    peer_fp: bytes
    shared_key: bytes = field(repr=False)


@dataclass(frozen=True)
class AuthFailed:
    """The attempt failed.

    ``close_code``: close the connection with it (401, 403, 429), or None when the peer will close.
    ``reason``: the reason phrase (``retry after <seconds>`` with 429). ``result``: the auth-status
    result that describes the failure (sent by whichever side detected it). ``counted`` (device):
    the attempt counts as a failure in the pairing window (its runner tells the window).
    """

    close_code: int | None
    reason: str
    result: AuthResult
    counted: bool = False


@dataclass(frozen=True)
class ShowPin:
    """Display mode: show this fresh PSK (one attempt, until ``expires_at`` or the attempt ends)."""

    value: int = field(repr=False)
    digits: int
    expires_at: float

    @property
    def text(self) -> str:
        """The PSK as the user reads and types it, grouped with dashes (``123-456-789``)."""
        return format_display_pin(self.value, self.digits)

    @property
    def qr_text(self) -> str:
        """The text of the optional QR code: the PSK in hexadecimal."""
        return display_pin_qr_text(self.value)


@dataclass(frozen=True)
class NeedPin:
    """The device is presenting its code: ask the user for it, then call ``provide_pin``."""


AuthEvent = (
    SendMessage | AdmissionRequested | AttemptStarted | ProofVerified | Authenticated | AuthFailed | ShowPin | NeedPin
)


# -- PSK ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PskProvider:
    """Where the device's PSK comes from, per pairing mode.

    sticker: ``passcode``, the factory setup code; display: a fresh random value of
    ``display_bits`` bits for each attempt (the default 29 bits is the most that a 9-digit display
    holds: 20 bits would be shown as 9 digits too); button: the fixed PSK 0.
    """

    mode: PairingMode
    passcode: int | None = field(default=None, repr=False)
    display_bits: int = 29

    def __post_init__(self) -> None:
        mode = PairingMode(self.mode)
        object.__setattr__(self, "mode", mode)
        if mode is PairingMode.STICKER:
            if self.passcode is None or not passcode_is_valid(self.passcode):
                raise ConfigError("sticker mode needs a valid setup passcode")
        elif self.passcode is not None:
            raise ConfigError(f"{mode.value} mode takes no passcode")
        if mode is PairingMode.DISPLAY and not 20 <= self.display_bits <= 80:
            raise ConfigError("a displayed PSK has 20..80 bits")

    def fixed_psk(self) -> int:
        """The PSK of sticker and button mode."""
        if self.mode is PairingMode.DISPLAY:
            raise ConfigError("display mode has no fixed PSK")
        return 0 if self.passcode is None else self.passcode

    def fresh_display_psk(self) -> tuple[int, int]:
        """A fresh display-mode PSK: (value, digits to display)."""
        return generate_display_pin(self.display_bits)


# -- the common part of both machines ----------------------------------------------------------


class AuthMachine:
    """Event queue and timer shared by :class:`DeviceAuth` and :class:`ControllerAuth`."""

    def __init__(self) -> None:
        self._events: deque[AuthEvent] = deque()
        self._deadline: float | None = None
        self._finished = False
        self._peer_capabilities: AuthCapabilities | None = None

    def next_event(self) -> AuthEvent | None:
        """The next event to act on, or None."""
        return self._events.popleft() if self._events else None

    def next_timer(self) -> float | None:
        """When :meth:`handle_timer` must be called next, or None."""
        return None if self._finished else self._deadline

    @property
    def finished(self) -> bool:
        """Whether the exchange is over (authenticated or failed)."""
        return self._finished

    @property
    def peer_capabilities(self) -> AuthCapabilities | None:
        """The peer's auth-capabilities, once received (they may come at any time, or never)."""
        return self._peer_capabilities

    def _send(self, message: AuthMessage) -> None:
        self._events.append(SendMessage(message))

    def _finish(self, event: AuthEvent, *, status: AuthResult | None = None) -> None:
        if status is not None:
            self._send(AuthStatus(status))
        self._finished = True
        self._deadline = None
        self._events.append(event)


# -- errors for the controller -----------------------------------------------------------------


def parse_retry_after(reason: str) -> float | None:
    """The seconds in a ``retry after <seconds>`` reason phrase, or None."""
    match = _RETRY_AFTER_RE.search(reason)
    return float(match.group(1)) if match else None


def failure_to_error(
    failure: AuthFailed, *, close_code: int | None = None, close_reason: str | None = None
) -> PairingError:
    """The :class:`PairingError` for a failed attempt.

    ``close_code`` and ``close_reason`` are those of the connection close the device sent (when
    ``failure.close_code`` is None the device decides, so pass them when they are known).
    """
    code = close_code if close_code is not None else failure.close_code
    reason = close_reason if close_reason is not None else failure.reason
    if code == CloseCode.FORBIDDEN:
        return PairingWindowClosed("the device's pairing window is closed: press its pairing button")
    if code == CloseCode.TOO_MANY_ATTEMPTS:
        retry_after = parse_retry_after(reason)
        return LockedOut(BACKOFF_CAP_S if retry_after is None else retry_after)
    if failure.result == AuthResult.PROOF_INVALID:
        return WrongSetupCode("the setup code is wrong")
    if failure.result in (AuthResult.TIMEOUT, AuthResult.VALIDATION_TOOK_TOO_LONG):
        return PairingTimeout(f"pairing took too long ({failure.reason})")
    if failure.result == AuthResult.SECRET_UNKNOWN:
        return PairingAborted("the device's pairing token has changed: discover the device again")
    return PairingAborted(f"pairing aborted: {reason}")
