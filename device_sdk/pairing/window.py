"""The pairing window of a device (wire profile section 5, "Pairing modes and the pairing window").

Pure policy: every method that depends on time takes ``now``, seconds since the Unix epoch
(``time.time()``: wall-clock time, because the window and its counters survive reboots), and returns
a :class:`WindowUpdate` saying what to do: the snapshot of the state that must survive a restart (with
``sync`` for a failure, which must be on disk before anything else is sent), the actions to carry out
on other connections (a button-mode :class:`PairingConflict`), and the events to report. The window
does no I/O and never reaches into a connection: the device's pairing runner
(``device_sdk.device.pairing``) persists, acts and notifies, in that order, after the call has
returned. :class:`~device_sdk.pairing.window_store.WindowStore` reads and writes the snapshot.

What it decides:

- whether a handshake is admitted (:meth:`PairingWindow.admit`): a closed window refuses with
  403, a lockout (n >= 5 consecutive failures: 2^(n-5) s, at most 60 s, after the last failure)
  with 429 and the reason ``retry after <seconds>``; 403 wins over 429. In sticker and button modes
  one attempt is live at a time: a handshake that arrives meanwhile is refused like a lockout (429,
  ``retry after 1``), so parallel connections cannot outrun the backoff; display mode admits
  several, but never more than the window's remaining failures. A refusal is not a failure.
- pairing again (profile v1.1): a controller the device already trusts (``trusted=True``) is not
  refused for a closed window, and its success leaves the window as it is; the backoff, the one live
  attempt and the counting apply to it as to anyone.
- the auth-initiation token ``at``: new at every construction (each start of the device), on every
  opening, and after every failed attempt.
- the counters: failures in this window (the window closes at 20) and consecutive failures
  (reset by a success, a button press or an admin opening; not by an opening at boot).
- the boot budget: a window opened at boot keeps the failures of the windows before it when the
  last failure is less than :data:`BOOT_BUDGET_REFILL_S` (24 h) old, and does not open at all when
  they already reached 20. So a reboot never grants fresh guesses; a device without a pairing
  button opens again at the first start a day after the attack (a button press or an admin opens
  one at once).
- exactly one pairing per window: an attempt commits (:meth:`PairingWindow.attempt_succeeded`)
  only while the window is open and no other pairing was committed in the opening it was
  admitted in; the window then closes, unless it was opened again since (an admin reopening it
  for the next controller).

Button mode: only a button press (or an admin, who is trusted and acts deliberately) opens a
window; ``open(now, "boot")`` does nothing, so ``cm`` never advertises a window that would not
accept pairing. The first controller admitted in a window is remembered; when a *different*
controller asks to pair in the same window, both are aborted, as WPS push-button does: the second
gets a refusal (401, unknown-error), the update carries a :class:`PairingConflict` naming the first
controller (the runner aborts that controller's attempt), and the window closes with reason
``"conflict"`` so that the user presses the button again. Neither abort counts as a failure.
"""

from __future__ import annotations

import base64
import enum
import logging
import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ConfigError, InvalidArgument
from ..wire.codes import AuthResult, CloseCode
from .window_events import (
    Admission,
    LockoutStarted,
    PairingConflict,
    Refusal,
    TokenRotated,
    WindowClosed,
    WindowEvent,
    WindowOpened,
    WindowUpdate,
)
from .window_state import OPEN_REASONS, OpenReason, WindowState

__all__ = [
    "ATTEMPT_LEASE_S",
    "BACKOFF_CAP_S",
    "BOOT_BUDGET_REFILL_S",
    "LOCKOUT_THRESHOLD",
    "MAX_FAILURES_PER_WINDOW",
    "Admission",
    "LockoutStarted",
    "OpenReason",
    "PairingConflict",
    "PairingMode",
    "PairingWindow",
    "Refusal",
    "TokenRotated",
    "WindowClosed",
    "WindowEvent",
    "WindowOpened",
    "WindowState",
    "WindowUpdate",
    "backoff_seconds",
    "new_auth_token",
]

logger = logging.getLogger(__name__)

MIN_DURATION_S = 180.0
MAX_DURATION_S = 900.0
MAX_FAILURES_PER_WINDOW = 20
LOCKOUT_THRESHOLD = 5
BACKOFF_CAP_S = 60.0
BOOT_BUDGET_REFILL_S = 86_400.0
"""A window opened at boot keeps the failures of the windows before it until the last failure is
this old (and stays closed while they number 20): reboots grant no fresh guesses."""
ATTEMPT_LEASE_S = 75.0
"""An admitted attempt holds the window's one live slot at most this long. Its own timers end it
sooner (60 s after pB, then 10 s for the controller's auth-status); this is a safety net only."""
LIVE_RETRY_AFTER_S = 1
"""The ``retry after`` of a handshake refused because another attempt is live (it usually ends
within a round trip; a stalled one costs its controller a counted failure within 70 s)."""

_TOKEN_RE = re.compile(r"[A-Za-z0-9+/]{16}")


class PairingMode(enum.StrEnum):
    """How a device proves its PSK: printed sticker code, fresh code on a display, or a button."""

    STICKER = "sticker"
    DISPLAY = "display"
    BUTTON = "button"


def new_auth_token() -> str:
    """A fresh auth-initiation token: 16 characters from ``[A-Za-z0-9+/]`` (96 bits from a CSPRNG)."""
    return base64.b64encode(secrets.token_bytes(12)).decode("ascii")


def backoff_seconds(consecutive_failures: int) -> float:
    """How long handshakes are refused after the last failure: 0 below 5, then 2^(n-5) s, at most 60 s."""
    if consecutive_failures < LOCKOUT_THRESHOLD:
        return 0.0
    exponent = consecutive_failures - LOCKOUT_THRESHOLD
    return BACKOFF_CAP_S if exponent >= 6 else min(float(2**exponent), BACKOFF_CAP_S)


@dataclass
class _Live:
    """An admitted attempt that has not ended."""

    controller_fp: bytes
    trusted: bool
    lease_until: float


# -- the window --------------------------------------------------------------------------------


class PairingWindow:
    """The pairing window and its failure counters (see the module docstring).

    ``state`` is what the last run persisted (None: a device that never had a window); call
    :meth:`restore` at start to resume a window that has not expired. ``duration_s`` is the window
    length, 180..900 s. ``token_source`` draws ``at`` tokens (tests inject their own).
    """

    def __init__(
        self,
        *,
        mode: PairingMode,
        duration_s: float = MAX_DURATION_S,
        state: WindowState | None = None,
        token_source: Callable[[], str] = new_auth_token,
    ) -> None:
        self._mode = PairingMode(mode)
        self._duration_s = _check_duration(duration_s)
        self._token_source = token_source
        saved = state or WindowState()
        self._open = saved.open
        self._reason: OpenReason | None = saved.reason
        self._opened_at = saved.opened_at
        self._expires_at = saved.expires_at
        self._failures_in_window = saved.failures_in_window
        self._consecutive_failures = saved.consecutive_failures
        self._last_failure_at = saved.last_failure_at
        self._button_fp = saved.button_fp
        self._generation = 0
        self._committed: set[int] = set()
        self._live: dict[int, _Live] = {}
        self._next_attempt = 1
        # what the call in progress returns
        self._events: list[WindowEvent] = []
        self._actions: list[PairingConflict] = []
        self._dirty = False
        self._sync = False
        self._token = self._draw_token()

    def __repr__(self) -> str:
        state = "open" if self._open else "closed"
        return f"PairingWindow(mode={self._mode.value!r}, {state}, consecutive_failures={self._consecutive_failures})"

    # -- read-only state ---------------------------------------------------------------------

    @property
    def mode(self) -> PairingMode:
        """The pairing mode of the device."""
        return self._mode

    @property
    def duration_s(self) -> float:
        """Default window length in seconds."""
        return self._duration_s

    @property
    def token(self) -> str:
        """The current auth-initiation token ``at``."""
        return self._token

    @property
    def generation(self) -> int:
        """Counts the openings of the window in this process (an attempt remembers the one it began in)."""
        return self._generation

    @property
    def is_open(self) -> bool:
        """Whether the window is open, as of the last call that took ``now``."""
        return self._open

    @property
    def opened_reason(self) -> str | None:
        """Why the open window was opened ("boot", "button" or "admin"); None when closed."""
        return self._reason if self._open else None

    @property
    def expires_at(self) -> float | None:
        """When the open window closes by itself; None when closed."""
        return self._expires_at if self._open else None

    @property
    def consecutive_failures(self) -> int:
        """Failed attempts since the last success, button press or admin opening."""
        return self._consecutive_failures

    @property
    def failures_in_window(self) -> int:
        """Failed attempts in the current window (at 20 it closes); boot windows share them."""
        return self._failures_in_window

    @property
    def live_attempts(self) -> int:
        """Admitted attempts that have not ended (at most one in sticker and button modes)."""
        return len(self._live)

    @property
    def locked_until(self) -> float | None:
        """End of the current lockout period (if any consecutive failures call for one)."""
        backoff = backoff_seconds(self._consecutive_failures)
        if backoff == 0.0 or self._last_failure_at is None:
            return None
        return self._last_failure_at + backoff

    @property
    def state(self) -> WindowState:
        """The part that survives a restart, as it is now."""
        return WindowState(
            open=self._open,
            reason=self._reason,
            opened_at=self._opened_at,
            expires_at=self._expires_at,
            failures_in_window=self._failures_in_window,
            consecutive_failures=self._consecutive_failures,
            last_failure_at=self._last_failure_at,
            button_fp=self._button_fp,
        )

    def is_open_at(self, now: float) -> bool:
        """Whether the window is open at ``now`` (a window whose time is up counts as closed,
        though it closes, with its event, only at :meth:`handle_timer`)."""
        return self._open and self._expires_at is not None and now < self._expires_at

    def next_timer(self) -> float | None:
        """When :meth:`handle_timer` must be called next (the window's expiry), or None."""
        return self._expires_at if self._open else None

    # -- transitions -------------------------------------------------------------------------

    def restore(self, now: float) -> WindowUpdate:
        """At start: resume a persisted window that has not expired (then :attr:`is_open`)."""
        self._begin()
        if not self._open or self._expires_at is None:
            return self._end()
        if now >= self._expires_at:
            self._close("timeout")
            return self._end()
        if self._expires_at > now + self._duration_s:
            self._expires_at = now + self._duration_s  # the clock went back: never extend a window
            self._dirty = True
        logger.info("pairing window resumed until %.0f", self._expires_at)
        self._events.append(WindowOpened(reason=self._reason or "boot", expires_at=self._expires_at, resumed=True))
        return self._end()

    def open(self, now: float, reason: OpenReason, *, duration_s: float | None = None) -> WindowUpdate:
        """Open (or, for a button press or admin, restart) the window.

        "button" and "admin" reset both failure counters; "boot" keeps the consecutive failures,
        keeps the failures in the window while the boot budget has not refilled (and then does not
        open once they reach 20), does nothing when a window is already open, and does nothing in
        button mode. ``duration_s`` overrides the default length (180..900 s, else :class:`ConfigError`).
        """
        if reason not in OPEN_REASONS:
            raise InvalidArgument(f"unknown reason to open the pairing window: {reason!r}")
        length = self._duration_s if duration_s is None else _check_duration(duration_s)
        self._begin()
        self._expire(now)
        if reason == "boot":
            if self._open or self._mode is PairingMode.BUTTON:
                return self._end()
            if not self._boot_budget_kept(now):
                self._failures_in_window = 0
            elif self._failures_in_window >= MAX_FAILURES_PER_WINDOW:
                logger.warning(
                    "pairing window stays closed: %d failed attempts in the last window; it opens at a start "
                    "after %.0f, or at once with a button press or an admin",
                    self._failures_in_window,
                    (self._last_failure_at or now) + BOOT_BUDGET_REFILL_S,
                )
                return self._end()
        else:
            self._failures_in_window = 0
            self._consecutive_failures = 0
            self._last_failure_at = None
        self._open = True
        self._generation += 1
        self._reason = reason
        self._opened_at = now
        self._expires_at = now + length
        self._button_fp = None
        self._token = self._draw_token()
        self._dirty = True
        logger.info("pairing window opened (%s) for %.0f s", reason, length)
        self._events.append(WindowOpened(reason=reason, expires_at=self._expires_at))
        self._events.append(TokenRotated(self._token))
        return self._end()

    def close(self, now: float, reason: str = "admin") -> WindowUpdate:
        """Close the window now (no-op when closed)."""
        self._begin()
        self._expire(now)
        if self._open:
            self._close(reason)
        return self._end()

    def handle_timer(self, now: float) -> WindowUpdate:
        """Close the window if its time is up (call at :meth:`next_timer`)."""
        self._begin()
        self._expire(now)
        return self._end()

    def admit(
        self, now: float, controller_fp: bytes, *, trusted: bool = False
    ) -> tuple[Admission | Refusal, WindowUpdate]:
        """Decide on a first handshake from ``controller_fp`` (``trusted``: a paired controller
        pairing again). An :class:`Admission` makes its attempt live until the window is told how
        it ended."""
        self._begin()
        self._expire(now)
        refusal = self._verdict(now, bytes(controller_fp), trusted)
        if refusal is not None:
            return refusal, self._end()
        attempt = self._next_attempt
        self._next_attempt += 1
        self._live[attempt] = _Live(bytes(controller_fp), trusted, now + ATTEMPT_LEASE_S)
        admission = Admission(
            attempt=attempt,
            controller_fp=bytes(controller_fp),
            token=self._token,
            trusted=trusted,
            generation=self._generation,
        )
        return admission, self._end()

    def attempt_failed(self, attempt: Admission, now: float) -> WindowUpdate:
        """An admitted attempt ended as a failure: count it, rotate ``at``, maybe lock out or close.
        The update is ``sync``: failures bound guessing, so they are on disk before anything else."""
        self._begin()
        self._expire(now)
        self._live.pop(attempt.attempt, None)
        self._consecutive_failures += 1
        if self._open:
            self._failures_in_window += 1
        self._last_failure_at = now
        self._token = self._draw_token()
        close = self._open and self._failures_in_window >= MAX_FAILURES_PER_WINDOW
        if close:
            self._open = False
        self._dirty = self._sync = True
        logger.info(
            "pairing attempt failed (%d consecutive, %d in window)",
            self._consecutive_failures,
            self._failures_in_window,
        )
        self._events.append(TokenRotated(self._token))
        locked_until = self.locked_until
        if locked_until is not None:
            self._events.append(LockoutStarted(until=locked_until, consecutive_failures=self._consecutive_failures))
        if close:
            logger.info("pairing window closed (failures)")
            self._events.append(WindowClosed("failures"))
        return self._end()

    def attempt_ended(self, attempt: Admission, now: float) -> WindowUpdate:
        """An admitted attempt ended without counting (aborted, or refused before any guess)."""
        self._begin()
        self._expire(now)
        self._live.pop(attempt.attempt, None)
        return self._end()

    def attempt_succeeded(self, attempt: Admission, now: float) -> tuple[Refusal | None, WindowUpdate]:
        """The controller of ``attempt`` confirmed: may the pairing be committed?

        None commits it (reset the consecutive failures; a first pairing closes the window it was
        admitted in, unless that was opened again since). A :class:`Refusal` (403) means the window
        closed meanwhile or already had its one pairing: do not commit (not counted either).
        """
        self._begin()
        self._expire(now)
        self._live.pop(attempt.attempt, None)
        if not attempt.trusted and (not self._open or attempt.generation in self._committed):
            logger.info("pairing not committed: the window it was admitted in is closed")
            return Refusal(CloseCode.FORBIDDEN, AuthResult.UNKNOWN_ERROR, None, "pairing window closed"), self._end()
        self._consecutive_failures = 0
        self._last_failure_at = None
        self._dirty = True
        if not attempt.trusted:
            self._committed.add(attempt.generation)
            if attempt.generation == self._generation:
                self._close("paired")
        return None, self._end()

    # -- internals ---------------------------------------------------------------------------

    def _verdict(self, now: float, controller_fp: bytes, trusted: bool) -> Refusal | None:
        if not trusted and not self._open:
            return Refusal(CloseCode.FORBIDDEN, AuthResult.UNKNOWN_ERROR, None, "pairing window closed")
        locked_until = self.locked_until
        if locked_until is not None:
            # min(): a clock that went back never lengthens the wait beyond one backoff period.
            remaining = min(locked_until - now, backoff_seconds(self._consecutive_failures))
            if remaining > 0:
                return _retry_after(remaining)
        if not trusted and self._mode is PairingMode.BUTTON:
            if self._button_fp is None:
                self._button_fp = controller_fp
                self._dirty = True
            elif self._button_fp != controller_fp:
                first = self._button_fp
                logger.warning("two controllers tried to pair in one button window: aborting both")
                self._actions.append(PairingConflict(abort_fp=first))
                self._close("conflict")
                why = "pairing aborted: another controller is pairing"
                return Refusal(CloseCode.UNAUTHORIZED, AuthResult.UNKNOWN_ERROR, None, why)
        if self._mode is not PairingMode.DISPLAY and self._live_now(now):
            return _retry_after(LIVE_RETRY_AFTER_S)
        if self._open and self._failures_in_window + len(self._live) >= MAX_FAILURES_PER_WINDOW:
            # Display mode admits attempts side by side: never more than the window's 20 guesses.
            return _retry_after(LIVE_RETRY_AFTER_S)
        return None

    def _live_now(self, now: float) -> bool:
        for attempt, live in list(self._live.items()):
            if live.lease_until <= now:
                logger.warning("pairing attempt %d outlived its lease: released", attempt)
                del self._live[attempt]
        return bool(self._live)

    def _boot_budget_kept(self, now: float) -> bool:
        # A clock behind the last failure counts as no time passed.
        return self._last_failure_at is not None and now - self._last_failure_at < BOOT_BUDGET_REFILL_S

    def _expire(self, now: float) -> None:
        if self._open and self._expires_at is not None and now >= self._expires_at:
            self._close("timeout")

    def _close(self, reason: str) -> None:
        self._open = False
        self._dirty = True
        logger.info("pairing window closed (%s)", reason)
        self._events.append(WindowClosed(reason))

    def _begin(self) -> None:
        self._events = []
        self._actions = []
        self._dirty = self._sync = False

    def _end(self) -> WindowUpdate:
        return WindowUpdate(
            events=tuple(self._events),
            actions=tuple(self._actions),
            state=self.state if self._dirty else None,
            sync=self._sync,
        )

    def _draw_token(self) -> str:
        token = self._token_source()
        if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
            raise ConfigError("the token source must return 16 characters from [A-Za-z0-9+/]")
        return token


def _retry_after(seconds: float) -> Refusal:
    whole = max(1, math.ceil(seconds))
    return Refusal(CloseCode.TOO_MANY_ATTEMPTS, AuthResult.UNKNOWN_ERROR, float(whole), f"retry after {whole}")


def _check_duration(duration_s: float) -> float:
    value = float(duration_s)
    if not MIN_DURATION_S <= value <= MAX_DURATION_S:
        raise ConfigError(f"the pairing window lasts 3..15 min (180..900 s), not {duration_s!r} s")
    return value
