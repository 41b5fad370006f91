"""The pairing button (profile section 5): a short press opens the pairing window, a long
press (10 s by default) is a factory reset.

The pin is a gpiozero ``Button``; its edges enter the event loop through the one
:class:`~device_sdk.hardware.edge.LoopBridge`, are debounced in software and classified by the
pure :class:`~device_sdk.hardware.debounce.Debouncer`. The callbacks run on the loop thread.
The hold is timed on the loop rather than by gpiozero's ``hold_time`` thread, so that it is
measured from the debounced press.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import gpiozero

from device_sdk.errors import HardwareError
from device_sdk.hardware.debounce import Debouncer, LongPress, PressEvent, ShortPress
from device_sdk.hardware.edge import DebouncedInput, LoopBridge
from device_sdk.hardware.parts import clear_callbacks
from device_sdk.hardware.profile import ButtonConfig

__all__ = ["PairingButton"]

_log = logging.getLogger(__name__)


class PairingButton:
    """The pairing button on ``pin`` (BCM number).

    ``on_short_press()`` runs when a press is released before ``hold_s``; ``on_long_press()``
    runs once when a press has been held for ``hold_s`` (while still held). Both run on the
    event loop thread. Create it inside a running loop, or pass ``loop``.
    """

    def __init__(
        self,
        pin: int,
        *,
        on_short_press: Callable[[], None],
        on_long_press: Callable[[], None],
        hold_s: float = 10.0,
        debounce_ms: float = 50.0,
        pull_up: bool | None = True,
        active_high: bool | None = None,
        pin_factory: Any = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.pin = pin
        self.hold_s = hold_s
        self._on_short = on_short_press
        self._on_long = on_long_press
        loop = loop or asyncio.get_running_loop()
        self._bridge = LoopBridge(loop)
        try:
            self.device = gpiozero.Button(
                pin,
                pull_up=pull_up,
                active_state=active_high if pull_up is None else None,
                bounce_time=None,
                pin_factory=pin_factory,
            )
        except Exception as exc:
            raise HardwareError(f"pairing button on GPIO{pin}: {exc}") from exc
        self._input = DebouncedInput(
            loop=loop,
            debouncer=Debouncer(debounce_s=debounce_ms / 1000.0, hold_s=hold_s, initial=bool(self.device.is_active)),
            on_event=self._on_event,
        )
        self.device.when_pressed = lambda: self._bridge.call(self._input.feed, True)
        self.device.when_released = lambda: self._bridge.call(self._input.feed, False)

    @classmethod
    def from_config(
        cls,
        config: ButtonConfig,
        *,
        on_short_press: Callable[[], None],
        on_long_press: Callable[[], None],
        pin_factory: Any = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> PairingButton:
        """A pairing button as a board profile describes it."""
        return cls(
            config.pin,
            on_short_press=on_short_press,
            on_long_press=on_long_press,
            hold_s=config.hold_s,
            debounce_ms=config.debounce_ms,
            pull_up=config.pull_up,
            active_high=config.active_high,
            pin_factory=pin_factory,
            loop=loop,
        )

    @property
    def is_pressed(self) -> bool:
        """Whether the button is pressed (debounced)."""
        return self._input.active

    def _on_event(self, event: PressEvent) -> None:
        if isinstance(event, ShortPress):
            _log.info("pairing button: short press (%.2f s)", event.duration)
            self._on_short()
        elif isinstance(event, LongPress):
            _log.warning("pairing button: held %.1f s: factory reset", event.held_s)
            self._on_long()

    def close(self) -> None:
        """Stop listening and release the pin."""
        self._bridge.close()
        self._input.close()
        clear_callbacks(self.device, "when_pressed", "when_released")
        self.device.close()
