"""Every frame kind the channel code emits matches its rule in device-channels.cddl (cddl_verifier)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import cbor2
import pytest
from cddl_verifier import Validator

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
    PeerInfo,
    Role,
    run_call_sync,
    subscription_frame,
)

SCHEMA = Path("/work/shared/protocol/device-channels.cddl")
ADMIN = PeerInfo(fp=bytes(32), role="admin")


@pytest.fixture(scope="module")
def validator() -> Validator:
    if not SCHEMA.exists():
        pytest.skip("the shared protocol schema is not present")
    return Validator(SCHEMA)


class Backend:
    def open_window(self, seconds: int | None) -> None:
        return None

    def list_peers(self) -> list[dict[str, Any]]:
        fp = base64.b64encode(bytes(32)).decode()
        return [{"fp": fp, "name": "laptop", "role": "admin", "paired_at": 1700000000.0}]

    def remove_peer(self, fp: str) -> bool:
        return True

    def set_role(self, fp: str, role: Role) -> bool:
        return True

    def rename(self, name: str) -> str | None:
        return None


def open_(registry: ChannelRegistry, label: str, protocol: str) -> ChannelSession:
    session = registry.open_session(label, protocol, peer=ADMIN, now=0.0)
    assert isinstance(session, ChannelSession)
    return session


def emitted() -> dict[str, list[Any]]:
    """Frames produced by real sessions and clients, by the rule each must match."""
    clock = iter(range(1_700_000_000, 1_800_000_000))  # an int clock: "t" must still be a float
    registry = ChannelRegistry(
        device_name="Kitchen",
        model="pi-kit",
        board="pi4",
        sdk="0.1",
        clock=lambda: next(clock),
        admin=Backend(),
    )
    out: dict[str, list[Any]] = {k: [] for k in RULES}
    temp = registry.sensor("temperature", unit="C", min=-40, max=85, rate_hz=10, description="air")
    count = registry.sensor("count", type="int")
    led = registry.actuator("led", type="bool", initial=False, handler=lambda v: None)
    registry.actuator("mode", type="enum", values=["a", "b"], initial="a", handler=lambda v: None)
    registry.actuator("blob", type="bytes", initial=b"", handler=lambda v: None)
    registry.actuator("cfg", type="map", initial={}, handler=lambda v: None)
    registry.actuator("feeder", actions={"feed": lambda: None})
    audio = registry.stream("audio", format={"codec": "pcm_s16le", "rate": 16000, "channels": 1})
    pad = registry.input("gamepad", rate_hz=500)

    out["catalog-frame"] += open_(registry, "catalog", CATALOG_PROTOCOL).next_frames()
    sensor = open_(registry, "temperature", SENSOR_PROTOCOL)
    temp.publish(21)
    temp.publish(-3.5, t=5)
    count.publish(7)
    out["reading-frame"] += sensor.next_frames()
    out["reading-frame"] += open_(registry, "count", SENSOR_PROTOCOL).next_frames()
    inp = open_(registry, "gamepad", INPUT_PROTOCOL)
    pad.publish({"x": 0.5, "buttons": [True, False]})
    out["reading-frame"] += inp.next_frames()

    for name, good, bad in (
        ("led", True, 3),
        ("mode", "b", "c"),
        ("blob", b"\x00", "x"),
        ("cfg", {"k": [1]}, [1]),
    ):
        session = open_(registry, name, ACTUATOR_PROTOCOL)
        other = open_(registry, name, ACTUATOR_PROTOCOL)
        out["state-frame"] += session.next_frames()
        other.next_frames()
        client = ActuatorClient()
        for request in (client.set(good), client.set(bad)):
            out["actuator-request"].append(request.frame)
            session.receive_frame(request.frame, now=0.0)
        for call in registry.take_calls():
            run_call_sync(call, 1.0)
        for frame in session.next_frames():
            out["actuator-ok" if frame["ok"] else "actuator-error"].append(frame)
        out["state-frame"] += other.next_frames()
    led.report(False, t=3)
    feeder = open_(registry, "feeder", ACTUATOR_PROTOCOL)
    request = ActuatorClient().do("feed")
    out["actuator-request"].append(request.frame)
    feeder.receive_frame(request.frame, now=0.0)
    for call in registry.take_calls():
        call.fail_with(RuntimeError("jammed"), 2.0)
    feeder.receive_frame({"id": 2, "do": "feed"}, now=0.0)
    for call in registry.take_calls():
        run_call_sync(call, 2.0)
    for frame in feeder.next_frames():
        out["actuator-ok" if frame["ok"] else "actuator-error"].append(frame)

    stream = open_(registry, "audio", STREAM_PROTOCOL)
    audio.write(b"\x00\x01" * 100)
    frames = stream.next_frames()
    out["stream-format-frame"].append(frames[0])
    out["stream-chunk-frame"] += frames[1:]

    out["subscription-frame"] += [
        subscription_frame(),
        subscription_frame(min_interval_ms=100),
        subscription_frame(min_interval_ms=0, change=0.5),
        subscription_frame(change=2),
    ]

    admin = open_(registry, "admin", ADMIN_PROTOCOL)
    admin_client = AdminClient()
    fp = base64.b64encode(bytes(32)).decode()
    for pending in (
        admin_client.open_pairing_window(60),
        admin_client.list_peers(),
        admin_client.remove_peer(fp),
        admin_client.rename("Kitchen 2"),
        admin_client.request("reboot"),
        admin_client.set_role(fp, "user"),  # demotes itself: the next request is forbidden
        admin_client.list_peers(),
    ):
        out["admin-request"].append(pending.frame)
        admin.receive_frame(pending.frame, now=0.0)
        for call in registry.take_calls():
            run_call_sync(call, 1.0)
    for frame in admin.next_frames():
        out["actuator-ok" if frame["ok"] else "actuator-error"].append(frame)
    return out


RULES = [
    "catalog-frame",
    "reading-frame",
    "actuator-ok",
    "actuator-error",
    "state-frame",
    "stream-format-frame",
    "stream-chunk-frame",
    "subscription-frame",
    "actuator-request",
    "admin-request",
]


@pytest.fixture(scope="module")
def frames() -> dict[str, list[Any]]:
    return emitted()


@pytest.mark.parametrize("rule", RULES)
def test_frames_match_their_rule(validator: Validator, frames: dict[str, list[Any]], rule: str) -> None:
    assert frames[rule], f"no {rule} was produced"
    for frame in frames[rule]:
        result = validator.validate(cbor2.dumps(frame), rule)
        assert result.valid, f"{rule}: {frame!r}\n{result.format()}"


def test_every_kind_of_answer_was_checked(frames: dict[str, list[Any]]) -> None:
    codes = {f["error"] for f in frames["actuator-error"]}
    assert {"bad-type", "out-of-range", "failed", "unknown-op", "forbidden"} <= codes
    assert any("v" not in f for f in frames["actuator-ok"])
    assert any(isinstance(f.get("v"), list) for f in frames["actuator-ok"])  # list-peers


@pytest.mark.parametrize(
    ("rule", "frame"),
    [
        ("reading-frame", {"s": 1, "t": 1, "v": 2}),  # an integer time
        ("state-frame", {"v": None}),
        ("actuator-error", {"id": 1, "ok": False, "error": "oops"}),
        ("stream-chunk-frame", {"s": 1, "t": 1.0, "d": "text"}),
    ],
)
def test_the_validator_rejects_wrong_frames(validator: Validator, rule: str, frame: Any) -> None:
    assert not validator.validate(cbor2.dumps(frame), rule).valid
