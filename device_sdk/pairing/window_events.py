"""What the pairing window tells its subscribers, and why it refuses a handshake."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WindowOpened:
    """The window opened (``cm`` becomes 1). ``resumed`` is true when restored after a restart."""

    reason: str
    expires_at: float
    resumed: bool = False


@dataclass(frozen=True)
class WindowClosed:
    """The window closed (``cm`` becomes 0).

    ``reason``: "paired", "timeout", "failures" (20 in this window), "conflict" (button mode),
    or whatever the caller of :meth:`PairingWindow.close` gave ("admin", "reset", ...).
    """

    reason: str


@dataclass(frozen=True)
class TokenRotated:
    """``at`` changed: advertise the new token."""

    token: str


@dataclass(frozen=True)
class LockoutStarted:
    """A failure started a lockout: handshakes are refused with 429 until ``until``."""

    until: float
    consecutive_failures: int


@dataclass(frozen=True)
class PairingConflict:
    """Button mode: a second controller tried; abort the attempt of the controller ``abort_fp``."""

    abort_fp: bytes


WindowEvent = WindowOpened | WindowClosed | TokenRotated | LockoutStarted | PairingConflict


@dataclass(frozen=True)
class Refusal:
    """Why a handshake is refused: send auth-status ``auth_result``, then close with ``close_code``.

    ``close_code`` is 403 (window closed), 429 (locked out; ``retry_after`` seconds, also in
    ``reason`` as ``retry after <seconds>``) or 401 (button-mode conflict). ``reason`` is the
    reason phrase of the connection close.
    """

    close_code: int
    auth_result: int
    retry_after: float | None
    reason: str
