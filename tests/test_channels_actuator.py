"""Actuator channels end to end: device-side sessions and calls against ActuatorClient."""

from __future__ import annotations

import asyncio
from typing import Any

import cbor2
import pytest

from device_sdk.channels import (
    ACTUATOR_PROTOCOL,
    Actuator,
    ActuatorAnswer,
    ActuatorBusy,
    ActuatorClient,
    ActuatorSession,
    ActuatorState,
    CallsReady,
    ChannelRegistry,
    PeerInfo,
    RegistryEvent,
    run_call,
    run_call_sync,
)
from device_sdk.channels.runner import start_call
from device_sdk.errors import ActuatorError, ChannelError, ConfigError


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def peer(n: int = 1, admin: bool = False) -> PeerInfo:
    return PeerInfo(fp=bytes([n]) * 32, role="admin" if admin else "user", name=f"c{n}")


def wire(frame: Any) -> Any:
    return cbor2.loads(cbor2.dumps(frame))


class Pair:
    """One actuator channel: the device-side session and the controller-side client."""

    def __init__(self, registry: ChannelRegistry, name: str, n: int = 1, admin: bool = False) -> None:
        session = registry.open_session(name, ACTUATOR_PROTOCOL, peer=peer(n, admin), now=0.0)
        assert isinstance(session, ActuatorSession)
        self.registry = registry
        self.session = session
        self.client = ActuatorClient()

    def send(self, frame: Any) -> None:
        self.session.receive_frame(wire(frame), now=0.0)

    def pump(self) -> list[ActuatorAnswer | ActuatorState | None]:
        return [self.client.receive(wire(f)) for f in self.session.next_frames()]

    def request(self, frame: dict[str, Any]) -> ActuatorAnswer:
        """Send a raw request, run the calls it makes, return the answer."""
        self.send(frame)
        run_all(self.registry)
        frames = [wire(f) for f in self.session.next_frames()]
        answers = [f for f in frames if "id" in f]
        assert len(answers) == 1, frames
        from device_sdk.channels import parse_answer

        return parse_answer(answers[0])

    def call(self, op: str, arg: Any) -> ActuatorAnswer:
        pending = self.client.set(arg) if op == "set" else self.client.do(arg)
        self.send(pending.frame)
        run_all(self.registry)
        results = [r for r in self.pump() if isinstance(r, ActuatorAnswer)]
        assert len(results) == 1
        assert results[0].id == pending.id
        return results[0]


def state(registry: ChannelRegistry, name: str) -> Any:
    actuator = registry[name]
    assert isinstance(actuator, Actuator)
    return actuator.value


def run_all(registry: ChannelRegistry) -> None:
    while calls := registry.take_calls():
        for call in calls:
            run_call_sync(call, registry.clock())


def make() -> tuple[ChannelRegistry, Clock]:
    clock = Clock()
    return ChannelRegistry(device_name="Lab", model="m1", clock=clock), clock


def test_set_answers_caller_and_sends_state_to_others() -> None:
    registry, clock = make()
    seen: list[Any] = []

    def set_led(value: bool) -> None:
        seen.append(value)

    led = registry.actuator("led", type="bool", initial=False, handler=set_led)
    a, b = Pair(registry, "led", 1), Pair(registry, "led", 2)
    assert a.pump() == [ActuatorState(False, clock.now)]
    assert b.pump() == [ActuatorState(False, clock.now)]
    clock.now += 1
    answer = a.call("set", True)
    assert answer.ok and answer.result() is True and seen == [True]
    assert led.value is True and a.client.state == ActuatorState(True, None)
    assert a.pump() == []  # no state frame for its own request
    assert b.pump() == [ActuatorState(True, clock.now)]
    assert b.client.state == ActuatorState(True, clock.now)


def test_setting_the_same_state_sends_no_state_frame() -> None:
    registry, _ = make()
    registry.actuator("led", type="bool", initial=False, handler=lambda v: None)
    a, b = Pair(registry, "led", 1), Pair(registry, "led", 2)
    a.pump(), b.pump()
    assert a.call("set", False).ok
    assert b.pump() == []


def test_handler_may_return_the_actual_state() -> None:
    registry, _ = make()
    registry.actuator("dimmer", type="int", min=0, max=100, initial=0, handler=lambda v: min(v, 80))
    pair = Pair(registry, "dimmer")
    pair.pump()
    assert pair.call("set", 95).result() == 80
    assert state(registry, "dimmer") == 80


@pytest.mark.parametrize(
    ("kwargs", "bad", "code"),
    [
        ({"type": "float", "initial": 0.0, "min": 0, "max": 10}, "3", "bad-type"),
        ({"type": "float", "initial": 0.0, "min": 0, "max": 10}, True, "bad-type"),
        ({"type": "float", "initial": 0.0, "min": 0, "max": 10}, 10.5, "out-of-range"),
        ({"type": "float", "initial": 0.0, "min": 0, "max": 10}, -1, "out-of-range"),
        ({"type": "float", "initial": 0.0}, float("inf"), "out-of-range"),
        ({"type": "int", "initial": 0, "min": 0, "max": 10}, 2.5, "bad-type"),
        ({"type": "int", "initial": 0, "min": 0, "max": 10}, 11, "out-of-range"),
        ({"type": "int", "initial": 0}, False, "bad-type"),
        ({"type": "bool", "initial": False}, 1, "bad-type"),
        ({"type": "bool", "initial": False}, "true", "bad-type"),
        ({"type": "text", "initial": ""}, 5, "bad-type"),
        ({"type": "text", "initial": ""}, b"x", "bad-type"),
        ({"type": "enum", "values": ["a", "b"], "initial": "a"}, "c", "out-of-range"),
        ({"type": "enum", "values": ["a", "b"], "initial": "a"}, 1, "bad-type"),
        ({"type": "bytes", "initial": b""}, "text", "bad-type"),
        ({"type": "map", "initial": {}}, [1, 2], "bad-type"),
        ({"type": "map", "initial": {}}, {1: 2}, "bad-type"),
        ({"type": "bool", "initial": False}, None, "bad-type"),
    ],
)
def test_validation_errors(kwargs: dict[str, Any], bad: Any, code: str) -> None:
    registry, _ = make()
    calls: list[Any] = []
    registry.actuator("thing", handler=calls.append, **kwargs)
    pair = Pair(registry, "thing")
    pair.pump()
    answer = pair.request({"id": 7, "set": bad})
    assert (answer.id, answer.ok, answer.code) == (7, False, code)
    assert answer.message
    with pytest.raises(ActuatorError) as info:
        answer.result()
    assert info.value.code == code
    assert calls == []


@pytest.mark.parametrize(
    ("kwargs", "good", "stored"),
    [
        ({"type": "float", "initial": 0.0}, 3, 3.0),
        ({"type": "int", "initial": 0}, 4.0, 4),
        ({"type": "text", "initial": ""}, "hi", "hi"),
        ({"type": "bytes", "initial": b""}, b"\x00\x01", b"\x00\x01"),
        ({"type": "map", "initial": {}}, {"x": [1, 2]}, {"x": [1, 2]}),
        ({"type": "enum", "values": ["a", "b"], "initial": "a"}, "b", "b"),
    ],
)
def test_valid_values_of_every_type(kwargs: dict[str, Any], good: Any, stored: Any) -> None:
    registry, _ = make()
    got: list[Any] = []
    registry.actuator("thing", handler=got.append, **kwargs)
    pair = Pair(registry, "thing")
    pair.pump()
    assert pair.call("set", good).result() == stored
    assert got == [stored] and type(got[0]) is type(stored)


def test_handler_failure_busy_and_custom_codes() -> None:
    registry, _ = make()
    mode = {"raise": None}

    def handler(value: int) -> None:
        exc = mode["raise"]
        if exc is not None:
            raise exc

    registry.actuator("motor", type="int", initial=0, handler=handler)
    pair = Pair(registry, "motor")
    pair.pump()
    mode["raise"] = RuntimeError("stalled")  # type: ignore[assignment]
    answer = pair.call("set", 5)
    assert (answer.code, answer.message) == ("failed", "stalled")
    assert state(registry, "motor") == 0
    mode["raise"] = ActuatorBusy("moving")  # type: ignore[assignment]
    assert (pair.call("set", 5).code, pair.call("set", 5).message) == ("busy", "moving")
    mode["raise"] = ActuatorError("forbidden", "locked")  # type: ignore[assignment]
    assert pair.call("set", 5).code == "forbidden"
    mode["raise"] = ActuatorError("weird-code", "x")  # type: ignore[assignment]
    assert pair.call("set", 5).code == "failed"
    mode["raise"] = None
    assert pair.call("set", 5).result() == 5


def test_handler_returning_a_bad_state_fails() -> None:
    registry, _ = make()
    registry.actuator("led", type="bool", initial=False, handler=lambda v: "on")
    pair = Pair(registry, "led")
    pair.pump()
    answer = pair.call("set", True)
    assert answer.code == "failed" and state(registry, "led") is False


def test_actions_stateful_and_stateless() -> None:
    registry, clock = make()
    fed: list[str] = []
    feeder = registry.actuator("feeder", actions={"feed": lambda: fed.append("x")})
    assert not feeder.stateful and feeder.descriptor.type == "enum"
    assert feeder.descriptor.actions == ("feed",) and feeder.descriptor.extra["settable"] is False
    pair = Pair(registry, "feeder")
    assert pair.pump() == []  # no state to send on open
    answer = pair.call("do", "feed")
    assert answer.ok and not answer.has_value and answer.result() is None and fed == ["x"]
    assert pair.call("do", "dance").code == "unknown-op"
    assert pair.call("set", "feed").code == "unknown-op"

    door = registry.actuator(
        "door",
        type="enum",
        values=["open", "closed"],
        initial="closed",
        actions={
            "toggle": lambda: "open" if state(registry, "door") == "closed" else "closed",
            "noop": lambda: None,
        },
    )
    d1, d2 = Pair(registry, "door", 1), Pair(registry, "door", 2)
    d1.pump(), d2.pump()
    assert d1.call("do", "toggle").result() == "open"
    assert d1.call("do", "noop").result() == "open"
    assert d2.pump() == [ActuatorState("open", clock.now)]
    assert door.value == "open"


def test_malformed_requests() -> None:
    registry, _ = make()
    registry.actuator("led", type="bool", initial=False, handler=lambda v: None, actions={"blink": lambda: None})
    pair = Pair(registry, "led")
    pair.pump()
    assert pair.request({"id": 1, "set": True, "do": "blink"}).code == "bad-type"
    assert pair.request({"id": 2}).code == "unknown-op"
    assert pair.request({"id": 3, "do": 5}).code == "bad-type"
    for frame in (
        {"set": True},
        {"id": -1, "set": True},
        {"id": "1", "set": True},
        {"id": True},
        [1],
        "x",
        None,
        3,
    ):
        pair.send(frame)
    assert pair.session.next_frames() == []
    assert registry.take_calls() == []


def test_report_sends_state_to_every_channel_and_coalesces() -> None:
    registry, _ = make()
    led = registry.actuator("led", type="bool", initial=False, handler=lambda v: None)
    a, b = Pair(registry, "led", 1), Pair(registry, "led", 2)
    a.pump()
    led.report(True, t=10.0)
    led.report(True, t=11.0)  # no change, no frame
    assert a.pump() == [ActuatorState(True, 10.0)]
    led.report(False, t=12.0)
    led.report(True, t=13.0)
    assert a.pump() == [ActuatorState(True, 13.0)]  # only the newest pending state frame
    assert b.pump() == [ActuatorState(True, 13.0)]
    with pytest.raises(ValueError):
        led.report("on")
    stateless = registry.actuator("bell", actions={"ring": lambda: None})
    with pytest.raises(ChannelError):
        stateless.report("x")


def test_calls_on_one_actuator_run_one_at_a_time() -> None:
    registry, _ = make()
    events: list[RegistryEvent] = []
    registry.add_listener(events.append)
    registry.actuator("motor", type="int", initial=0, handler=lambda v: None)
    registry.actuator("led", type="bool", initial=False, handler=lambda v: None)
    motor, led = Pair(registry, "motor", 1), Pair(registry, "led", 2)
    motor.send({"id": 1, "set": 1})
    motor.send({"id": 2, "set": 2})
    led.send({"id": 1, "set": True})
    assert sum(isinstance(e, CallsReady) for e in events) == 1
    ready = registry.take_calls()
    assert [(c.channel, c.request_id) for c in ready] == [("motor", 1), ("led", 1)]
    assert registry.take_calls() == []
    ready[0].complete(None, 1.0)
    ready[0].complete(None, 1.0)  # idempotent
    nxt = registry.take_calls()
    assert [(c.channel, c.request_id, c.value) for c in nxt] == [("motor", 2, 2)]
    nxt[0].fail_with(ValueError("nope"), 2.0)
    ready[1].complete(True, 2.0)
    motor_frames = [wire(f) for f in motor.session.next_frames()]
    assert [(f["id"], f["ok"]) for f in motor_frames if "id" in f] == [(1, True), (2, False)]


def test_too_many_calls_in_flight_are_busy() -> None:
    clock = Clock()
    registry = ChannelRegistry(device_name="Lab", model="m", clock=clock, max_calls_in_flight=2)
    registry.actuator("motor", type="int", initial=0, handler=lambda v: None)
    pair = Pair(registry, "motor")
    pair.pump()
    for i in range(3):
        pair.send({"id": i, "set": i})
    frames = [wire(f) for f in pair.session.next_frames()]
    assert frames == [{"id": 2, "ok": False, "error": "busy", "message": "too many requests in flight"}]
    run_all(registry)
    assert [f["id"] for f in pair.session.next_frames()] == [0, 1]


def test_admin_only_actuator() -> None:
    registry, _ = make()
    registry.actuator("lock", type="bool", initial=True, handler=lambda v: None, admin_only=True)
    user, admin = Pair(registry, "lock", 1), Pair(registry, "lock", 2, admin=True)
    user.pump(), admin.pump()
    assert user.call("set", False).code == "forbidden"
    assert admin.call("set", False).result() is False


def test_unread_answers_are_bounded() -> None:
    clock = Clock()
    registry = ChannelRegistry(device_name="Lab", model="m", clock=clock, answer_limit=5)
    registry.actuator("led", type="bool", initial=False, handler=lambda v: None)
    pair = Pair(registry, "led")
    for i in range(20):
        pair.send({"id": i, "set": "bad"})
    assert len(pair.session.next_frames()) == 5  # the state frame and 4 answers
    assert pair.session.dropped_answers == 16


def test_completion_after_the_channel_closed() -> None:
    registry, clock = make()
    registry.actuator("led", type="bool", initial=False, handler=lambda v: None)
    a, b = Pair(registry, "led", 1), Pair(registry, "led", 2)
    a.pump(), b.pump()
    a.send({"id": 1, "set": True})
    a.session.close()
    run_all(registry)
    assert state(registry, "led") is True
    assert b.pump() == [ActuatorState(True, clock.now)]


def test_declaration_errors() -> None:
    registry, _ = make()
    with pytest.raises(ConfigError):
        registry.actuator("a", type="bool", handler=lambda v: None)  # no initial
    with pytest.raises(ConfigError):
        registry.actuator("b")  # nothing to do
    with pytest.raises(ConfigError):
        registry.actuator("c", type="int", initial="x", handler=lambda v: None)
    with pytest.raises(ConfigError):
        registry.actuator("d", initial=1, actions={"x": lambda: None})  # state without type
    with pytest.raises(ConfigError):
        registry.actuator("e", type="text", min=1, initial="", handler=lambda v: None)


async def test_async_handlers_and_timeouts() -> None:
    registry, clock = make()
    release = asyncio.Event()

    async def slow(value: int) -> int:
        await release.wait()
        return value * 2

    async def hang(value: int) -> None:
        await asyncio.sleep(3600)

    registry.actuator("double", type="int", initial=0, handler=slow)
    registry.actuator("stuck", type="int", initial=0, handler=hang)
    double, stuck = Pair(registry, "double"), Pair(registry, "stuck")
    double.pump(), stuck.pump()
    p1 = double.client.set(4)
    double.send(p1.frame)
    stuck.send({"id": 9, "set": 1})
    tasks = [asyncio.create_task(run_call(c, clock=clock, timeout=0.05)) for c in registry.take_calls()]
    await asyncio.sleep(0)
    release.set()
    await asyncio.gather(*tasks)
    [answer] = double.pump()
    assert isinstance(answer, ActuatorAnswer) and answer.result() == 8
    frames = [wire(f) for f in stuck.session.next_frames()]
    assert frames == [{"id": 9, "ok": False, "error": "failed", "message": "timed out"}]


async def test_cancelled_run_fails_the_call() -> None:
    registry, clock = make()

    async def hang(value: int) -> None:
        await asyncio.sleep(3600)

    registry.actuator("stuck", type="int", initial=0, handler=hang)
    pair = Pair(registry, "stuck")
    pair.pump()
    pair.send({"id": 1, "set": 1})
    [call] = registry.take_calls()
    task = asyncio.create_task(run_call(call, clock=clock))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [wire(f)["message"] for f in pair.session.next_frames()] == ["cancelled"]


def test_sync_runner_refuses_async_handlers() -> None:
    registry, _ = make()

    async def handler(value: int) -> None:
        return None

    registry.actuator("x", type="int", initial=0, handler=handler)
    pair = Pair(registry, "x")
    pair.pump()
    assert pair.call("set", 1).code == "failed"


def test_client_ignores_unknown_and_malformed_frames() -> None:
    client = ActuatorClient()
    pending = client.set(1)
    assert client.pending == {pending.id}
    assert client.receive({"id": 999, "ok": True}) is None
    assert client.receive({"id": pending.id, "ok": "yes"}) is None
    assert client.receive({"x": 1}) is None
    assert client.receive([1, 2]) is None
    assert client.pending == {pending.id}
    assert client.cancel_all() == [pending.id] and client.pending == frozenset()
    with pytest.raises(ValueError):
        client.set(None)


async def test_start_call_answers_a_sync_handler_before_it_returns_and_spawns_an_async_one() -> None:
    registry, clock = make()
    release = asyncio.Event()

    async def later(value: int) -> int:
        await release.wait()
        return value * 2

    def broken(value: int) -> int:
        raise ValueError("jammed")

    registry.actuator("led", type="bool", initial=False, handler=lambda on: on)
    registry.actuator("dimmer", type="int", initial=0, handler=later)
    registry.actuator("motor", type="int", initial=0, handler=broken)
    led, dimmer, motor = Pair(registry, "led"), Pair(registry, "dimmer"), Pair(registry, "motor")
    led.pump(), dimmer.pump(), motor.pump()
    led.send({"id": 1, "set": True})
    dimmer.send({"id": 2, "set": 3})
    motor.send({"id": 3, "set": 1})
    spawned: list[asyncio.Task[None]] = []
    for call in registry.take_calls():
        start_call(call, clock=clock, spawn=lambda coro: spawned.append(asyncio.create_task(coro)))
    # the sync handlers' answers (a result, a failure) are queued already; the async one is in a task
    assert [wire(f) for f in led.session.next_frames()] == [{"id": 1, "ok": True, "v": True}]
    assert [wire(f)["message"] for f in motor.session.next_frames()] == ["jammed"]
    assert dimmer.session.next_frames() == [] and len(spawned) == 1
    release.set()
    await asyncio.gather(*spawned)
    assert [wire(f) for f in dimmer.session.next_frames()] == [{"id": 2, "ok": True, "v": 6}]
