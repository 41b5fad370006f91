"""Bad input from the peer never raises: random frames into every session kind and client helper."""

from __future__ import annotations

import contextlib
import random
from typing import Any

import cbor2

from device_sdk.channels import (
    ACTUATOR_PROTOCOL,
    ADMIN_PROTOCOL,
    CATALOG_PROTOCOL,
    INPUT_PROTOCOL,
    SENSOR_PROTOCOL,
    STREAM_PROTOCOL,
    ActuatorClient,
    AdminClient,
    ChannelRegistry,
    ChannelSession,
    FrameError,
    InputFilter,
    PeerInfo,
    Role,
    StreamReceiver,
    parse_catalog,
    parse_input_datagram,
    run_call_sync,
)

KEYS = [
    "id",
    "set",
    "do",
    "op",
    "s",
    "t",
    "v",
    "d",
    "ok",
    "error",
    "fp",
    "role",
    "name",
    "seconds",
    "min_interval_ms",
    "change",
    "format",
    "codec",
    "device",
    "channels",
    "message",
]


def random_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(12 if depth < 3 else 8)
    if choice == 0:
        return rng.randrange(-(2**64), 2**64)
    if choice == 1:
        return rng.choice([0, 1, 2, 255, 2**63, -1])
    if choice == 2:
        return rng.choice([0.0, -0.5, 1e308, float("inf"), float("nan"), 3.25])
    if choice == 3:
        return rng.choice([True, False, None])
    if choice == 4:
        return rng.choice(["", "feed", "set", "admin", "user", "list-peers", "rename", "x" * 300])
    if choice == 5:
        return rng.randbytes(rng.randrange(40))
    if choice == 6:
        return rng.choice(KEYS)
    if choice == 7:
        return cbor2.CBORTag(rng.randrange(1, 300), rng.randrange(10))
    if choice in (8, 9):
        return {
            (rng.choice(KEYS) if rng.random() < 0.8 else random_value(rng, 3)): random_value(rng, depth + 1)
            for _ in range(rng.randrange(5))
        }
    return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


class Backend:
    def open_window(self, seconds: int | None) -> None:
        return None

    def list_peers(self) -> list[dict[str, Any]]:
        return []

    def remove_peer(self, fp: str) -> bool:
        return False

    def set_role(self, fp: str, role: Role) -> bool:
        return False

    def rename(self, name: str) -> str | None:
        return None


def test_random_frames_never_raise() -> None:
    rng = random.Random(1234)
    registry = ChannelRegistry(device_name="Lab", model="m", clock=lambda: 1.0, admin=Backend())
    registry.sensor("temp")
    registry.actuator("led", type="bool", initial=False, handler=lambda v: None, actions={"blink": lambda: None})
    registry.actuator("level", type="int", min=0, max=10, initial=0, handler=lambda v: None)
    registry.actuator("cfg", type="map", initial={}, handler=lambda v: v)
    registry.stream("audio", format={"codec": "raw"})
    registry.input("pad")
    admin = PeerInfo(fp=bytes(32), role="admin")
    sessions: list[ChannelSession] = []
    for label, protocol in (
        ("catalog", CATALOG_PROTOCOL),
        ("temp", SENSOR_PROTOCOL),
        ("led", ACTUATOR_PROTOCOL),
        ("level", ACTUATOR_PROTOCOL),
        ("cfg", ACTUATOR_PROTOCOL),
        ("audio", STREAM_PROTOCOL),
        ("pad", INPUT_PROTOCOL),
        ("admin", ADMIN_PROTOCOL),
    ):
        session = registry.open_session(label, protocol, peer=admin, now=0.0)
        assert isinstance(session, ChannelSession)
        sessions.append(session)
    answered = 0
    for _ in range(3000):
        frame = random_value(rng)
        if rng.random() < 0.5:
            frame = {"id": rng.randrange(5), **(frame if isinstance(frame, dict) else {"set": frame})}
        for session in sessions:
            session.receive_frame(frame, now=1.0)
        for call in registry.take_calls():
            run_call_sync(call, 1.0)
        for session in sessions:
            for out in session.next_frames():
                cbor2.dumps(out)  # everything emitted encodes
                answered += "id" in out
    assert answered > 1000
    assert not any(s.closed for s in sessions)


def test_random_frames_into_client_helpers() -> None:
    rng = random.Random(99)
    actuator, admin, stream, flt = ActuatorClient(), AdminClient(), StreamReceiver(), InputFilter()
    parsed = 0
    for _ in range(3000):
        frame = random_value(rng)
        actuator.receive(frame)
        admin.receive(frame)
        stream.receive(frame)
        flt.accept(frame)
        try:
            parse_catalog(frame)
            parsed += 1
        except FrameError:
            pass
    assert parsed == 0  # random data is never a valid catalog
    assert actuator.state is not None  # some random maps with "v" were state frames


def test_random_datagrams_raise_only_frame_error() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        data = rng.randbytes(rng.randrange(20))
        with contextlib.suppress(FrameError):
            parse_input_datagram(data)
