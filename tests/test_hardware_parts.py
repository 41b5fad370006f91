"""Parts on gpiozero's MockFactory: every part type, sink validation, custom drivers, pin factories."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest
from gpiozero.pins.mock import MockFactory, MockPin, MockSPIDevice, MockTriggerPin

from device_sdk.errors import ActuatorError, ConfigError, HardwareError
from device_sdk.hardware.boards import parse_profile_text
from device_sdk.hardware.parts import (
    AnalogInputPart,
    DigitalInputPart,
    DigitalOutputPart,
    DistancePart,
    PwmOutputPart,
    build_part,
)
from device_sdk.hardware.pins import FIX_HINT, BoundedMockPWMPin, make_mock_factory, select_pin_factory
from device_sdk.hardware.profile import PartConfig
from device_sdk.hardware.signals import SimulatedSensor
from device_sdk.hardware.spec import ChannelSpec, check_value


def part(text: str) -> PartConfig:
    prof = parse_profile_text(f'[board]\nname = "t"\n[[parts]]\n{text}\n', source="t.toml")
    return prof.parts[0]


@pytest.fixture
def factory() -> Iterator[Any]:
    f = make_mock_factory()
    yield f
    f.close()


class MockMCP3008(MockSPIDevice):  # type: ignore[misc]
    """The chip side of an MCP3008 on mock SPI pins: answers single-ended conversions."""

    def __init__(self, factory: Any, select_pin: int = 8) -> None:
        super().__init__(11, 10, 9, select_pin, pin_factory=factory)
        self.inputs = [0.0] * 8  # fractions of Vref
        self.phase = "idle"

    def on_start(self) -> None:
        super().on_start()
        self.phase = "idle"

    def on_bit(self) -> None:
        if self.phase == "idle":
            if self.rx_buf[-1]:  # start bit
                self.phase = "mode"
            self.rx_buf: list[int] = []
        elif self.phase == "mode":
            self.phase = "channel"
            self.rx_buf = []
        elif self.phase == "channel" and len(self.rx_buf) == 3:
            raw = round(self.inputs[self.rx_word()] * 1023)
            self.tx_word(raw, 12)  # null bit, 10 data bits, padding
            self.phase = "result"


def test_button_and_motion_sensor_are_event_sources(factory: Any) -> None:
    button = build_part(part('type = "button"\nchannel = "b"\npin = 5'), factory)
    motion = build_part(part('type = "motion_sensor"\nchannel = "m"\npin = 6'), factory)
    assert isinstance(button, DigitalInputPart) and isinstance(motion, DigitalInputPart)
    assert (button.spec.kind, button.spec.type, button.debounce_s) == ("input", "bool", 0.05)
    seen: list[object] = []
    button.start(seen.append)
    assert button.read() is False
    factory.pin(5).drive_low()  # pulled up: pressed = low
    assert button.read() is True
    factory.pin(5).drive_high()
    motion.start(seen.append)
    factory.pin(6).drive_high()  # PIR output: motion = high
    assert seen == [True, False, True]
    button.stop()
    factory.pin(5).drive_low()
    assert seen == [True, False, True]
    button.close()
    motion.close()


def test_external_pull_down_button(factory: Any) -> None:
    b = build_part(part('type = "button"\nchannel = "b"\npin = 5\nactive_high = true'), factory)
    assert isinstance(b, DigitalInputPart)
    factory.pin(5).drive_high()
    assert b.read() is True
    b.close()


@pytest.mark.parametrize(("ptype", "extra"), [("led", ""), ("relay", "\nactive_high = false")])
def test_bool_outputs(factory: Any, ptype: str, extra: str) -> None:
    sink = build_part(part(f'type = "{ptype}"\nchannel = "o"\npin = 22{extra}'), factory)
    assert isinstance(sink, DigitalOutputPart)
    pin = factory.pin(22)
    off_level = ptype == "relay"  # the relay is active low
    assert sink.state is False and bool(pin.state) is off_level
    assert sink.set(True) is True and bool(pin.state) is not off_level
    assert sink.set(False) is False and bool(pin.state) is off_level
    with pytest.raises(ActuatorError) as info:
        sink.set(1)
    assert info.value.code == "bad-type"
    sink.close()


def test_pwm_led(factory: Any) -> None:
    sink = build_part(part('type = "pwm_led"\nchannel = "dim"\npin = 18'), factory)
    assert isinstance(sink, PwmOutputPart)
    assert sink.spec.min == 0.0 and sink.spec.max == 1.0
    assert sink.set(0.25) == 0.25 and factory.pin(18).state == 0.25
    assert sink.set(1) == 1.0
    for bad, code in [
        (1.5, "out-of-range"),
        (-0.1, "out-of-range"),
        (float("nan"), "out-of-range"),
        ("x", "bad-type"),
    ]:
        with pytest.raises(ActuatorError) as info:
            sink.set(bad)
        assert info.value.code == code
    assert factory.pin(18).state == 1.0
    sink.close()


def test_mcp3008_on_mock_spi() -> None:
    factory = MockFactory()  # the mock SPI chip needs its own pin classes on SPI pins
    chip = MockMCP3008(factory)
    chip.inputs[2] = 0.5
    source = build_part(
        part('type = "mcp3008"\nchannel = "t"\nadc_channel = 2\nscale = 330\noffset = -50\nunit = "C"'),
        factory,
    )
    assert isinstance(source, AnalogInputPart)
    assert source.read() == pytest.approx(512 / 1023 * 330 - 50)
    chip.inputs[2] = 0.0
    assert source.read() == pytest.approx(-50)
    chip.inputs[2] = 1.0
    assert source.read() == pytest.approx(280)
    source.close()
    chip.close()
    factory.close()


def test_distance_sensor_on_mock_echo() -> None:
    factory = MockFactory()
    echo = factory.pin(24)
    factory.pin(23, pin_class=MockTriggerPin, echo_pin=echo, echo_time=0.002)
    source = build_part(part('type = "distance_sensor"\nchannel = "d"\necho = 24\ntrigger = 23'), factory)
    assert isinstance(source, DistancePart)
    assert source.spec.unit == "m"
    first = source.read()  # never blocks: 0.0 until the first echo
    assert 0.0 <= first <= 1.0
    source.close()
    factory.close()


def test_simulated_part_stays_in_range_and_is_repeatable() -> None:
    drift = part('type = "simulated"\nchannel = "t"\nsignal = "drift"\nmin = 10\nmax = 35\nstart = 21\nstep = 2')
    a = SimulatedSensor.from_part(drift, rng=__import__("random").Random(7))
    b = SimulatedSensor.from_part(drift, rng=__import__("random").Random(7))
    values = [a.read() for _ in range(5000)]
    assert values == [b.read() for _ in range(5000)]
    assert all(10 <= v <= 35 for v in values) and len(set(values)) > 100
    noise = part(
        'type = "simulated"\nchannel = "s"\nsignal = "noise"\nmin = 20\nmax = 110\nstart = 38\n'
        "burst_level = 80\nburst_chance = 0.05\nburst_s = 1\nrate_hz = 10\nseed = 3"
    )
    s = build_part(noise, None)
    assert isinstance(s, SimulatedSensor)
    levels = [s.read() for _ in range(2000)]
    assert all(20 <= v <= 110 for v in levels)
    assert sum(v > 70 for v in levels) > 50 and sum(v < 45 for v in levels) > 500  # bursts and quiet
    s.force(99.0)
    assert s.read() == 99.0


def test_pwm_part_on_a_factory_without_pwm_names_the_part() -> None:
    factory = MockFactory(pin_class=MockPin)
    with pytest.raises(HardwareError, match=r"t.toml: part 1 \('dim', pwm_led\): cannot set up the pwm_led"):
        build_part(part('type = "pwm_led"\nchannel = "dim"\npin = 18'), factory)
    factory.close()


# -- custom drivers -----------------------------------------------------------------------------------


class FakeDht:
    """A custom source as a DHT22 driver would return it."""

    def __init__(self, config: PartConfig, pin_factory: Any) -> None:
        self.spec = config.spec
        self.pin_factory = pin_factory
        self.blocking_read = True
        self.closed = False

    def read(self) -> float:
        return 21.5

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def driver_module(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    mod = types.ModuleType("acme_drivers")
    mod.dht22 = FakeDht  # type: ignore[attr-defined]
    mod.broken = lambda config, pin_factory: 1 / 0  # type: ignore[attr-defined]
    mod.nameless = lambda config, pin_factory: object()  # type: ignore[attr-defined]
    mod.sink_for_source = lambda config, pin_factory: FakeDht(config, pin_factory)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "acme_drivers", mod)
    return mod


def test_custom_driver(factory: Any, driver_module: types.ModuleType) -> None:
    cfg = part('type = "custom"\nchannel = "humidity"\ndriver = "acme_drivers:dht22"\npin = 4\nunit = "%"\nmodel = 22')
    assert cfg.pins == {"pin": 4} and cfg.options["model"] == 22 and cfg.kind == "sensor"
    src = build_part(cfg, factory)
    assert isinstance(src, FakeDht) and src.pin_factory is factory
    assert (src.spec.name, src.spec.unit, src.read()) == ("humidity", "%", 21.5)


@pytest.mark.parametrize(
    ("driver", "kind", "error", "match"),
    [
        (
            "acme_drivers:broken",
            "sensor",
            HardwareError,
            "driver acme_drivers:broken failed: division by zero",
        ),
        ("acme_drivers:nameless", "sensor", HardwareError, "without a ChannelSpec"),
        ("acme_drivers:sink_for_source", "actuator", HardwareError, "FakeDht, which is not a sink"),
        ("acme_drivers:missing", "sensor", ConfigError, "has no 'missing'"),
        ("no_such_module_xyz:f", "sensor", ConfigError, "cannot import driver module 'no_such_module_xyz'"),
    ],
)
def test_custom_driver_errors(
    factory: Any, driver_module: types.ModuleType, driver: str, kind: str, error: type[Exception], match: str
) -> None:
    cfg = part(f'type = "custom"\nchannel = "c"\ndriver = "{driver}"\nkind = "{kind}"')
    with pytest.raises(error, match=match) as info:
        build_part(cfg, factory)
    assert "t.toml: part 1 ('c', custom)" in str(info.value)


# -- values and pin factories ------------------------------------------------------------------------


def test_check_value() -> None:
    spec = ChannelSpec(name="mode", kind="actuator", type="enum", values=("auto", "off"))
    assert check_value(spec, "auto") == "auto"
    with pytest.raises(ActuatorError, match="takes one of auto, off") as info:
        check_value(spec, "on")
    assert info.value.code == "out-of-range"
    count = ChannelSpec(name="n", kind="actuator", type="int", min=0, max=3)
    assert check_value(count, 3) == 3
    for bad in (True, 1.5):
        with pytest.raises(ActuatorError) as info:
            check_value(count, bad)
        assert info.value.code == "bad-type"


def test_select_pin_factory() -> None:
    f = select_pin_factory("mock", environ={})
    assert isinstance(f, MockFactory) and f.pin_class is BoundedMockPWMPin
    f.close()
    f = select_pin_factory(None, default="lgpio", environ={"GPIOZERO_PIN_FACTORY": "mock"})
    assert isinstance(f, MockFactory)  # the environment beats the profile's preference
    f.close()
    with pytest.raises(HardwareError, match="unknown pin factory 'gpiod'"):
        select_pin_factory("gpiod", environ={})


def test_pin_factory_error_names_the_fix() -> None:
    # not a Pi: lgpio (not installed here) cannot load
    with pytest.raises(HardwareError) as info:
        select_pin_factory("lgpio", environ={})
    assert FIX_HINT in str(info.value) and "GPIOZERO_PIN_FACTORY=mock" in str(info.value)
    with pytest.raises(HardwareError) as info:
        select_pin_factory(environ={})  # automatic: lgpio, rpigpio, pigpio all fail off a Pi
    assert "no GPIO pin factory works here" in str(info.value) and FIX_HINT in str(info.value)
    assert "lgpio is not installed" in str(info.value) and "No module named" not in str(info.value)


def test_mock_pin_history_is_bounded(factory: Any) -> None:
    sink = build_part(part('type = "led"\nchannel = "o"\npin = 22'), factory)
    assert isinstance(sink, DigitalOutputPart)
    for i in range(10000):
        sink.set(i % 2 == 0)
    assert len(factory.pin(22).states) == 4096
    sink.close()
