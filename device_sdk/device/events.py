"""Events a device reports to its application (and to the CLI, a display or a status LED).

Named for what happened, apart from the exceptions a controller gets: :class:`PinShown` (the
pairing machine's :class:`~device_sdk.pairing.auth.ShowPin` is the instruction that leads to it) and
:class:`LockoutStarted` (the window's own event, reported as it is; the controller's exception is
:class:`~device_sdk.errors.LockedOut`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..pairing.window_events import LockoutStarted

__all__ = [
    "ControllerRemoved",
    "DeviceEvent",
    "LockoutStarted",
    "Paired",
    "PairingFailed",
    "PairingStarted",
    "PairingWindowChanged",
    "PinShown",
]


@dataclass(frozen=True)
class PairingWindowChanged:
    """The pairing window opened or closed (``cm`` in TXT)."""

    open: bool
    reason: str
    expires_at: float | None


@dataclass(frozen=True)
class PairingStarted:
    """A controller's attempt was admitted and the device answered its handshake: pairing in progress."""


@dataclass(frozen=True)
class PinShown:
    """Display mode: show this PSK to the user (valid for ``valid_s`` seconds, one attempt)."""

    text: str = field(repr=False)
    """The PIN grouped with dashes."""
    qr_text: str = field(repr=False)
    """Hexadecimal PSK for a QR code."""
    valid_s: float


@dataclass(frozen=True)
class Paired:
    """A controller paired (or paired again). ``fingerprint`` is its 44-character SPKI fingerprint,
    ``name`` the name it announced in its agent-info."""

    fingerprint: str
    name: str
    role: str


@dataclass(frozen=True)
class ControllerRemoved:
    """A controller is no longer trusted: it unpaired itself (``leave``) or an admin removed it. Its
    connections are closed. ``fingerprint`` and ``name`` are as in :class:`Paired`."""

    fingerprint: str
    name: str


@dataclass(frozen=True)
class PairingFailed:
    """A pairing did not happen: ``reason`` says why.

    ``refused`` is true when the handshake was turned away before any attempt (the window closed,
    a lockout, another attempt in progress, no certificate): nobody tested a code, and a status LED
    does not show it as an error.
    """

    reason: str
    refused: bool = False


DeviceEvent = (
    PairingWindowChanged | PairingStarted | PinShown | Paired | ControllerRemoved | PairingFailed | LockoutStarted
)
"""Every event a device reports; :class:`LockoutStarted` (``until``, ``consecutive_failures``): handshakes
are refused until ``until`` after repeated failures."""
