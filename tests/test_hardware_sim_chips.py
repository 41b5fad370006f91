"""The simulated MCP3008 and HC-SR04 at the other end of gpiozero's mock pins: the parts read what is
forced through gpiozero's own software SPI and echo timing, as on a Pi."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import gpiozero
import pytest
from gpiozero.pins.mock import MockFactory, MockTriggerPin

from device_sdk.errors import HardwareError
from device_sdk.hardware import HardwareRuntime, SimulatedBoard
from device_sdk.hardware.boards import parse_profile_text
from device_sdk.hardware.parts import AnalogInputPart, DistancePart, build_part
from device_sdk.hardware.pins import make_mock_factory
from device_sdk.hardware.profile import PartConfig
from device_sdk.hardware.sim_chips import SimulatedMcp3008, simulated_adc

pytestmark = pytest.mark.timeout(30)


def part(text: str) -> PartConfig:
    return parse_profile_text(f'[board]\nname = "t"\n[[parts]]\n{text}\n', source="t.toml").parts[0]


@pytest.fixture
def factory() -> Iterator[Any]:
    f = make_mock_factory()
    yield f
    f.close()


def test_an_adc_input_reads_the_forced_value_through_spi(factory: Any) -> None:
    source = build_part(part('type = "mcp3008"\nchannel = "t"\nadc_channel = 5\nscale = 330\noffset = -50'), factory)
    assert isinstance(source, AnalogInputPart) and source.simulated is not None
    assert source.read() == pytest.approx(-50)  # 0 V until forced
    source.force(25.0)
    code = round(75 / 330 * 1023)
    assert source.read() == pytest.approx(code / 1023 * 330 - 50) and source.forced == 25.0
    source.force(280.0)
    assert source.read() == pytest.approx(280)  # full scale: code 1023
    with pytest.raises(HardwareError, match=r"reads -50\.\.280"):
        source.force(300.0)
    source.force(None)
    assert source.read() == pytest.approx(-50) and source.forced is None
    source.close()


def test_inputs_of_both_chips_share_the_bus(factory: Any) -> None:
    a = build_part(part('type = "mcp3008"\nchannel = "a"\nadc_channel = 0'), factory)
    b = build_part(part('type = "mcp3008"\nchannel = "b"\nadc_channel = 0\ndevice = 1'), factory)
    c = build_part(part('type = "mcp3008"\nchannel = "c"\nadc_channel = 7'), factory)
    assert isinstance(a, AnalogInputPart) and isinstance(b, AnalogInputPart) and isinstance(c, AnalogInputPart)
    a.force(0.25)
    b.force(0.75)
    c.force(1.0)
    assert [a.read(), b.read(), c.read()] == pytest.approx([256 / 1023, 767 / 1023, 1.0])
    for source in (a, b, c):
        source.close()


def test_differential_reads_give_the_difference(factory: Any) -> None:
    chip = simulated_adc(factory, 0)
    assert isinstance(chip, SimulatedMcp3008) and simulated_adc(factory, 0) is chip  # one per CE
    chip.levels[2], chip.levels[3] = 0.75, 0.25
    adc = gpiozero.MCP3008(channel=2, differential=True, pin_factory=factory)
    try:
        assert adc.raw_value == round(0.5 * 1023)
        chip.levels[2] = 0.1  # below its pair: clamped to 0, as the chip reads it
        assert adc.raw_value == 0
    finally:
        adc.close()


def test_a_distance_sensor_measures_the_forced_distance(factory: Any) -> None:
    cfg = part('type = "distance_sensor"\nchannel = "d"\necho = 24\ntrigger = 23\nmax_distance = 2.0')
    source = build_part(cfg, factory)
    assert isinstance(source, DistancePart) and source.simulated is not None
    source.force(0.5)
    deadline = time.monotonic() + 10
    while source.read() != pytest.approx(0.5, abs=1e-6):  # the sensor averages a few echoes
        assert time.monotonic() < deadline, source.read()
        time.sleep(0.05)
    with pytest.raises(HardwareError, match=r"measures 0\.\.2 m"):
        source.force(3.0)
    source.close()


def test_pins_wired_by_someone_else_are_left_alone() -> None:
    """A test that wires its own mock chip keeps it: the part is then not simulated."""
    factory = MockFactory()
    echo = factory.pin(24)
    factory.pin(23, pin_class=MockTriggerPin, echo_pin=echo, echo_time=0.002)
    source = build_part(part('type = "distance_sensor"\nchannel = "d"\necho = 24\ntrigger = 23'), factory)
    assert isinstance(source, DistancePart) and source.simulated is None
    with pytest.raises(HardwareError, match="only a simulated one can be forced"):
        source.force(0.5)
    source.close()
    factory.close()


async def test_the_simulated_board_forces_every_sensor_kind() -> None:
    profile = parse_profile_text(
        '[board]\nname = "mix"\npin_factory = "mock"\n'
        '[[parts]]\ntype = "mcp3008"\nchannel = "soil"\nadc_channel = 1\nscale = 100.0\nmin = 0\nmax = 100\n'
        '[[parts]]\ntype = "distance_sensor"\nchannel = "level"\necho = 24\ntrigger = 23\n'
        '[[parts]]\ntype = "simulated"\nchannel = "temp"\nsignal = "drift"\nmin = 0\nmax = 40\n'
        '[[parts]]\ntype = "relay"\nchannel = "pump"\npin = 22\n',
        source="mix.toml",
    )
    runtime = HardwareRuntime(profile)
    board = SimulatedBoard(runtime)
    try:
        assert board.simulated_sensors() == {"soil": None, "level": None, "temp": None}
        board.force("soil", 50.0)
        board.force("temp", 20.0)
        assert board.simulated_sensors() == {"soil": 50.0, "level": None, "temp": 20.0}
        soil = runtime.sources["soil"]
        assert isinstance(soil, AnalogInputPart) and soil.read() == pytest.approx(512 / 1023 * 100)
        with pytest.raises(HardwareError, match=r"'soil' takes values in 0\.\.100, not 101"):
            board.force("soil", 101.0)
        with pytest.raises(HardwareError, match="no sensor 'pump' that can be forced"):
            board.force("pump", 1.0)
    finally:
        await runtime.stop()
