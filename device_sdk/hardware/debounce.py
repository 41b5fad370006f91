"""Software debounce and press classification, as a pure state machine fed levels and ``now``.

gpiozero's mock pins ignore ``bounce_time`` and real contacts bounce, so the SDK debounces
itself: a level counts once it has been stable for ``debounce_s``. With ``hold_s`` set, a press
still held after ``hold_s`` is a long press; a release before that is a short press.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import InvalidArgument

__all__ = ["Debouncer", "LevelChanged", "LongPress", "PressEvent", "ShortPress"]


@dataclass(frozen=True)
class LevelChanged:
    """The debounced level changed to ``active`` (pressed, motion) at ``at``."""

    active: bool
    at: float


@dataclass(frozen=True)
class ShortPress:
    """A press released after ``duration`` seconds, before the hold time."""

    duration: float


@dataclass(frozen=True)
class LongPress:
    """A press held for the hold time (reported once, while still held)."""

    held_s: float


PressEvent = LevelChanged | ShortPress | LongPress


class Debouncer:
    """Feed raw levels with :meth:`feed`, call :meth:`poll` at :meth:`next_deadline`.

    Both return the events that became due, in order. No clock is read: every call takes ``now``.
    """

    def __init__(self, *, debounce_s: float, hold_s: float | None = None, initial: bool = False) -> None:
        if debounce_s < 0 or (hold_s is not None and hold_s <= 0):
            raise InvalidArgument("debounce_s must be >= 0 and hold_s > 0")
        self.debounce_s = debounce_s
        self.hold_s = hold_s
        self._raw = initial
        self._raw_since = float("-inf")
        self._stable = initial
        self._pressed_at: float | None = None
        self._held = False

    @property
    def active(self) -> bool:
        """The debounced level."""
        return self._stable

    def feed(self, level: bool, now: float) -> list[PressEvent]:
        """A raw level seen at ``now``; returns the events due (only when debounce is 0)."""
        events = self.poll(now)
        if level != self._raw:
            self._raw = level
            self._raw_since = now
        events.extend(self.poll(now))
        return events

    def poll(self, now: float) -> list[PressEvent]:
        """The events due at ``now``."""
        events: list[PressEvent] = []
        if self._raw != self._stable and now >= self._raw_since + self.debounce_s:
            self._stable = self._raw
            at = self._raw_since
            events.append(LevelChanged(self._stable, at))
            if self._stable:
                self._pressed_at = at
                self._held = False
            elif self._pressed_at is not None:
                duration = at - self._pressed_at
                if self._held:
                    pass
                elif self.hold_s is not None and duration >= self.hold_s:
                    events.append(LongPress(duration))  # polled late: the hold still counts
                else:
                    events.append(ShortPress(duration))
                self._pressed_at = None
        if (
            self.hold_s is not None
            and self._stable
            and self._raw  # a release still being debounced is not a hold
            and self._pressed_at is not None
            and not self._held
            and now >= self._pressed_at + self.hold_s
        ):
            self._held = True
            events.append(LongPress(now - self._pressed_at))
        return events

    def next_deadline(self) -> float | None:
        """When :meth:`poll` should next be called, or None if nothing is pending."""
        deadlines = []
        if self._raw != self._stable:
            deadlines.append(self._raw_since + self.debounce_s)
        if self.hold_s is not None and self._stable and self._raw and self._pressed_at is not None and not self._held:
            deadlines.append(self._pressed_at + self.hold_s)
        return min(deadlines) if deadlines else None
