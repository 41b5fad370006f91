"""Simulated chips on gpiozero's mock pins: an MCP3008 ADC on the SPI pins and an HC-SR04 echo.

On a board running on the MockFactory, an ``mcp3008`` part reads its MCP3008 over software SPI as
on a Pi, and a ``distance_sensor`` times the echo of its trigger as on a Pi: these objects sit at
the other end of those mock pins and answer like the real chips, with a level or a distance that
:meth:`SimulatedAdcInput.force` and :meth:`SimulatedEcho.force` set (``device-sdk sim force``).
The gpiozero code on the device side is the same as on real hardware.

They must be wired (:func:`simulated_adc`, :func:`simulated_echo`) before the gpiozero device that
uses the pins is built: the pins are created here with classes that report what the device drives.
Pins that already exist as other mock pins (a test that wired its own mock chip) are left alone:
wiring then raises :class:`~device_sdk.errors.HardwareError` and the part is built without simulation.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Any

from device_sdk.errors import HardwareError
from device_sdk.hardware.pins import BoundedMockPWMPin
from device_sdk.hardware.profile import SPI_PINS

__all__ = [
    "SPEED_OF_SOUND",
    "SignalPin",
    "SimulatedAdcInput",
    "SimulatedEcho",
    "SimulatedMcp3008",
    "simulated_adc",
    "simulated_echo",
]

SPEED_OF_SOUND = 343.26
"""Metres per second, as gpiozero's DistanceSensor assumes."""
ADC_BITS = 10
ADC_CHANNELS = 8


class SignalPin(BoundedMockPWMPin):
    """A mock pin that tells its listeners each level the gpiozero device drives it to."""

    def __init__(self, factory: Any, info: Any) -> None:
        super().__init__(factory, info)
        self.listeners: list[Callable[[bool], None]] = []

    def _set_state(self, value: float) -> None:
        super()._set_state(value)
        for listener in list(self.listeners):
            listener(bool(value))


class EchoPin(BoundedMockPWMPin):
    """A mock input pin that can give an echo pulse of an exact width: the falling edge is stamped
    ``width`` seconds after the rising one, whatever the scheduling, so the measured distance is exact."""

    _last_change: float
    """gpiozero's time of the last level change (the ``ticks`` its edge callbacks receive)."""

    def pulse(self, width: float) -> None:
        if self.function != "input":
            return
        self.drive_high()
        rise = self._last_change
        if self._change_state(False):
            self._last_change = rise + width
            if self._edges in ("both", "falling") and self._when_changed is not None:
                self._call_when_changed()


def _pin(factory: Any, number: int, pin_class: type[BoundedMockPWMPin], what: str) -> Any:
    """The mock pin ``number`` as ``pin_class``: created now, or already one (shared with another chip)."""
    try:
        pin = factory.pin(number, pin_class=pin_class)
    except ValueError:  # gpiozero: the pin exists as another class of mock pin
        pin = None
    if not isinstance(pin, pin_class):
        raise HardwareError(f"cannot simulate {what}: GPIO{number} is already used by another part")
    return pin


class SimulatedMcp3008:
    """An MCP3008 on the SPI bus, selected by CE ``device``: converts its 8 input levels.

    Follows the datasheet's framing as gpiozero clocks it (mode 0, MSB first): after the start bit
    come the single/differential bit and three channel bits, one sample clock, a null bit, then the
    10-bit result. Levels are fractions of Vref (0..1); differential reads give the clamped difference.
    """

    def __init__(self, factory: Any, device: int) -> None:
        if device not in (0, 1):
            raise HardwareError(f"an MCP3008 sits on CE0 or CE1, not CE{device}")
        what = f"the MCP3008 on CE{device}"
        self.levels = [0.0] * ADC_CHANNELS
        """The input levels as fractions of Vref, read at each conversion."""
        self._clock = _pin(factory, SPI_PINS["sclk"], SignalPin, what)
        self._mosi = _pin(factory, SPI_PINS["mosi"], BoundedMockPWMPin, what)
        self._miso = _pin(factory, SPI_PINS["miso"], BoundedMockPWMPin, what)
        self._select = _pin(factory, SPI_PINS["ce0" if device == 0 else "ce1"], SignalPin, what)
        self._selected = False
        self._started = False
        self._bits: list[bool] = []
        self._result = 0
        self._clock.listeners.append(self._on_clock)
        self._select.listeners.append(self._on_select)

    def _on_select(self, level: bool) -> None:
        self._selected = not level  # chip select is active low
        self._started = False
        self._bits = []

    def _on_clock(self, level: bool) -> None:
        if not self._selected or not level:  # mode 0: both sides act on the rising edge
            return
        mosi = bool(self._mosi.state)
        if not self._started:
            self._started = mosi  # leading zeros, then the start bit
            return
        self._bits.append(mosi)
        n = len(self._bits)  # 1: single/diff, 2-4: channel, 5: sample, 6: null, 7..16: B9..B0
        if n == 4:
            self._result = self._convert(single=self._bits[0], channel=_number(self._bits[1:4]))
        if 7 <= n < 7 + ADC_BITS:
            self._drive(bool(self._result >> (ADC_BITS - 1 - (n - 7)) & 1))
        else:
            self._drive(False)

    def _convert(self, *, single: bool, channel: int) -> int:
        level = self.levels[channel] if single else self.levels[channel] - self.levels[channel ^ 1]
        return round(min(1.0, max(0.0, level)) * ((1 << ADC_BITS) - 1))

    def _drive(self, high: bool) -> None:
        if self._miso.function != "input":
            return
        if high:
            self._miso.drive_high()
        else:
            self._miso.drive_low()

    def close(self) -> None:
        """Let go of the pins."""
        if self._on_clock in self._clock.listeners:
            self._clock.listeners.remove(self._on_clock)
        if self._on_select in self._select.listeners:
            self._select.listeners.remove(self._on_select)


def _number(bits: list[bool]) -> int:
    value = 0
    for bit in bits:
        value = value << 1 | int(bit)
    return value


class SimulatedAdcInput:
    """One input of a simulated MCP3008, in the units of the part that reads it (``scale``, ``offset``)."""

    def __init__(self, chip: SimulatedMcp3008, channel: int, *, scale: float, offset: float) -> None:
        self.chip = chip
        self.channel = channel
        self.scale = scale
        self.offset = offset
        self.forced: float | None = None

    @property
    def range(self) -> tuple[float, float]:
        """The values this input can read: Vref times ``scale``, plus ``offset``."""
        ends = (self.offset, self.offset + self.scale)
        return min(ends), max(ends)

    def force(self, value: float | None) -> None:
        """Put the input at the level that reads ``value`` (HardwareError when out of the ADC's range);
        None puts it back to 0 V."""
        if value is None:
            self.chip.levels[self.channel] = 0.0
            self.forced = None
            return
        lo, hi = self.range
        if not lo <= value <= hi or self.scale == 0:
            raise HardwareError(f"this ADC input reads {lo:g}..{hi:g}, not {value:g}")
        self.chip.levels[self.channel] = (value - self.offset) / self.scale
        self.forced = float(value)

    def close(self) -> None:
        """Put the input back to 0 V (the chip stays: its other inputs may be in use)."""
        self.force(None)


class SimulatedEcho:
    """An HC-SR04 on mock pins: each trigger pulse gets an echo as long as the forced distance needs
    (nothing in range, the sensor's maximum distance, until one is forced)."""

    def __init__(self, factory: Any, *, trigger: int, echo: int, max_distance: float) -> None:
        self.max_distance = max_distance
        self.forced: float | None = None
        self._lock = threading.Lock()
        self._trigger = _pin(factory, trigger, SignalPin, "the distance sensor")
        self._echo = _pin(factory, echo, EchoPin, "the distance sensor")
        self._trigger.listeners.append(self._on_trigger)

    @property
    def range(self) -> tuple[float, float]:
        return 0.0, self.max_distance

    def _on_trigger(self, level: bool) -> None:
        if level:  # the echo answers the trigger pulse (on gpiozero's sampling thread)
            with self._lock:
                distance = self.max_distance if self.forced is None else self.forced
            self._echo.pulse(2.0 * distance / SPEED_OF_SOUND)

    def force(self, value: float | None) -> None:
        """Echo as from an object ``value`` metres away; None: nothing in range."""
        if value is not None and not 0.0 <= value <= self.max_distance:
            raise HardwareError(f"this distance sensor measures 0..{self.max_distance:g} m, not {value:g}")
        with self._lock:
            self.forced = None if value is None else float(value)

    def close(self) -> None:
        if self._on_trigger in self._trigger.listeners:
            self._trigger.listeners.remove(self._on_trigger)


_ADCS: weakref.WeakKeyDictionary[Any, dict[int, SimulatedMcp3008]] = weakref.WeakKeyDictionary()


def simulated_adc(factory: Any, device: int) -> SimulatedMcp3008:
    """The simulated MCP3008 on CE ``device`` of ``factory``'s mock pins (one per CE, shared by its inputs)."""
    chips = _ADCS.setdefault(factory, {})
    if device not in chips:
        chips[device] = SimulatedMcp3008(factory, device)
    return chips[device]


def simulated_echo(factory: Any, *, trigger: int, echo: int, max_distance: float) -> SimulatedEcho:
    """A simulated HC-SR04 answering on ``trigger``/``echo`` of ``factory``'s mock pins."""
    return SimulatedEcho(factory, trigger=trigger, echo=echo, max_distance=max_distance)
