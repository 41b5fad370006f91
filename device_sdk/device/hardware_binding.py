"""Joins a board's hardware runtime to a device: parts become channels, the button and LED follow
the pairing window. The one place where hardware meets the protocol layers.

It gets what it needs passed in, never the device: the registry's declaration methods
(:class:`ChannelDeclarations`), the pairing state as a value (``status()``, a :class:`PairingStatus`),
the button's callbacks, and the device's events (the device calls :meth:`HardwareBinding.device_event`).

The status LED tells the truth: it shows the window (open), the device's state (paired, or off), a
pairing in progress, and, for :data:`ERROR_SHOW_S` seconds after a failed attempt, the error pattern;
then the window or paired state again. A handshake turned away before any attempt (a stranger at a
closed window, a lockout) does not change it.

On a board running on gpiozero's MockFactory (the ``sim`` board, or any profile with the ``mock``
pin factory) the binding also serves the sim control socket, ``<state_dir>/sim.sock``, so that
tests and ``device-sdk sim`` can press the buttons of a running device.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpiozero.pins.mock import MockFactory

from ..channels import Actuator, Input, Sensor
from ..errors import HardwareError, UnknownName
from ..hardware import HardwareRuntime, LedPattern, SimulatedBoard, load_profile
from ..hardware.sim_control import SimController, SimControlServer, sim_socket_path
from .events import DeviceEvent, Paired, PairingFailed, PairingStarted, PairingWindowChanged, PinShown

log = logging.getLogger(__name__)

ERROR_SHOW_S = 3.0
"""How long the status LED shows the error pattern after a failed pairing attempt."""


@dataclass(frozen=True, kw_only=True)
class ChannelDeclarations:
    """The declaration methods of a :class:`~device_sdk.channels.ChannelRegistry` the binding uses."""

    sensor: Callable[..., Sensor]
    actuator: Callable[..., Actuator]
    input: Callable[..., Input]


@dataclass(frozen=True, kw_only=True)
class PairingStatus:
    """The device's pairing state at one moment, as the LED and the sim socket show it."""

    window_open: bool
    """The window is open (not expired)."""
    reason: str | None
    """Why it was opened (``boot``, ``button``, ``admin``)."""
    expires_at: float | None
    """When it closes by itself (Unix time); None when closed."""
    mode: str
    """The pairing mode (``sticker``, ``display``, ``button``)."""
    paired: int
    """How many controllers are paired."""


class HardwareBinding:
    """Declares a channel for every part of the board and keeps them in sync.

    ``declare`` declares the channels (the device's registry), ``status`` tells the pairing state,
    ``on_short_press``/``on_long_press`` are the pairing button's (open the window, factory reset),
    ``state_dir`` is where the sim control socket goes.
    """

    def __init__(
        self,
        board: str,
        *,
        declare: ChannelDeclarations,
        status: Callable[[], PairingStatus],
        on_short_press: Callable[[], None],
        on_long_press: Callable[[], None],
        state_dir: Path,
        pin_factory: str | None = None,
    ) -> None:
        self._status = status
        self._on_short_press = on_short_press
        self._on_long_press = on_long_press
        self._state_dir = state_dir
        self.error_show_s = ERROR_SHOW_S
        """How long a failed attempt's error pattern lasts before the LED shows the state again."""
        self._error_timer: asyncio.TimerHandle | None = None
        self.profile = load_profile(board)
        self.runtime = HardwareRuntime(self.profile, pin_factory_name=pin_factory)
        self._channels: dict[str, Any] = {}
        self._values: dict[str, object] = {}
        self.sim_control: SimControlServer | None = None
        """The sim control socket's server while a simulated board runs."""
        for spec in self.runtime.channels:
            kw: dict[str, Any] = {"type": spec.type, "unit": spec.unit, "min": spec.min, "max": spec.max}
            kw["description"] = spec.description
            if spec.kind == "actuator":
                sink = self.runtime.sinks[spec.name]
                self._channels[spec.name] = declare.actuator(
                    spec.name,
                    initial=sink.state,
                    handler=lambda value, name=spec.name: self.runtime.set(name, value),
                    values=spec.values,
                    **kw,
                )
            elif spec.kind == "input":
                self._channels[spec.name] = declare.input(spec.name, rate_hz=spec.rate_hz, **kw)
            else:
                self._channels[spec.name] = declare.sensor(spec.name, rate_hz=spec.rate_hz, values=spec.values, **kw)

    async def start(self) -> None:
        await self.runtime.start(
            self._emit,
            on_short_press=self._on_short_press,
            on_long_press=self._on_long_press,
        )
        self._show_idle()
        if self.simulated:
            await self._start_sim_control()

    @property
    def simulated(self) -> bool:
        """Whether the board runs on gpiozero's mock pins (and so can be driven over the sim socket)."""
        return isinstance(self.runtime.pin_factory, MockFactory)

    async def _start_sim_control(self) -> None:
        controller = SimController(
            board=SimulatedBoard(self.runtime), values=self._values, status_extra=self._sim_status
        )
        server = SimControlServer(path=sim_socket_path(self._state_dir), controller=controller)
        try:
            await server.start()
        except (HardwareError, OSError) as exc:
            # A convenience for tests and the CLI: the device runs on without it.
            log.warning("no sim control socket: %s", exc)
            return
        self.sim_control = server

    def _sim_status(self) -> dict[str, object]:
        status = self._status()
        return {
            "pairing_window": {
                "open": status.window_open,
                "reason": status.reason,
                "expires_at": status.expires_at,
                "mode": status.mode,
            },
            "paired": status.paired,
        }

    async def stop(self) -> None:
        self._end_error()
        server, self.sim_control = self.sim_control, None
        if server is not None:
            await server.stop()
        await self.runtime.stop()

    def set(self, name: str, value: Any) -> Any:
        """Drive output part ``name`` from device code as a controller's set would: its pins change and
        every controller watching the channel is told the new state. Returns the state the part took.

        Raises :class:`~device_sdk.errors.UnknownName` when the board has no output part ``name`` and
        :class:`~device_sdk.errors.ActuatorError` for a value the part refuses.
        """
        channel = self._channels.get(name)
        if not isinstance(channel, Actuator):
            raise UnknownName(name)
        state = self.runtime.set(name, value)
        channel.report(state)
        return state

    def _emit(self, name: str, value: object) -> None:
        self._values[name] = value
        channel = self._channels.get(name)
        if channel is None:
            return
        if hasattr(channel, "publish"):
            channel.publish(value)
        elif hasattr(channel, "report"):
            channel.report(value)

    def _show(self, pattern: LedPattern) -> None:
        led = self.runtime.status_led
        if led is not None:
            led.show(pattern)

    def _show_idle(self) -> None:
        status = self._status()
        if status.window_open:
            self._show(LedPattern.WINDOW_OPEN)
        elif status.paired:
            self._show(LedPattern.PAIRED)
        else:
            self._show(LedPattern.OFF)

    def device_event(self, event: DeviceEvent) -> None:
        """The device reported ``event``: the status LED follows it."""
        if isinstance(event, PairingFailed):
            if not event.refused:  # a refusal tested no code: nothing to show
                self._show_error()
        elif isinstance(event, PinShown | PairingStarted):
            self._end_error()
            self._show(LedPattern.PAIRING)
        elif isinstance(event, Paired):
            self._end_error()
            self._show_idle()
        elif isinstance(event, PairingWindowChanged) and self._error_timer is None:
            self._show_idle()  # while an error shows, the new state follows it

    def _show_error(self) -> None:
        self._end_error()
        self._show(LedPattern.ERROR)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a device that is not running): the next event shows the state
            return
        self._error_timer = loop.call_later(self.error_show_s, self._error_shown)

    def _error_shown(self) -> None:
        self._error_timer = None
        self._show_idle()

    def _end_error(self) -> None:
        if self._error_timer is not None:
            self._error_timer.cancel()
            self._error_timer = None
