"""What the pairing window returns: its events, the update each call hands back, and its verdicts
on a handshake (an :class:`Admission` or a :class:`Refusal`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .window_state import WindowState


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


WindowEvent = WindowOpened | WindowClosed | TokenRotated | LockoutStarted


@dataclass(frozen=True)
class PairingConflict:
    """An action, button mode: a second controller tried, so abort the live attempt of the
    controller ``abort_fp`` (on its own connection; it is not counted as a failure)."""

    abort_fp: bytes


@dataclass(frozen=True)
class WindowUpdate:
    """What a call to the window asks its runner to do, in this order: persist ``state`` (when not
    None; ``sync``: on disk before anything else is sent, as for a failure), carry out ``actions``,
    then report ``events``."""

    events: tuple[WindowEvent, ...] = ()
    actions: tuple[PairingConflict, ...] = ()
    state: WindowState | None = None
    sync: bool = False


@dataclass(frozen=True)
class Admission:
    """A handshake admitted: attempt number ``attempt`` of ``controller_fp`` is live.

    ``token`` is the ``at`` its handshake must carry, ``trusted`` whether the controller is already
    paired (pairing again), ``generation`` the window opening it was admitted in. Tell the window how
    the attempt ended: :meth:`PairingWindow.attempt_failed`, :meth:`~PairingWindow.attempt_ended`
    (not counted) or :meth:`~PairingWindow.attempt_succeeded`.
    """

    attempt: int
    controller_fp: bytes = field(repr=False)
    token: str = field(repr=False)
    trusted: bool = False
    generation: int = 0


@dataclass(frozen=True)
class Refusal:
    """Why a handshake is refused: send auth-status ``auth_result``, then close with ``close_code``.

    ``close_code`` is 403 (window closed), 429 (locked out, or another attempt is live;
    ``retry_after`` seconds, also in ``reason`` as ``retry after <seconds>``) or 401 (button-mode
    conflict). ``reason`` is the reason phrase of the connection close. A refusal is not a failure.
    """

    close_code: int
    auth_result: int
    retry_after: float | None
    reason: str
