"""The status LED and its patterns.

A pattern is a pure description, :func:`pattern_steps`: a cycle of (lit, seconds) steps, where
a step of None seconds holds forever. :class:`StatusLed` drives a gpiozero ``LED`` through the
steps with an asyncio task (its ``sleep`` is injectable for tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import gpiozero

from device_sdk.errors import HardwareError
from device_sdk.hardware.profile import LedConfig

__all__ = ["LedPattern", "StatusLed", "Step", "pattern_steps"]

_log = logging.getLogger(__name__)

Step = tuple[bool, float | None]
"""(lit, seconds); None seconds = hold this state until the next pattern."""


class LedPattern(enum.Enum):
    """What the status LED shows."""

    OFF = "off"
    """Dark."""
    WINDOW_OPEN = "window-open"
    """The pairing window is open: 1 Hz blink (0.5 s on, 0.5 s off)."""
    PAIRING = "pairing"
    """A controller is pairing: fast blink (0.1 s on, 0.1 s off)."""
    PAIRED = "paired"
    """Paired and idle: steadily on."""
    ERROR = "error"
    """Something is wrong: three short blinks (0.15 s on/off), then 1 s dark."""


_STEPS: dict[LedPattern, tuple[Step, ...]] = {
    LedPattern.OFF: ((False, None),),
    LedPattern.WINDOW_OPEN: ((True, 0.5), (False, 0.5)),
    LedPattern.PAIRING: ((True, 0.1), (False, 0.1)),
    LedPattern.PAIRED: ((True, None),),
    LedPattern.ERROR: ((True, 0.15), (False, 0.15)) * 2 + ((True, 0.15), (False, 1.15)),
}


def pattern_steps(pattern: LedPattern) -> tuple[Step, ...]:
    """One cycle of ``pattern`` as (lit, seconds) steps; the cycle repeats unless a step holds."""
    return _STEPS[pattern]


class StatusLed:
    """The status LED on ``pin`` (BCM number). Call :meth:`show` on the event loop thread."""

    def __init__(
        self,
        pin: int,
        *,
        active_high: bool = True,
        pin_factory: Any = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.pin = pin
        self._sleep = sleep
        try:
            self.device = gpiozero.LED(pin, active_high=active_high, initial_value=False, pin_factory=pin_factory)
        except Exception as exc:
            raise HardwareError(f"status LED on GPIO{pin}: {exc}") from exc
        self._pattern = LedPattern.OFF
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def from_config(
        cls,
        config: LedConfig,
        *,
        pin_factory: Any = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> StatusLed:
        """A status LED as a board profile describes it."""
        return cls(config.pin, active_high=config.active_high, pin_factory=pin_factory, sleep=sleep)

    @property
    def pattern(self) -> LedPattern:
        """The pattern shown."""
        return self._pattern

    @property
    def is_lit(self) -> bool:
        """Whether the LED is lit right now."""
        return bool(self.device.is_lit)

    def show(self, pattern: LedPattern) -> None:
        """Show ``pattern`` from now on (restarts the cycle even if it is already shown)."""
        self._cancel()
        self._pattern = pattern
        steps = pattern_steps(pattern)
        if len(steps) == 1 and steps[0][1] is None:
            self._set(steps[0][0])  # a steady pattern needs no task
            return
        self._task = asyncio.get_running_loop().create_task(self._drive(steps), name=f"status-led-{pattern.value}")

    def _set(self, lit: bool) -> None:
        if lit:
            self.device.on()
        else:
            self.device.off()

    async def _drive(self, steps: tuple[Step, ...]) -> None:
        try:
            while True:
                for lit, seconds in steps:
                    self._set(lit)
                    if seconds is None:
                        return
                    await self._sleep(seconds)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("status LED failed")

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def close(self) -> None:
        """Stop the pattern, turn the LED off and release the pin."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with contextlib.suppress(Exception):
            self.device.off()
        self.device.close()
