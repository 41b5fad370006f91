"""The simulated board: the same hardware code on gpiozero's mock pins, driven by tests or the CLI.

``SimulatedBoard(runtime)`` wraps a :class:`~device_sdk.hardware.runtime.HardwareRuntime`
running on a MockFactory (the ``sim`` profile always does) and lets you press buttons, trigger
motion and force sensor values: simulated sensors, MCP3008 inputs and distance sensors (these two
through the simulated chips at the other end of their mock pins, :mod:`device_sdk.hardware.sim_chips`).
Everything goes through the mock pins and the same source objects a real board uses; actuators
(LEDs, PWM LEDs, relays) are driven by the device's channels and read back from their pins.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from gpiozero.pins.mock import MockFactory

from device_sdk.errors import HardwareError
from device_sdk.hardware.boards import load_profile
from device_sdk.hardware.parts import AnalogInputPart, DigitalInputPart, DistancePart
from device_sdk.hardware.runtime import HardwareRuntime
from device_sdk.hardware.signals import SimulatedSensor
from device_sdk.hardware.sim_protocol import PAIRING_BUTTON

__all__ = ["PAIRING_BUTTON", "SimulatedBoard", "sim_runtime"]


def sim_runtime(profile: str = "sim") -> HardwareRuntime:
    """A runtime of the built-in ``sim`` profile (or another) on a fresh mock factory."""
    prof = load_profile(profile)
    if prof.simulated:
        return HardwareRuntime(prof)
    return HardwareRuntime(prof, pin_factory_name="mock")


class SimulatedBoard:
    """Controls for a runtime on mock pins: press buttons, trigger inputs, force sensor values."""

    def __init__(self, runtime: HardwareRuntime) -> None:
        if not isinstance(runtime.pin_factory, MockFactory):
            raise HardwareError("SimulatedBoard needs a runtime on gpiozero's MockFactory")
        self.runtime = runtime
        self._forced: dict[str, float] = {}

    def pin(self, name: str) -> Any:
        """The mock pin of ``name``: ``pairing_button``, ``status_led`` or a part's channel."""
        prof = self.runtime.profile
        if name == PAIRING_BUTTON and prof.pairing_button is not None:
            num = prof.pairing_button.pin
        elif name == "status_led" and prof.status_led is not None:
            num = prof.status_led.pin
        else:
            try:
                pins = prof.part(name).pins
            except KeyError:
                raise HardwareError(f"the board has no part named {name!r}") from None
            if "pin" not in pins:
                raise HardwareError(f"part {name!r} has no single pin")
            num = pins["pin"]
        return self.runtime.pin_factory.pin(num)

    def _active_high(self, name: str) -> bool:
        prof = self.runtime.profile
        if name == PAIRING_BUTTON:
            if prof.pairing_button is None:
                raise HardwareError("the board has no pairing button")
            pull_up, active_high = prof.pairing_button.pull_up, prof.pairing_button.active_high
        else:
            if not isinstance(self.runtime.sources.get(name), DigitalInputPart):
                raise HardwareError(self._not_an_input(name))
            opts = prof.part(name).options
            pull_up, active_high = opts["pull_up"], opts["active_high"]
        return bool(active_high) if pull_up is None else not pull_up

    def set_input(self, name: str, active: bool) -> None:
        """Drive the input ``name`` to pressed/motion (True) or released (False), now."""
        level = active == self._active_high(name)
        pin = self.pin(name)
        if level:
            pin.drive_high()
        else:
            pin.drive_low()

    async def press(self, name: str = PAIRING_BUTTON, duration_s: float = 0.2) -> None:
        """Press ``name`` for ``duration_s`` seconds, then release it."""
        self.set_input(name, True)
        try:
            await asyncio.sleep(duration_s)
        finally:
            self.set_input(name, False)

    def debounce_s(self, name: str) -> float:
        """The software debounce of input ``name``: a level must last this long to count."""
        prof = self.runtime.profile
        if name == PAIRING_BUTTON:
            if prof.pairing_button is None:
                raise HardwareError("the board has no pairing button")
            return prof.pairing_button.debounce_ms / 1000.0
        source = self.runtime.sources.get(name)
        if not isinstance(source, DigitalInputPart):
            raise HardwareError(self._not_an_input(name))
        return source.debounce_s

    def _not_an_input(self, name: str) -> str:
        names = ", ".join(self.input_names()) or "none"
        return f"the board has no button or motion sensor {name!r} (it has: {names})"

    def input_names(self) -> tuple[str, ...]:
        """Every input :meth:`set_input` and :meth:`press` accept, the pairing button first."""
        names = [PAIRING_BUTTON] if self.runtime.profile.pairing_button is not None else []
        names.extend(n for n, s in self.runtime.sources.items() if isinstance(s, DigitalInputPart))
        return tuple(names)

    def input_active(self, name: str) -> bool:
        """Whether input ``name`` is pressed / sees motion right now (raw pin level, not debounced)."""
        level = bool(self.pin(name).state)
        return level == self._active_high(name)

    def _forceable(self) -> dict[str, SimulatedSensor | AnalogInputPart | DistancePart]:
        found: dict[str, SimulatedSensor | AnalogInputPart | DistancePart] = {}
        for name, source in self.runtime.sources.items():
            if isinstance(source, SimulatedSensor) or (
                isinstance(source, AnalogInputPart | DistancePart) and source.simulated is not None
            ):
                found[name] = source
        return found

    def simulated_sensors(self) -> dict[str, float | None]:
        """Every sensor :meth:`force` accepts, with the value it is forced to (None: not forced)."""
        return {n: self._forced.get(n) for n in self._forceable()}

    def force(self, name: str, value: float | None) -> None:
        """Make sensor ``name`` report ``value`` (None resumes its signal, or its unforced level).

        Simulated sensors report it as it is; an MCP3008 input or a distance sensor reads it through its
        simulated chip (quantized to the ADC's 10 bits, averaged over a few echoes). The value must lie
        within the channel's min..max, as a real reading would, and within what the part can measure.
        """
        source = self._forceable().get(name)
        if source is None:
            names = ", ".join(self._forceable()) or "none"
            raise HardwareError(f"the board has no sensor {name!r} that can be forced (these can: {names})")
        if value is not None:
            lo, hi = source.spec.min, source.spec.max
            if not math.isfinite(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
                raise HardwareError(f"{name!r} takes values in {_bound(lo)}..{_bound(hi)}, not {value:g}")
        source.force(value)
        if value is None:
            self._forced.pop(name, None)
        else:
            self._forced[name] = float(value)

    def output(self, name: str) -> object:
        """The state of output ``name`` read back from its mock pin (``status_led`` or a sink)."""
        if name == "status_led":
            led = self.runtime.status_led
            if led is None:
                raise HardwareError("the status LED is not running (start the runtime first)")
            return led.is_lit
        sink = self.runtime.sinks.get(name)
        if sink is None:
            raise HardwareError(f"the board has no actuator named {name!r}")
        return sink.state


def _bound(value: float | None) -> str:
    return "any" if value is None else f"{value:g}"
