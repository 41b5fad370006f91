"""The asyncio edge of the hardware layer.

gpiozero calls back on its own threads (on mock pins: on whatever thread drives the pin).
:class:`LoopBridge` is the one place where such callbacks enter the event loop
(``loop.call_soon_threadsafe``). :class:`DebouncedInput` then runs a pure
:class:`~device_sdk.hardware.debounce.Debouncer` on the loop with loop timers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from device_sdk.hardware.debounce import Debouncer, PressEvent

__all__ = ["DebouncedInput", "LoopBridge"]

_log = logging.getLogger(__name__)


class LoopBridge:
    """Runs callables on ``loop``'s thread, whichever thread asks."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._closed = False

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Schedule ``fn(*args)`` on the loop; ignored once closed or when the loop is gone."""
        if self._closed:
            return
        try:
            self.loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the loop is closed: the device is shutting down
            _log.debug("dropped a hardware callback: event loop closed")

    def close(self) -> None:
        """Stop forwarding callbacks."""
        self._closed = True


class DebouncedInput:
    """A debounced digital input on the loop: :meth:`feed` raw levels, get events.

    ``on_event`` is called on the loop thread for every event of the debouncer.
    """

    def __init__(
        self,
        *,
        loop: asyncio.AbstractEventLoop,
        debouncer: Debouncer,
        on_event: Callable[[PressEvent], None],
    ) -> None:
        self._loop = loop
        self._debouncer = debouncer
        self._on_event = on_event
        self._timer: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def active(self) -> bool:
        """The debounced level."""
        return self._debouncer.active

    def feed(self, level: bool) -> None:
        """A raw level, seen now (call on the loop thread)."""
        if self._closed:
            return
        self._dispatch(self._debouncer.feed(bool(level), self._loop.time()))

    def _poll(self, deadline: float) -> None:
        self._timer = None
        if not self._closed:
            # asyncio may run a timer up to its clock resolution early: poll at the deadline
            self._dispatch(self._debouncer.poll(max(self._loop.time(), deadline)))

    def _dispatch(self, events: list[PressEvent]) -> None:
        for event in events:
            try:
                self._on_event(event)
            except Exception:
                _log.exception("hardware event handler failed")
        deadline = self._debouncer.next_deadline()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if deadline is not None and not self._closed:
            self._timer = self._loop.call_at(deadline, self._poll, deadline)

    def close(self) -> None:
        """Cancel the pending timer; further levels are ignored."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
