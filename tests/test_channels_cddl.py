"""Every frame kind the channel code emits matches its rule in ``docs/device-channels.cddl``
(cddl_verifier), the admin answers of a real :class:`~device_sdk.device.Device` included, and the schema
agrees with the code on the channel kinds, value types and error codes."""

from __future__ import annotations

import base64
import re
import time
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
from device_sdk.channels.descriptor import CHANNEL_KINDS
from device_sdk.channels.values import ERROR_CODES, VALUE_TYPES
from device_sdk.device import Device, DeviceConfig

from ._spec import DEVICE_CHANNELS_CDDL

ADMIN = PeerInfo(fp=bytes(32), role="admin")
ADMIN_OPS = ("leave", "open-pairing-window", "list-peers", "remove-peer", "set-role", "rename")
"""The admin operations of spec section 6.5, each with its rule ``admin-<op>`` in the schema."""
ANSWER_RULES = {"list-peers": "admin-list-peers-answer", "rename": "admin-rename-answer"}
"""The ok answers the schema narrows, by operation."""


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(DEVICE_CHANNELS_CDDL)


class Backend:
    def open_window(self, seconds: int | None) -> None:
        return None

    def list_peers(self) -> list[dict[str, Any]]:
        fp = base64.b64encode(bytes(32)).decode()
        return [{"fp": fp, "name": "laptop", "role": "admin", "paired_at": 1700000000.0, "last_seen": 1700000100.0}]

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
    out: dict[str, list[Any]] = {k: [] for k in (*RULES, "admin-plain-ok")}
    temp = registry.sensor("temperature", unit="C", min=-40, max=85, rate_hz=10, description="air")
    count = registry.sensor("count", type="int")
    led = registry.actuator("led", type="bool", initial=False, handler=lambda v: None)
    registry.actuator("mode", type="enum", values=["a", "b"], initial="a", handler=lambda v: None)
    registry.actuator("blob", type="bytes", initial=b"", handler=lambda v: None)
    registry.actuator("cfg", type="map", initial={}, handler=lambda v: None)
    registry.actuator("feeder", actions={"feed": lambda: None})
    registry.actuator("lock", type="bool", initial=True, handler=lambda v: None, admin_only=True)
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
    ops: dict[int, str] = {}
    for pending in (
        admin_client.open_pairing_window(60),
        admin_client.open_pairing_window(),
        admin_client.list_peers(),
        admin_client.remove_peer(fp),
        admin_client.rename("Kitchen 2"),
        admin_client.request("reboot"),
        admin_client.set_role(fp, "user"),  # demotes itself: the next request is forbidden
        admin_client.list_peers(),
        admin_client.leave(),  # a user may leave
    ):
        op = pending.frame["op"]
        ops[pending.frame["id"]] = op
        out["admin-request"].append(pending.frame)
        if op in ADMIN_OPS:
            out[f"admin-{op}"].append(pending.frame)
        admin.receive_frame(pending.frame, now=0.0)
        for call in registry.take_calls():
            run_call_sync(call, 1.0)
    for frame in admin.next_frames():
        _sort_admin_answer(out, frame, ops[frame["id"]])
    return out


def _sort_admin_answer(out: dict[str, list[Any]], frame: Any, op: str) -> None:
    """File an admin answer under every rule it must match."""
    if not frame["ok"]:
        out["actuator-error"].append(frame)
        return
    out["actuator-ok"].append(frame)
    if op in ANSWER_RULES:
        out[ANSWER_RULES[op]].append(frame)
    else:
        out["admin-plain-ok"].append(frame)


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
    *(f"admin-{op}" for op in ADMIN_OPS),
    *ANSWER_RULES.values(),
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
    assert frames["admin-plain-ok"] and all("v" not in f for f in frames["admin-plain-ok"])  # spec 6.5


def test_the_catalog_checked_carries_every_descriptor_extension(frames: dict[str, list[Any]]) -> None:
    """The extension keys the schema spells out were in the catalog frames it validated."""
    keys = {key for frame in frames["catalog-frame"] for d in frame["channels"] for key in d}
    assert {"actions", "settable", "admin_only", "format"} <= keys


def test_the_schema_agrees_with_the_code_on_kinds_types_and_error_codes() -> None:
    """The choices the schema spells out are exactly the ones the channel code knows."""
    schema = DEVICE_CHANNELS_CDDL.read_text(encoding="utf-8")

    def choices(key: str) -> set[str]:
        line = re.search(rf'^\s*"{key}": (.+?),?$', schema, re.MULTILINE)
        assert line is not None, key
        return set(re.findall(r'"([a-z-]+)"', line.group(1)))

    assert choices("kind") == set(CHANNEL_KINDS)
    assert choices("type") == set(VALUE_TYPES)
    assert choices("error") == set(ERROR_CODES)


async def test_a_real_devices_admin_answers_match_the_schema(tmp_path: Path, validator: Validator) -> None:
    """The admin backend of a real Device (trust store, window, name) answers in the schema's shapes:
    the peer records with ``last_seen``, the name after a rename, and the v1.1 ``leave``."""
    device = Device(DeviceConfig(state_dir=tmp_path / "device", name="Kitchen", advertise=False, setup_code=20202021))
    try:
        now = time.time()
        admin_fp, user_fp = bytes(range(32)), bytes(range(1, 33))
        device.trust.add(admin_fp, "Laptop", now)  # the first controller paired: an admin
        device.trust.add(user_fp, "Phone", now + 1)
        user_text = base64.b64encode(user_fp).decode()
        session = device.channels.open_session(
            "admin", ADMIN_PROTOCOL, peer=PeerInfo(fp=admin_fp, role="admin"), now=now
        )
        assert isinstance(session, ChannelSession)
        client = AdminClient()
        ops: dict[int, str] = {}
        for pending in (
            client.list_peers(),
            client.rename("Kitchen 2"),
            client.open_pairing_window(),
            client.open_pairing_window(300),
            client.set_role(user_text, "admin"),
            client.remove_peer(user_text),
            client.remove_peer(user_text),  # unknown by now: "failed"
            client.leave(),
        ):
            rule = f"admin-{pending.frame['op']}"
            assert validator.validate(cbor2.dumps(pending.frame), rule).valid, rule
            ops[pending.frame["id"]] = pending.frame["op"]
            session.receive_frame(pending.frame, now)
            for call in device.channels.take_calls():
                run_call_sync(call, now)
        out: dict[str, list[Any]] = {
            k: [] for k in ("actuator-ok", "actuator-error", "admin-plain-ok", *ANSWER_RULES.values())
        }
        answers = session.next_frames()
        assert [ops[a["id"]] for a in answers] == list(ops.values())
        for answer in answers:
            _sort_admin_answer(out, answer, ops[answer["id"]])
        for rule, items in out.items():
            for item in items:
                result = validator.validate(cbor2.dumps(item), "actuator-ok" if rule == "admin-plain-ok" else rule)
                assert result.valid, f"{rule}: {item!r}\n{result.format()}"
        peers = out["admin-list-peers-answer"][0]["v"]
        assert [p["name"] for p in peers] == ["Laptop", "Phone"] and all("last_seen" in p for p in peers)
        assert out["admin-rename-answer"][0]["v"] == "Kitchen 2"
        assert [a["error"] for a in out["actuator-error"]] == ["failed"]
        assert all("v" not in a for a in out["admin-plain-ok"])
    finally:
        await device.stop()


@pytest.mark.parametrize(
    ("rule", "frame"),
    [
        ("reading-frame", {"s": 1, "t": 1, "v": 2}),  # an integer time
        ("state-frame", {"v": None}),
        ("actuator-error", {"id": 1, "ok": False, "error": "oops"}),
        ("stream-chunk-frame", {"s": 1, "t": 1.0, "d": "text"}),
        ("channel-descriptor", {"name": "a", "kind": "actuator", "type": "bool", "settable": True}),
        ("admin-open-pairing-window", {"id": 1, "op": "open-pairing-window", "seconds": 0}),
        ("admin-set-role", {"id": 1, "op": "set-role", "fp": "A" * 43 + "=", "role": "owner"}),
        ("admin-leave", {"id": 1, "op": "rename", "name": "x"}),
        ("admin-list-peers-answer", {"id": 1, "ok": True, "v": [{"fp": "A" * 43 + "=", "name": "x", "role": "user"}]}),
        ("admin-rename-answer", {"id": 1, "ok": True}),
    ],
)
def test_the_validator_rejects_wrong_frames(validator: Validator, rule: str, frame: Any) -> None:
    assert not validator.validate(cbor2.dumps(frame), rule).valid
