"""Hardware parts as sources and sinks, built from gpiozero devices on an injected pin factory.

:func:`build_part` turns a validated :class:`~device_sdk.hardware.profile.PartConfig` into an
object implementing :class:`~device_sdk.hardware.spec.SampledSource`,
:class:`~device_sdk.hardware.spec.EventSource` or :class:`~device_sdk.hardware.spec.Sink`.
Parts hold no event loop: the runtime polls sampled sources and brings event callbacks into
the loop.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import gpiozero
from gpiozero.exc import PWMSoftwareFallback
from gpiozero.pins.mock import MockFactory

from device_sdk.errors import ActuatorError, ConfigError, HardwareError
from device_sdk.hardware.plugins import load_driver
from device_sdk.hardware.profile import PartConfig
from device_sdk.hardware.signals import SimulatedSensor
from device_sdk.hardware.sim_chips import SimulatedAdcInput, SimulatedEcho, simulated_adc, simulated_echo
from device_sdk.hardware.spec import (
    ChannelSpec,
    EventSource,
    SampledSource,
    Sink,
    check_value,
    is_sink,
    is_source,
)

__all__ = [
    "AnalogInputPart",
    "DigitalInputPart",
    "DigitalOutputPart",
    "DistancePart",
    "Part",
    "PwmOutputPart",
    "build_part",
]

_log = logging.getLogger(__name__)

Part = SampledSource | EventSource | Sink


def clear_callbacks(device: Any, *names: str) -> None:
    """Unset gpiozero callbacks (setting an unset one to None makes gpiozero warn)."""
    for name in names:
        if getattr(device, name, None) is not None:
            setattr(device, name, None)


class DigitalInputPart:
    """A button or motion sensor: an event source of bools (True = pressed / motion)."""

    def __init__(self, *, spec: ChannelSpec, device: Any, debounce_s: float) -> None:
        self.spec = spec
        self.device = device
        self.debounce_s = debounce_s

    def read(self) -> bool:
        """Whether the input is active now (raw, not debounced)."""
        return bool(self.device.is_active)

    def start(self, emit: Callable[[object], None]) -> None:
        """Report every raw edge to ``emit`` (called on gpiozero's thread)."""
        self.device.when_activated = lambda: emit(True)
        self.device.when_deactivated = lambda: emit(False)

    def stop(self) -> None:
        """Stop reporting edges."""
        clear_callbacks(self.device, "when_activated", "when_deactivated")

    def close(self) -> None:
        """Release the pin."""
        self.device.close()


class _ChipPart:
    """A part read through a chip that a simulation can stand in for at the other end of mock pins:
    ``simulated`` is that stand-in (None on real hardware), driven by :meth:`force`."""

    spec: ChannelSpec
    simulated: SimulatedAdcInput | SimulatedEcho | None
    what: ClassVar[str] = "part"
    """What the part is, for messages."""

    @property
    def forced(self) -> float | None:
        """The value the simulation is forced to (None: not forced, or not simulated)."""
        return self.simulated.forced if self.simulated is not None else None

    def force(self, value: float | None) -> None:
        """Make the simulated chip answer so that the part reads ``value`` (None: its unforced level)."""
        if self.simulated is None:
            raise HardwareError(f"{self.spec.name!r} is a real {self.what}: only a simulated one can be forced")
        self.simulated.force(value)


class AnalogInputPart(_ChipPart):
    """An MCP3008 input: a sampled source of ``fraction * scale + offset`` (fraction of Vref, 0..1).

    On mock pins, ``simulated`` is the simulated MCP3008's input (0 V until forced).
    """

    what = "ADC input"

    def __init__(
        self,
        *,
        spec: ChannelSpec,
        device: Any,
        scale: float,
        offset: float,
        simulated: SimulatedAdcInput | None = None,
    ) -> None:
        self.spec = spec
        self.device = device
        self.scale = scale
        self.offset = offset
        self.simulated: SimulatedAdcInput | SimulatedEcho | None = simulated

    def read(self) -> float:
        """One conversion (code / 1023, so 0.0..1.0 of Vref), scaled."""
        fraction = int(self.device.raw_value) / ((1 << int(self.device.bits)) - 1)
        return fraction * self.scale + self.offset

    def close(self) -> None:
        """Release the SPI pins."""
        self.device.close()
        if self.simulated is not None:
            self.simulated.close()


class DistancePart(_ChipPart):
    """An HC-SR04 ultrasonic sensor: a sampled source of metres (0 until the first echo).

    On mock pins, ``simulated`` is the simulated sensor that echoes each trigger (from an object at the
    forced distance; nothing in range until forced).
    """

    what = "distance sensor"

    def __init__(self, *, spec: ChannelSpec, device: Any, simulated: SimulatedEcho | None = None) -> None:
        self.spec = spec
        self.device = device
        self.simulated = simulated

    def read(self) -> float:
        """The latest distance in metres (never blocks)."""
        return float(self.device.distance)

    def close(self) -> None:
        """Stop the sampling thread and release the pins."""
        self.device.close()
        if self.simulated is not None:
            self.simulated.close()


class DigitalOutputPart:
    """An LED or relay: a sink of bools."""

    def __init__(self, *, spec: ChannelSpec, device: Any) -> None:
        self.spec = spec
        self.device = device

    @property
    def state(self) -> bool:
        """Whether the output is on."""
        return bool(self.device.value)

    def set(self, value: object) -> bool:
        """Switch on (True) or off (False); returns the new state."""
        on = check_value(self.spec, value)
        try:
            if on:
                self.device.on()
            else:
                self.device.off()
        except Exception as exc:
            raise ActuatorError("failed", f"{self.spec.name}: {exc}") from exc
        return self.state

    def close(self) -> None:
        """Release the pin."""
        self.device.close()


class PwmOutputPart:
    """A PWM LED: a sink of brightness 0.0..1.0."""

    def __init__(self, *, spec: ChannelSpec, device: Any) -> None:
        self.spec = spec
        self.device = device

    @property
    def state(self) -> float:
        """The current brightness."""
        return float(self.device.value)

    def set(self, value: object) -> float:
        """Set the brightness; returns the new state."""
        level = check_value(self.spec, value)
        try:
            self.device.value = level
        except Exception as exc:
            raise ActuatorError("failed", f"{self.spec.name}: {exc}") from exc
        return self.state

    def close(self) -> None:
        """Release the pin."""
        self.device.close()


def _input_device(part: PartConfig, pin_factory: Any) -> Any:
    pin = part.pins["pin"]
    pull_up = part.options["pull_up"]
    active = part.options["active_high"] if pull_up is None else None
    cls = gpiozero.Button if part.type == "button" else gpiozero.DigitalInputDevice
    return cls(pin, pull_up=pull_up, active_state=active, bounce_time=None, pin_factory=pin_factory)


@contextlib.contextmanager
def _spi_bus_factory(pin_factory: Any) -> Iterator[None]:
    """While an SPI device is built: gpiozero's software SPI bus object asks for the global default
    factory even when its pins are given ``pin_factory`` (``SPISoftwareBus`` calls ``Device.__init__()``
    without it, gpiozero 2.0.1). Where no default is set, ours stands in for the construction only and
    the global is put back: the SDK never leaves a process-wide pin factory behind."""
    if gpiozero.Device.pin_factory is not None:
        yield
        return
    gpiozero.Device.pin_factory = pin_factory
    try:
        yield
    finally:
        gpiozero.Device.pin_factory = None


def _build(part: PartConfig, pin_factory: Any) -> Part:
    spec, opts, t = part.spec, part.options, part.type
    if t in ("button", "motion_sensor"):
        debounce_s = (part.debounce_ms or 0.0) / 1000.0
        return DigitalInputPart(spec=spec, device=_input_device(part, pin_factory), debounce_s=debounce_s)
    if t in ("led", "relay"):
        cls = gpiozero.LED if t == "led" else gpiozero.OutputDevice
        dev = cls(
            part.pins["pin"],
            active_high=opts["active_high"],
            initial_value=opts["initial"],
            pin_factory=pin_factory,
        )
        return DigitalOutputPart(spec=spec, device=dev)
    if t == "pwm_led":
        check_value(spec, float(opts["initial"]))
        dev = gpiozero.PWMLED(
            part.pins["pin"],
            active_high=opts["active_high"],
            initial_value=float(opts["initial"]),
            frequency=opts["frequency"],
            pin_factory=pin_factory,
        )
        return PwmOutputPart(spec=spec, device=dev)
    if t == "mcp3008":
        scale, offset = float(opts["scale"]), float(opts["offset"])
        adc = None
        if isinstance(pin_factory, MockFactory):  # the chip at the other end of the mock SPI pins
            try:
                chip = simulated_adc(pin_factory, opts["device"])
            except HardwareError as exc:
                _log.debug("%s: not simulated: %s", part.where, exc)
            else:
                adc = SimulatedAdcInput(chip, opts["adc_channel"], scale=scale, offset=offset)
        with _spi_bus_factory(pin_factory):
            dev = gpiozero.MCP3008(channel=opts["adc_channel"], device=opts["device"], pin_factory=pin_factory)
        return AnalogInputPart(spec=spec, device=dev, scale=scale, offset=offset, simulated=adc)
    if t == "distance_sensor":
        echo = None
        if isinstance(pin_factory, MockFactory):  # the sensor at the other end of the mock pins
            try:
                echo = simulated_echo(
                    pin_factory,
                    trigger=part.pins["trigger"],
                    echo=part.pins["echo"],
                    max_distance=float(opts["max_distance"]),
                )
            except HardwareError as exc:
                _log.debug("%s: not simulated: %s", part.where, exc)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PWMSoftwareFallback)  # advice to use pigpio; lgpio is fine
            dev = gpiozero.DistanceSensor(
                echo=part.pins["echo"],
                trigger=part.pins["trigger"],
                max_distance=opts["max_distance"],
                partial=True,
                pin_factory=pin_factory,
            )
        return DistancePart(spec=spec, device=dev, simulated=echo)
    if t == "simulated":
        return SimulatedSensor.from_part(part)
    raise ConfigError(f"{part.where}: unknown part type {t!r}")


def _build_custom(part: PartConfig, pin_factory: Any) -> Part:
    factory = load_driver(str(part.options["driver"]), where=part.where)
    try:
        obj = factory(part, pin_factory)
    except (ConfigError, HardwareError):
        raise
    except Exception as exc:
        raise HardwareError(f"{part.where}: driver {part.options['driver']} failed: {exc}") from exc
    spec = getattr(obj, "spec", None)
    if not isinstance(spec, ChannelSpec):
        raise HardwareError(f"{part.where}: driver returned {obj!r} without a ChannelSpec 'spec'")
    if spec.name != part.channel:
        raise HardwareError(f"{part.where}: driver's spec is named {spec.name!r}, not {part.channel!r}")
    wanted_sink = part.kind == "actuator"
    if (wanted_sink and not is_sink(obj)) or (not wanted_sink and not is_source(obj)):
        what = "a sink (spec, state, set, close)" if wanted_sink else "a source (spec, read, close)"
        raise HardwareError(f"{part.where}: driver returned {type(obj).__name__}, which is not {what}")
    return obj  # type: ignore[no-any-return]


def build_part(part: PartConfig, pin_factory: Any) -> Part:
    """The source or sink for ``part`` on ``pin_factory``; HardwareError naming the part on failure."""
    if part.type == "custom":
        return _build_custom(part, pin_factory)
    try:
        return _build(part, pin_factory)
    except (ConfigError, HardwareError, ActuatorError) as exc:
        raise HardwareError(f"{part.where}: {exc}") from exc
    except Exception as exc:  # gpiozero: pin in use, PWM unsupported, no SPI, ...
        raise HardwareError(f"{part.where}: cannot set up the {part.type}: {exc}") from exc
