"""The pairing window of a device (wire profile section 5, "Pairing modes and the pairing window").

A pure state machine: every method that depends on time takes ``now``, seconds since the Unix
epoch (``time.time()``: wall-clock time, because the window and its counters survive reboots).
The only I/O is the window's own state file, written atomically (0600) by a
:class:`~device_sdk.statefile.StateWriter` on every change: at once, or with ``background_writes``
on a thread (a failed attempt is always written at once, before anything else happens).

What it decides:

- whether a handshake is admitted (:meth:`PairingWindow.admit`): a closed window refuses with
  403, a lockout (n >= 5 consecutive failures: 2^(n-5) s, at most 60 s, after the last failure)
  with 429 and the reason ``retry after <seconds>``; 403 wins over 429. A refused handshake is not
  a failure.
- the auth-initiation token ``at``: new at every construction (each start of the device), on every
  opening, and after every failed attempt.
- the counters: failures in this window (the window closes at 20) and consecutive failures
  (reset by a success, a button press or an admin opening; not by an opening at boot).

Button mode: only a button press (or an admin, who is trusted and acts deliberately) opens a
window; ``open(now, "boot")`` does nothing, so ``cm`` never advertises a window that would not
accept pairing. The first controller admitted in a window is remembered; when a *different*
controller asks to pair in the same window, both are aborted, as WPS push-button does: the second
gets a refusal (401, unknown-error), subscribers get :class:`PairingConflict` naming the first
controller (the device must abort that controller's attempt), and the window closes with reason
``"conflict"`` so that the user presses the button again. Neither abort counts as a failure.

Observability: subscribers (:meth:`PairingWindow.subscribe`) receive frozen event objects,
synchronously, after the change has been handed to the writer (on disk already unless
``background_writes``). A subscriber that raises is logged and
does not disturb the window or the other subscribers; events raised while subscribers run are
delivered after the current ones, in order.
"""

from __future__ import annotations

import base64
import enum
import logging
import math
import re
import secrets
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from ..errors import ConfigError, StateError
from ..statefile import StateWriter, read_json
from .window_events import (
    LockoutStarted,
    PairingConflict,
    Refusal,
    TokenRotated,
    WindowClosed,
    WindowEvent,
    WindowOpened,
)

__all__ = [
    "BACKOFF_CAP_S",
    "LOCKOUT_THRESHOLD",
    "MAX_FAILURES_PER_WINDOW",
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
    "backoff_seconds",
    "new_auth_token",
]

logger = logging.getLogger(__name__)

MIN_DURATION_S = 180.0
MAX_DURATION_S = 900.0
MAX_FAILURES_PER_WINDOW = 20
LOCKOUT_THRESHOLD = 5
BACKOFF_CAP_S = 60.0
AUTH_UNKNOWN_ERROR = 1  # auth-status unknown-error, the result sent with every refusal

_TOKEN_RE = re.compile(r"[A-Za-z0-9+/]{16}")
_STATE_VERSION = 1

OpenReason = Literal["boot", "button", "admin"]


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


# -- the window --------------------------------------------------------------------------------


class PairingWindow:
    """The pairing window and its persistent failure counters.

    The state file ``state_path`` is read here (so counters are never lost); call
    :meth:`restore` at start to resume a window that has not expired. ``duration_s`` is the
    window length, 180..900 s. ``token_source`` draws ``at`` tokens (tests inject their own).
    """

    def __init__(
        self,
        *,
        state_path: Path,
        mode: PairingMode,
        duration_s: float = MAX_DURATION_S,
        token_source: Callable[[], str] = new_auth_token,
        background_writes: bool = False,
    ) -> None:
        self._mode = PairingMode(mode)
        self._duration_s = _check_duration(duration_s)
        self._path = state_path
        self._writer = StateWriter(state_path, background=background_writes)
        self._token_source = token_source
        self._subscribers: list[Callable[[WindowEvent], None]] = []
        self._pending: deque[WindowEvent] = deque()
        self._delivering = False

        self._open = False
        self._reason: str | None = None
        self._opened_at: float | None = None
        self._expires_at: float | None = None
        self._failures_in_window = 0
        self._consecutive_failures = 0
        self._last_failure_at: float | None = None
        self._button_fp: bytes | None = None
        self._generation = 0
        self._load()
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
        """Failed attempts in the current window (at 20 it closes)."""
        return self._failures_in_window

    @property
    def locked_until(self) -> float | None:
        """End of the current lockout period (if any consecutive failures call for one)."""
        backoff = backoff_seconds(self._consecutive_failures)
        if backoff == 0.0 or self._last_failure_at is None:
            return None
        return self._last_failure_at + backoff

    def is_open_at(self, now: float) -> bool:
        """Whether the window is open at ``now`` (expiring it first if its time is up)."""
        self.handle_timer(now)
        return self._open

    # -- events ------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[WindowEvent], None]) -> Callable[[], None]:
        """Call ``callback(event)`` for every future event; returns a function that unsubscribes."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, event: WindowEvent) -> None:
        self._pending.append(event)

    def _deliver(self) -> None:
        if self._delivering:
            return  # the outer delivery loop picks up events raised by subscribers
        self._delivering = True
        try:
            while self._pending:
                event = self._pending.popleft()
                for callback in list(self._subscribers):
                    try:
                        callback(event)
                    except Exception:
                        logger.exception("pairing window subscriber failed on %r", event)
        finally:
            self._delivering = False

    # -- transitions -------------------------------------------------------------------------

    def restore(self, now: float) -> bool:
        """At start: resume a persisted window that has not expired. Returns whether one was resumed."""
        if not self._open or self._expires_at is None:
            return False
        if now >= self._expires_at:
            self._close("timeout")
            return False
        if self._expires_at > now + self._duration_s:
            self._expires_at = now + self._duration_s  # the clock went back: never extend a window
            self._save()
        logger.info("pairing window resumed until %.0f", self._expires_at)
        self._emit(WindowOpened(reason=self._reason or "boot", expires_at=self._expires_at, resumed=True))
        self._deliver()
        return True

    def open(self, now: float, reason: OpenReason, *, duration_s: float | None = None) -> None:
        """Open (or, for a button press or admin, restart) the window.

        "button" and "admin" reset the consecutive-failure counter; "boot" keeps it, does
        nothing when a window is already open, and does nothing in button mode.
        ``duration_s`` overrides the default length (180..900 s, else :class:`ConfigError`).
        """
        if reason not in ("boot", "button", "admin"):
            raise ValueError(f"unknown reason to open the pairing window: {reason!r}")
        length = self._duration_s if duration_s is None else _check_duration(duration_s)
        self.handle_timer(now)
        if reason == "boot" and (self._open or self._mode is PairingMode.BUTTON):
            return
        self._open = True
        self._generation += 1
        self._reason = reason
        self._opened_at = now
        self._expires_at = now + length
        self._failures_in_window = 0
        self._button_fp = None
        if reason != "boot":
            self._consecutive_failures = 0
            self._last_failure_at = None
        self._token = self._draw_token()
        self._save()
        logger.info("pairing window opened (%s) for %.0f s", reason, length)
        self._emit(WindowOpened(reason=reason, expires_at=self._expires_at))
        self._emit(TokenRotated(self._token))
        self._deliver()

    def close(self, now: float, reason: str = "admin") -> None:
        """Close the window now (no-op when closed)."""
        self.handle_timer(now)
        if self._open:
            self._close(reason)

    def handle_timer(self, now: float) -> None:
        """Close the window if its time is up (call at :meth:`next_timer`)."""
        if self._open and self._expires_at is not None and now >= self._expires_at:
            self._close("timeout")

    def next_timer(self) -> float | None:
        """When :meth:`handle_timer` must be called next (the window's expiry), or None."""
        return self._expires_at if self._open else None

    def admit(self, now: float, controller_fp: bytes) -> Refusal | None:
        """Decide on a handshake from ``controller_fp``: None to go on, else the :class:`Refusal`."""
        self.handle_timer(now)
        if not self._open:
            return Refusal(403, AUTH_UNKNOWN_ERROR, None, "pairing window closed")
        locked_until = self.locked_until
        if locked_until is not None:
            # min(): a clock that went back never lengthens the wait beyond one backoff period.
            remaining = min(locked_until - now, backoff_seconds(self._consecutive_failures))
            if remaining > 0:
                seconds = max(1, math.ceil(remaining))
                return Refusal(429, AUTH_UNKNOWN_ERROR, float(seconds), f"retry after {seconds}")
        if self._mode is PairingMode.BUTTON:
            if self._button_fp is None:
                self._button_fp = bytes(controller_fp)
                self._save()
            elif self._button_fp != controller_fp:
                first = self._button_fp
                logger.warning("two controllers tried to pair in one button window: aborting both")
                self._emit(PairingConflict(abort_fp=first))
                self._close("conflict")
                return Refusal(401, AUTH_UNKNOWN_ERROR, None, "pairing aborted: another controller is pairing")
        return None

    def attempt_failed(self, now: float) -> None:
        """An attempt ended as a failure: count it, rotate ``at``, maybe lock out or close."""
        self.handle_timer(now)
        self._consecutive_failures += 1
        if self._open:
            self._failures_in_window += 1
        self._last_failure_at = now
        self._token = self._draw_token()
        close = self._open and self._failures_in_window >= MAX_FAILURES_PER_WINDOW
        if close:
            self._open = False
        self._save(sync=True)  # failures are what bound guessing: on disk before anything else happens
        logger.info(
            "pairing attempt failed (%d consecutive, %d in window)",
            self._consecutive_failures,
            self._failures_in_window,
        )
        self._emit(TokenRotated(self._token))
        locked_until = self.locked_until
        if locked_until is not None:
            self._emit(LockoutStarted(until=locked_until, consecutive_failures=self._consecutive_failures))
        if close:
            self._emit(WindowClosed("failures"))
        self._deliver()

    def attempt_succeeded(self, now: float, generation: int | None = None) -> None:
        """A pairing was committed: reset the consecutive failures and close the window.

        ``generation`` is :attr:`generation` when the attempt was admitted: a window opened again
        since then (an admin reopening it for the next controller) stays open.
        """
        self.handle_timer(now)
        self._consecutive_failures = 0
        self._last_failure_at = None
        if self._open and (generation is None or generation == self._generation):
            self._close("paired")
        else:
            self._save()

    # -- internals ---------------------------------------------------------------------------

    def _close(self, reason: str) -> None:
        self._open = False
        self._save()
        logger.info("pairing window closed (%s)", reason)
        self._emit(WindowClosed(reason))
        self._deliver()

    def _draw_token(self) -> str:
        token = self._token_source()
        if not isinstance(token, str) or not _TOKEN_RE.fullmatch(token):
            raise ConfigError("the token source must return 16 characters from [A-Za-z0-9+/]")
        return token

    def flush(self) -> None:
        """Return once the state is on disk (with ``background_writes`` it lands a little later)."""
        self._writer.flush()

    def shutdown(self) -> None:
        """Flush and stop the background writer, if any (later writes are synchronous)."""
        self._writer.close()

    def _save(self, *, sync: bool = False) -> None:
        self._writer.write_json(
            {
                "version": _STATE_VERSION,
                "open": self._open,
                "reason": self._reason,
                "opened_at": self._opened_at,
                "expires_at": self._expires_at,
                "failures_in_window": self._failures_in_window,
                "consecutive_failures": self._consecutive_failures,
                "last_failure_at": self._last_failure_at,
                "button_fp": None if self._button_fp is None else self._button_fp.hex(),
            },
            sync=sync,
        )

    def _load(self) -> None:
        data = read_json(self._path)
        if data is None:
            return
        try:
            self._parse(data)
        except (TypeError, ValueError, KeyError) as exc:
            raise StateError(f"{self._path} is not a valid pairing window state: {exc}") from exc

    def _parse(self, data: Any) -> None:
        if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
            raise ValueError("unknown format")
        opened = data["open"]
        if not isinstance(opened, bool):
            raise TypeError("open must be a boolean")
        reason = data.get("reason")
        if reason not in (None, "boot", "button", "admin"):
            raise ValueError(f"bad reason {reason!r}")
        self._opened_at = _optional_float(data.get("opened_at"))
        self._expires_at = _optional_float(data.get("expires_at"))
        self._failures_in_window = _count(data["failures_in_window"])
        self._consecutive_failures = _count(data["consecutive_failures"])
        self._last_failure_at = _optional_float(data.get("last_failure_at"))
        fp = data.get("button_fp")
        self._button_fp = None if fp is None else bytes.fromhex(fp)
        self._reason = reason
        self._open = opened and self._expires_at is not None


def _check_duration(duration_s: float) -> float:
    value = float(duration_s)
    if not MIN_DURATION_S <= value <= MAX_DURATION_S:
        raise ConfigError(f"the pairing window lasts 3..15 min (180..900 s), not {duration_s!r} s")
    return value


def _optional_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"expected a non-negative integer, got {value!r}")
    return value
