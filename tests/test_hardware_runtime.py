"""The hardware runtime on mock pins: profiles, sampling, debounce, the pairing button, the
status LED and the simulated board. Every wait is bounded."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import gpiozero
import pytest
from gpiozero.pins.mock import MockFactory

from device_sdk.errors import ActuatorError, HardwareError, StateError
from device_sdk.hardware import (
    HardwareRuntime,
    LedPattern,
    PairingButton,
    SimulatedBoard,
    StatusLed,
    builtin_profile_names,
    load_profile,
    make_mock_factory,
    parse_profile_text,
    pattern_steps,
    sim_runtime,
)

BOARD = """
[board]
name = "test"
[pairing_button]
pin = 17
hold_s = 0.3
debounce_ms = 20
[status_led]
pin = 27
[[parts]]
type = "button"
channel = "doorbell"
pin = 5
debounce_ms = 30
[[parts]]
type = "relay"
channel = "relay"
pin = 22
"""


class Recorder:
    """Collects emitted values and the threads they arrived on."""

    def __init__(self) -> None:
        self.values: list[tuple[str, object]] = []
        self.threads: set[int] = set()
        self.changed = asyncio.Event()

    def __call__(self, name: str, value: object) -> None:
        self.values.append((name, value))
        self.threads.add(threading.get_ident())
        self.changed.set()

    def of(self, name: str) -> list[object]:
        return [v for n, v in self.values if n == name]

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 2.0) -> None:
        async with asyncio.timeout(timeout):
            while not predicate():
                self.changed.clear()
                await self.changed.wait()


async def until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.005)


@pytest.mark.parametrize("name", builtin_profile_names())
async def test_every_builtin_profile_runs_on_mock_pins(name: str) -> None:
    factory = make_mock_factory()
    rt = HardwareRuntime(load_profile(name), pin_factory=factory)
    rec = Recorder()
    await rt.start(rec)
    assert rt.button is not None and rt.status_led is not None
    rt.status_led.show(LedPattern.WINDOW_OPEN)
    await rt.stop()
    # every pin is released: the same pins can be claimed again
    gpiozero.LED(27, pin_factory=factory).close()
    gpiozero.Button(17, pin_factory=factory).close()
    factory.close()


async def test_pi_profile_with_env_mock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    rt = HardwareRuntime(load_profile("pi-5"))
    assert isinstance(rt.pin_factory, MockFactory)
    await rt.stop()


async def test_sim_board_samples_and_emits_on_the_loop_thread() -> None:
    rt = sim_runtime()
    assert isinstance(rt.pin_factory, MockFactory)
    rec = Recorder()
    await rt.start(rec)
    assert {n for n, _ in rec.values} == {"button", "motion"}  # event sources: current value at once
    # sampled sources: first reading as soon as the loop runs
    await rec.wait_for(lambda: {n for n, _ in rec.values} == {"temperature", "sound_level", "button", "motion"}, 0.5)
    await rec.wait_for(lambda: len(rec.of("temperature")) >= 4)  # 10 Hz: about 0.3 s
    await rt.stop()
    temps = rec.of("temperature")
    assert all(isinstance(t, float) and 10.0 <= t <= 35.0 for t in temps)
    assert all(isinstance(s, float) and 20.0 <= s <= 110.0 for s in rec.of("sound_level"))
    assert rec.threads == {threading.get_ident()}
    count = len(rec.values)
    await asyncio.sleep(0.15)
    assert len(rec.values) == count  # nothing after stop


async def test_sinks_through_the_runtime() -> None:
    rt = sim_runtime()
    sim = SimulatedBoard(rt)
    assert set(rt.sinks) == {"led", "night_light"}
    assert rt.set("led", True) is True and sim.output("led") is True
    assert bool(sim.pin("led").state) is True
    assert rt.set("night_light", 0.4) == 0.4
    with pytest.raises(ActuatorError, match=r"takes 0.0..1.0, not 2") as info:
        rt.set("night_light", 2)
    assert info.value.code == "out-of-range"
    with pytest.raises(HardwareError, match="no actuator named 'temperature'"):
        rt.set("temperature", 1.0)
    await rt.stop()


async def test_bouncy_button_gives_one_event_per_press() -> None:
    rt = HardwareRuntime(parse_profile_text(BOARD, source="t"), pin_factory=make_mock_factory())
    rec = Recorder()
    await rt.start(rec)
    pin = rt.pin_factory.pin(5)
    for _ in range(5):  # contact bounce while pressing: ends low (pressed)
        pin.drive_low()
        pin.drive_high()
    pin.drive_low()
    await asyncio.sleep(0.1)
    for _ in range(5):  # and while releasing
        pin.drive_high()
        pin.drive_low()
    pin.drive_high()
    await asyncio.sleep(0.1)
    assert rec.of("doorbell") == [False, True, False]
    await rt.stop()


async def test_callbacks_from_another_thread_arrive_on_the_loop() -> None:
    rt = sim_runtime()
    sim = SimulatedBoard(rt)
    rec = Recorder()
    presses: list[int] = []
    await rt.start(rec, on_short_press=lambda: presses.append(threading.get_ident()))

    def press_from_thread() -> None:
        sim.set_input("button", True)
        sim.set_input("pairing_button", True)

    worker = threading.Thread(target=press_from_thread)
    worker.start()
    worker.join(timeout=2)
    await rec.wait_for(lambda: rec.of("button")[-1] is True)
    sim.set_input("pairing_button", False)
    await until(lambda: bool(presses))
    assert rec.threads == {threading.get_ident()}
    assert presses == [threading.get_ident()]
    await rt.stop()


async def test_pairing_button_short_and_long_press() -> None:
    rt = HardwareRuntime(parse_profile_text(BOARD, source="t"), pin_factory=make_mock_factory())
    events: list[str] = []
    await rt.start(
        Recorder(), on_short_press=lambda: events.append("short"), on_long_press=lambda: events.append("long")
    )
    sim = SimulatedBoard(rt)
    await sim.press("pairing_button", 0.1)
    await until(lambda: events == ["short"])
    assert rt.button is not None and not rt.button.is_pressed
    sim.set_input("pairing_button", True)
    await until(lambda: events == ["short", "long"])  # fires while still held (hold_s = 0.3)
    assert rt.button.is_pressed
    await asyncio.sleep(0.1)
    sim.set_input("pairing_button", False)
    await asyncio.sleep(0.1)
    assert events == ["short", "long"]  # no short press after the long one
    sim.set_input("pairing_button", True)  # a glitch, released before the loop runs again: far
    sim.set_input("pairing_button", False)  # shorter than the 20 ms debounce however loaded the machine
    await asyncio.sleep(0.1)
    assert events == ["short", "long"]
    await rt.stop()


async def test_standalone_pairing_button_with_bounces() -> None:
    factory = make_mock_factory()
    events: list[str] = []
    button = PairingButton(
        17,
        on_short_press=lambda: events.append("short"),
        on_long_press=lambda: events.append("long"),
        hold_s=5.0,
        debounce_ms=20,
        pin_factory=factory,
    )
    pin = factory.pin(17)
    for _ in range(4):
        pin.drive_low()
        pin.drive_high()
    pin.drive_low()
    await asyncio.sleep(0.08)
    for _ in range(4):
        pin.drive_high()
        pin.drive_low()
    pin.drive_high()
    await until(lambda: bool(events))
    await asyncio.sleep(0.05)
    assert events == ["short"]
    button.close()
    factory.close()


async def test_runtime_cannot_start_twice() -> None:
    rt = sim_runtime()
    await rt.start(Recorder())
    with pytest.raises(StateError):
        await rt.start(Recorder())
    await rt.stop()


# -- status LED ------------------------------------------------------------------------------------


def test_pattern_steps() -> None:
    assert pattern_steps(LedPattern.OFF) == ((False, None),)
    assert pattern_steps(LedPattern.PAIRED) == ((True, None),)
    assert pattern_steps(LedPattern.WINDOW_OPEN) == ((True, 0.5), (False, 0.5))
    assert pattern_steps(LedPattern.PAIRING) == ((True, 0.1), (False, 0.1))
    error = pattern_steps(LedPattern.ERROR)
    assert [lit for lit, _ in error] == [True, False] * 3
    assert sum(s for _, s in error if s) == pytest.approx(3 * 0.3 + 1.0)
    for p in LedPattern:  # every cycle ends dark or holds: repeating looks right
        assert pattern_steps(p)[-1][1] is None or not pattern_steps(p)[-1][0]


class FakeSleep:
    """An injected sleep that records durations and the LED level at each step."""

    def __init__(self) -> None:
        self.log: list[tuple[bool, float]] = []
        self.led: StatusLed | None = None
        self.stop_after = 8
        self.done = asyncio.Event()

    async def __call__(self, seconds: float) -> None:
        assert self.led is not None
        self.log.append((self.led.is_lit, seconds))
        if len(self.log) >= self.stop_after:
            self.done.set()
            await asyncio.Event().wait()  # park until cancelled
        await asyncio.sleep(0)


@pytest.mark.parametrize("pattern", [LedPattern.WINDOW_OPEN, LedPattern.PAIRING, LedPattern.ERROR])
async def test_led_pattern_cycles_with_injected_sleep(pattern: LedPattern) -> None:
    factory = make_mock_factory()
    sleep = FakeSleep()
    led = StatusLed(27, pin_factory=factory, sleep=sleep)
    sleep.led = led
    led.show(pattern)
    async with asyncio.timeout(2):
        await sleep.done.wait()
    steps = list(pattern_steps(pattern))
    expected = (steps * 8)[: sleep.stop_after]
    assert sleep.log == expected
    # the pin went through the same levels
    levels = [bool(s.state) for s in factory.pin(27).states][1:]
    assert len(levels) >= sleep.stop_after - 1
    assert levels == [lit for lit, _ in expected][: len(levels)]
    await led.close()
    factory.close()


async def test_led_steady_patterns_and_switching() -> None:
    factory = make_mock_factory()
    led = StatusLed(27, pin_factory=factory)
    pin = factory.pin(27)
    led.show(LedPattern.PAIRED)
    assert led.is_lit and led.pattern is LedPattern.PAIRED
    led.show(LedPattern.PAIRING)
    async with asyncio.timeout(5):  # real time, 0.1 s on / 0.1 s off (durations: the test above)
        while len(pin.states) < 2 + 5:
            await asyncio.sleep(0.02)
    led.show(LedPattern.OFF)
    assert not led.is_lit
    await asyncio.sleep(0.15)
    changes = list(pin.states)[2:]  # after "on" for PAIRED
    lits = [bool(s.state) for s in changes]
    assert lits[:5] == [False, True, False, True, False]
    assert not pin.state
    await led.close()
    factory.close()


async def test_led_close_turns_it_off_and_releases_the_pin() -> None:
    factory = make_mock_factory()
    led = StatusLed(27, pin_factory=factory)
    led.show(LedPattern.WINDOW_OPEN)
    await asyncio.sleep(0.01)
    assert led.is_lit
    await led.close()
    assert not factory.pin(27).state
    gpiozero.LED(27, pin_factory=factory).close()
    factory.close()


# -- the simulated board ---------------------------------------------------------------------------


async def test_simulated_board_controls() -> None:
    rt = sim_runtime()
    sim = SimulatedBoard(rt)
    rec = Recorder()
    await rt.start(rec)
    sim.force("temperature", 30.5)
    await rec.wait_for(lambda: rec.of("temperature")[-1:] == [30.5])
    sim.set_input("motion", True)
    await rec.wait_for(lambda: rec.of("motion")[-1] is True)
    assert sim.output("status_led") is False
    with pytest.raises(HardwareError, match="no sensor 'led' that can be forced"):
        sim.force("led", 1.0)
    with pytest.raises(HardwareError, match="no button or motion sensor"):
        sim.set_input("temperature", True)
    with pytest.raises(HardwareError, match="no part named 'nope'"):
        sim.pin("nope")
    await rt.stop()


async def test_simulated_board_needs_mock_pins() -> None:
    class NotMock:
        def close(self) -> None:
            pass

    rt = HardwareRuntime(parse_profile_text('[board]\nname = "x"\n', source="x"), pin_factory=NotMock())
    with pytest.raises(HardwareError, match="MockFactory"):
        SimulatedBoard(rt)
    await rt.stop()


# -- custom sources on the runtime -------------------------------------------------------------------


class SlowSource:
    """A custom source whose read blocks (read in a worker thread) and sometimes fails."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.blocking_read = True
        self.threads: set[int] = set()
        self.calls = 0

    def read(self) -> float:
        self.calls += 1
        self.threads.add(threading.get_ident())
        if self.calls == 2:
            raise OSError("checksum error")
        return float(self.calls)

    def close(self) -> None:
        pass


async def test_blocking_and_failing_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    import types

    made: list[SlowSource] = []
    mod = types.ModuleType("slow_driver")

    def factory(config: Any, pin_factory: Any) -> SlowSource:
        made.append(SlowSource(config.spec))
        return made[-1]

    mod.make = factory  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "slow_driver", mod)
    text = '[board]\nname = "x"\n[[parts]]\ntype = "custom"\nchannel = "h"\ndriver = "slow_driver:make"\nrate_hz = 50\n'
    rt = HardwareRuntime(parse_profile_text(text, source="x"), pin_factory=make_mock_factory())
    rec = Recorder()
    await rt.start(rec)
    await rec.wait_for(lambda: len(rec.of("h")) >= 3)
    await rt.stop()
    assert rec.of("h")[:3] == [1.0, 3.0, 4.0]  # the failed read is skipped, sampling goes on
    assert threading.get_ident() not in made[0].threads
