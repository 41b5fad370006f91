"""The persisted part of the pairing window: what survives a restart, and its JSON document."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import InvalidArgument, InvalidType

__all__ = ["OPEN_REASONS", "OpenReason", "WindowState"]

_STATE_VERSION = 1

OpenReason = Literal["boot", "button", "admin"]
OPEN_REASONS: tuple[OpenReason, ...] = ("boot", "button", "admin")


@dataclass(frozen=True, kw_only=True)
class WindowState:
    """What of the window survives a restart (the token and the live attempts do not)."""

    open: bool = False
    reason: OpenReason | None = None
    opened_at: float | None = None
    expires_at: float | None = None
    failures_in_window: int = 0
    consecutive_failures: int = 0
    last_failure_at: float | None = None
    button_fp: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON document of the state file."""
        return {
            "version": _STATE_VERSION,
            "open": self.open,
            "reason": self.reason,
            "opened_at": self.opened_at,
            "expires_at": self.expires_at,
            "failures_in_window": self.failures_in_window,
            "consecutive_failures": self.consecutive_failures,
            "last_failure_at": self.last_failure_at,
            "button_fp": None if self.button_fp is None else self.button_fp.hex(),
        }

    @classmethod
    def from_json(cls, data: object) -> WindowState:
        """Parse a state file's document; ValueError (or TypeError) says what is wrong."""
        if not isinstance(data, dict) or data.get("version") != _STATE_VERSION:
            raise InvalidArgument("unknown format")
        opened = data["open"]
        if not isinstance(opened, bool):
            raise InvalidType("open must be a boolean")
        reason = data.get("reason")
        if reason is not None and reason not in OPEN_REASONS:
            raise InvalidArgument(f"bad reason {reason!r}")
        expires_at = _optional_float(data.get("expires_at"))
        fp = data.get("button_fp")
        if fp is not None and not isinstance(fp, str):
            raise InvalidType("button_fp must be hexadecimal text")
        return cls(
            open=opened and expires_at is not None,
            reason=reason,
            opened_at=_optional_float(data.get("opened_at")),
            expires_at=expires_at,
            failures_in_window=_count(data["failures_in_window"]),
            consecutive_failures=_count(data["consecutive_failures"]),
            last_failure_at=_optional_float(data.get("last_failure_at")),
            button_fp=None if fp is None else bytes.fromhex(fp),
        )


def _optional_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidType(f"expected a number, got {value!r}")
    return float(value)


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidType(f"expected a non-negative integer, got {value!r}")
    return value
