"""The admin channel: operations through a backend, refusals, and the controller-side AdminClient."""

from __future__ import annotations

import asyncio
import base64
from typing import Any

import cbor2
import pytest

from device_sdk.channels import (
    ADMIN_PROTOCOL,
    ActuatorAnswer,
    AdminClient,
    AdminSession,
    ChannelRegistry,
    FrameError,
    PeerInfo,
    Role,
    parse_peers,
    run_call,
    run_call_sync,
)
from device_sdk.errors import ActuatorError


def fp_text(n: int) -> str:
    return base64.b64encode(bytes([n]) * 32).decode()


class Backend:
    """An in-memory trust store and pairing window."""

    def __init__(self) -> None:
        self.peers: dict[str, dict[str, Any]] = {
            fp_text(1): {"fp": fp_text(1), "name": "laptop", "role": "admin", "paired_at": 1.5},
            fp_text(2): {"fp": fp_text(2), "name": "phone", "role": "user", "paired_at": 2.5},
        }
        self.window: list[int | None] = []
        self.names: list[str] = []
        self.fail_next: Exception | None = None

    def _maybe_fail(self) -> None:
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc

    def open_window(self, seconds: int | None) -> None:
        self._maybe_fail()
        self.window.append(seconds)

    def list_peers(self) -> list[dict[str, Any]]:
        self._maybe_fail()
        return list(self.peers.values())

    def remove_peer(self, fp: str) -> bool:
        return self.peers.pop(fp, None) is not None

    def set_role(self, fp: str, role: Role) -> bool:
        if fp not in self.peers:
            return False
        self.peers[fp]["role"] = role
        return True

    def rename(self, name: str) -> str:
        self.names.append(name)
        return name[:10]


def wire(frame: Any) -> Any:
    return cbor2.loads(cbor2.dumps(frame))


class Admin:
    def __init__(self, n: int = 1) -> None:
        self.backend = Backend()
        self.registry = ChannelRegistry(device_name="Lab", model="m", clock=lambda: 9.0, admin=self.backend)
        session = self.registry.open_session(
            "admin", ADMIN_PROTOCOL, peer=PeerInfo(fp=bytes([n]) * 32, role="admin"), now=0.0
        )
        assert isinstance(session, AdminSession)
        self.session = session
        self.client = AdminClient()

    def roundtrip(self, frame: dict[str, Any]) -> ActuatorAnswer:
        self.session.receive_frame(wire(frame), now=0.0)
        for call in self.registry.take_calls():
            run_call_sync(call, 9.0)
        answers = [self.client.receive(wire(f)) for f in self.session.next_frames()]
        assert len(answers) == 1 and answers[0] is not None
        return answers[0]

    def raw(self, frame: dict[str, Any]) -> dict[str, Any]:
        self.session.receive_frame(wire(frame), now=0.0)
        for call in self.registry.take_calls():
            run_call_sync(call, 9.0)
        [answer] = [wire(f) for f in self.session.next_frames()]
        return dict(answer)


def test_operations() -> None:
    admin = Admin()
    c = admin.client
    assert admin.roundtrip(c.open_pairing_window(300).frame).result() is None
    assert admin.roundtrip(c.open_pairing_window().frame).ok
    assert admin.backend.window == [300, None]
    peers = parse_peers(admin.roundtrip(c.list_peers().frame).result())
    assert [(p.name, p.role, p.paired_at) for p in peers] == [
        ("laptop", "admin", 1.5),
        ("phone", "user", 2.5),
    ]
    assert admin.roundtrip(c.set_role(fp_text(2), "admin").frame).ok
    assert admin.backend.peers[fp_text(2)]["role"] == "admin"
    assert admin.roundtrip(c.remove_peer(fp_text(2)).frame).ok
    assert fp_text(2) not in admin.backend.peers
    with pytest.raises(ActuatorError) as info:
        admin.roundtrip(c.remove_peer(fp_text(2)).frame).result()
    assert info.value.code == "failed"
    assert admin.roundtrip(c.set_role(fp_text(7), "user").frame).code == "failed"
    assert admin.roundtrip(c.rename("A very long new name").frame).result() == "A very lon"
    assert admin.registry.device.name == "A very lon"
    assert c.pending == frozenset()


def test_a_user_opens_it_but_may_only_leave() -> None:
    """Profile v1.1 6.5: every paired peer opens the admin channel; a user may only send "leave"."""
    backend = Backend()
    registry = ChannelRegistry(device_name="Lab", model="m", clock=lambda: 9.0, admin=backend)
    session = registry.open_session("admin", ADMIN_PROTOCOL, peer=PeerInfo(fp=bytes([2]) * 32, role="user"), now=0.0)
    assert isinstance(session, AdminSession)
    client = AdminClient()

    def roundtrip(frame: dict[str, Any]) -> ActuatorAnswer:
        session.receive_frame(wire(frame), now=0.0)
        for call in registry.take_calls():
            run_call_sync(call, 9.0)
        [answer] = [client.receive(wire(f)) for f in session.next_frames()]
        assert answer is not None
        return answer

    assert roundtrip(client.list_peers().frame).code == "forbidden"
    assert roundtrip(client.remove_peer(fp_text(1)).frame).code == "forbidden"
    assert fp_text(1) in backend.peers
    assert roundtrip(client.request("leave").frame).ok
    assert fp_text(2) not in backend.peers and fp_text(1) in backend.peers  # only the sender left


def test_demoted_admin_gets_forbidden() -> None:
    admin = Admin(n=1)
    assert admin.roundtrip(admin.client.set_role(fp_text(1), "user").frame).ok
    assert admin.session.peer.role == "user"
    assert admin.roundtrip(admin.client.list_peers().frame).code == "forbidden"
    admin.registry.update_peer_role(bytes([1]) * 32, "admin")
    assert admin.roundtrip(admin.client.list_peers().frame).ok


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"id": 1, "op": "reboot"}, "unknown-op"),
        ({"id": 1, "op": 5}, "bad-type"),
        ({"id": 1}, "bad-type"),
        ({"id": 1, "op": "open-pairing-window", "seconds": 0}, "out-of-range"),
        ({"id": 1, "op": "open-pairing-window", "seconds": 901}, "out-of-range"),
        ({"id": 1, "op": "open-pairing-window", "seconds": "60"}, "bad-type"),
        ({"id": 1, "op": "open-pairing-window", "seconds": 1.5}, "bad-type"),
        ({"id": 1, "op": "remove-peer"}, "bad-type"),
        ({"id": 1, "op": "remove-peer", "fp": "abc"}, "bad-type"),
        ({"id": 1, "op": "remove-peer", "fp": bytes(32)}, "bad-type"),
        ({"id": 1, "op": "set-role", "fp": fp_text(2), "role": "owner"}, "out-of-range"),
        ({"id": 1, "op": "set-role", "fp": fp_text(2), "role": 1}, "bad-type"),
        ({"id": 1, "op": "rename", "name": ""}, "out-of-range"),
        ({"id": 1, "op": "rename", "name": "x" * 256}, "out-of-range"),
        ({"id": 1, "op": "rename"}, "bad-type"),
    ],
)
def test_bad_requests(frame: dict[str, Any], code: str) -> None:
    admin = Admin()
    answer = admin.raw(frame)
    assert answer["id"] == 1 and answer["ok"] is False and answer["error"] == code and answer["message"]
    assert admin.backend.window == [] and len(admin.backend.peers) == 2


def test_unreadable_requests_are_ignored() -> None:
    admin = Admin()
    for frame in ({"op": "list-peers"}, {"id": -3, "op": "list-peers"}, [1], b"x", None):
        admin.session.receive_frame(frame, now=0.0)
    assert admin.session.next_frames() == [] and admin.registry.take_calls() == []


def test_backend_failures_become_answers() -> None:
    admin = Admin()
    admin.backend.fail_next = RuntimeError("disk full")
    answer = admin.roundtrip(admin.client.open_pairing_window(60).frame)
    assert (answer.code, answer.message) == ("failed", "disk full")
    admin.backend.fail_next = ActuatorError("busy", "window already open")
    assert admin.roundtrip(admin.client.open_pairing_window(60).frame).code == "busy"


def test_bad_peer_list_from_backend_fails() -> None:
    admin = Admin()
    admin.backend.peers = {"x": "not a map"}  # type: ignore[dict-item]
    assert admin.roundtrip(admin.client.list_peers().frame).code == "failed"


async def test_async_backend() -> None:
    admin = Admin()

    async def list_peers() -> list[dict[str, Any]]:
        await asyncio.sleep(0)
        return [{"fp": fp_text(3), "name": "hub", "role": "user", "paired_at": 3}]

    admin.backend.list_peers = list_peers  # type: ignore[assignment, method-assign]
    pending = admin.client.list_peers()
    admin.session.receive_frame(wire(pending.frame), now=0.0)
    await asyncio.gather(*(run_call(c, clock=lambda: 9.0) for c in admin.registry.take_calls()))
    [answer] = [admin.client.receive(wire(f)) for f in admin.session.next_frames()]
    assert answer is not None and answer.id == pending.id
    assert [p.name for p in parse_peers(answer.result())] == ["hub"]


def test_client_side_checks() -> None:
    client = AdminClient()
    with pytest.raises(ValueError):
        client.open_pairing_window(0)
    assert client.request("reboot", delay=5).frame == {"id": 1, "op": "reboot", "delay": 5}
    with pytest.raises(FrameError):
        parse_peers([{"name": "no fp"}])
