"""The admin channel, device side (profile section 6.5).

Every paired peer may open it (profile v1.1). Requests ``{"id", "op", ...}`` are checked here and
carried out by an :class:`AdminBackend` that the device provides (trust store, pairing window, name),
through the same :class:`~device_sdk.channels.calls.ActuatorCall` path as actuators; answers are like
actuator answers.

Operations and their parameters (``fp`` is the controller fingerprint as text: standard padded base64 of
the 32-byte SHA-256 SPKI fingerprint, as in TXT ``fp``):

- ``leave`` ``{}`` (any peer, admin or user): the device forgets the peer that sends it
  (:meth:`AdminBackend.remove_peer` with its own fingerprint), answers ok once that is on disk, then
  closes the peer's connections with 401;
- ``open-pairing-window`` ``{? "seconds": 1..900}`` (absent: the device's default length);
- ``list-peers`` -> ``"v": [{"fp", "name", "role", "paired_at", "last_seen"}, ...]`` (``last_seen``, the
  time the controller last connected or paired, is an extension key);
- ``remove-peer`` ``{"fp"}`` (an unknown fingerprint answers ``"failed"``);
- ``set-role`` ``{"fp", "role": "admin" | "user"}`` (an unknown fingerprint answers ``"failed"``);
- ``rename`` ``{"name": 1..255 bytes of UTF-8}`` -> ``"v": the name now in use``.

Every operation but ``leave`` is an admin's: a user (or a peer demoted while its admin channel is
open) gets ``"forbidden"``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar, Protocol

from device_sdk.identity import fingerprint_from_text

from ..errors import DeviceSDKError, InvalidArgument
from .calls import ActuatorCall, CallHub
from .frames import error_answer, ok_answer
from .session import ChannelSession, Hub, PeerInfo, Role

_log = logging.getLogger(__name__)

MAX_WINDOW_SECONDS = 900
"""The longest pairing window an admin may open (15 minutes, the profile's upper bound)."""


class AdminBackend(Protocol):
    """What the admin channel needs from the device. Each method may also return an awaitable."""

    def open_window(self, seconds: int | None) -> Awaitable[None] | None:
        """Open the pairing window for ``seconds`` (None: the configured default)."""

    def list_peers(self) -> list[dict[str, Any]] | Awaitable[list[dict[str, Any]]]:
        """The paired controllers as ``{"fp", "name", "role", "paired_at", "last_seen"}`` maps."""

    def remove_peer(self, fp: str) -> bool | Awaitable[bool]:
        """Forget the controller ``fp`` (on disk before returning: the answer acknowledges it), then
        close its connections once their queued answers have left; False if it is unknown. Also
        carries out ``leave``, with the fingerprint of the peer that sent it."""

    def set_role(self, fp: str, role: Role) -> bool | Awaitable[bool]:
        """Give controller ``fp`` the role; False if it is unknown."""

    def rename(self, name: str) -> str | Awaitable[str | None] | None:
        """Rename the device; return the name now in use (None: ``name``)."""


def _is_uint(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


class _Rejected(DeviceSDKError):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class AdminChannel:
    """The admin channel's shared part: the backend and the open admin sessions (internal)."""

    def __init__(
        self,
        *,
        hub: CallHub,
        backend: AdminBackend,
        on_role_changed: Callable[[bytes, Role], None],
        on_renamed: Callable[[str], None],
        answer_limit: int,
    ) -> None:
        self._hub = hub
        self._backend = backend
        self._on_role_changed = on_role_changed
        self._on_renamed = on_renamed
        self._answer_limit = answer_limit
        self._sessions: list[AdminSession] = []

    def open_session(self, *, label: str, protocol: str, peer: PeerInfo) -> AdminSession:
        """A new admin channel for a paired ``peer`` (what it may do follows its role)."""
        session = AdminSession(hub=self._hub, source=self, label=label, protocol=protocol, peer=peer)
        self._sessions.append(session)
        return session

    def _detach(self, session: ChannelSession) -> None:
        if session in self._sessions:
            self._sessions.remove(session)

    def _answer(self, session: AdminSession, frame: dict[str, Any]) -> None:
        if not session.closed and len(session._queue) < self._answer_limit:
            session._push(frame)

    def _request(self, session: AdminSession, request_id: int, frame: Mapping[Any, Any]) -> None:
        op = frame.get("op")
        if not session.peer.is_admin and op != "leave":
            self._answer(session, error_answer(request_id, "forbidden", "this controller is not an admin"))
            return
        try:
            if not isinstance(op, str):
                raise _Rejected("bad-type", "'op' must be text")
            params, invoke = self._check(op, frame, session.peer)
        except _Rejected as exc:
            self._answer(session, error_answer(request_id, exc.code, exc.message))
            return
        if not self._hub.has_room(session):
            self._answer(session, error_answer(request_id, "busy", "too many requests in flight"))
            return
        call = ActuatorCall(
            channel="admin",
            op=op,
            request_id=request_id,
            peer=session.peer,
            value=params,
            session=session,
            _invoke=invoke,
            _target=self,
            _on_done=self._hub.call_done,
        )
        self._hub.submit(call)

    def _check(self, op: str, frame: Mapping[Any, Any], peer: PeerInfo) -> tuple[dict[str, Any], Callable[[], object]]:
        backend = self._backend
        if op == "leave":
            own = peer.fp_text
            return {}, lambda: backend.remove_peer(own)
        if op == "open-pairing-window":
            seconds = frame.get("seconds")
            if seconds is not None:
                if not _is_uint(seconds):
                    raise _Rejected("bad-type", "'seconds' must be an unsigned integer")
                if not 1 <= seconds <= MAX_WINDOW_SECONDS:
                    raise _Rejected("out-of-range", f"'seconds' must be 1..{MAX_WINDOW_SECONDS}")
            return {"seconds": seconds}, lambda: backend.open_window(seconds)
        if op == "list-peers":
            return {}, backend.list_peers
        if op in ("remove-peer", "set-role"):
            fp = frame.get("fp")
            try:
                if not isinstance(fp, str):
                    raise InvalidArgument(fp)
                fingerprint_from_text(fp)
            except ValueError:
                raise _Rejected("bad-type", "'fp' must be a base64 SHA-256 fingerprint (44 characters)") from None
            if op == "remove-peer":
                return {"fp": fp}, lambda: backend.remove_peer(fp)
            role = frame.get("role")
            if not isinstance(role, str):
                raise _Rejected("bad-type", "'role' must be text")
            if role not in ("admin", "user"):
                raise _Rejected("out-of-range", "'role' must be 'admin' or 'user'")
            new_role: Role = "admin" if role == "admin" else "user"
            return {"fp": fp, "role": new_role}, lambda: backend.set_role(fp, new_role)
        if op == "rename":
            name = frame.get("name")
            if not isinstance(name, str):
                raise _Rejected("bad-type", "'name' must be text")
            if not name.strip() or len(name.encode("utf-8")) > 255:
                raise _Rejected("out-of-range", "'name' must be 1..255 bytes and not blank")
            return {"name": name}, lambda: backend.rename(name)
        raise _Rejected("unknown-op", f"no admin operation {op!r}")

    def _finish_call(self, call: ActuatorCall, result: object, now: float) -> None:
        session = call.session
        assert isinstance(session, AdminSession)
        params: dict[str, Any] = call.value
        if call.op == "list-peers":
            peers = _peer_list(result)
            if peers is None:
                self._answer(session, error_answer(call.request_id, "failed", "the backend gave a bad peer list"))
            else:
                self._answer(session, ok_answer(call.request_id, peers))
            return
        if call.op == "leave":
            self._answer(session, ok_answer(call.request_id))  # unknown already: gone all the same
            return
        if call.op in ("remove-peer", "set-role"):
            if result is not True:
                self._answer(session, error_answer(call.request_id, "failed", "no such peer"))
                return
            if call.op == "set-role":
                self._on_role_changed(fingerprint_from_text(params["fp"]), params["role"])
            self._answer(session, ok_answer(call.request_id))
            return
        if call.op == "rename":
            name = result if isinstance(result, str) and result else params["name"]
            self._on_renamed(name)
            self._answer(session, ok_answer(call.request_id, name))
            return
        self._answer(session, ok_answer(call.request_id))

    def _fail_call(self, call: ActuatorCall, code: str, message: str, now: float) -> None:
        session = call.session
        assert isinstance(session, AdminSession)
        self._answer(session, error_answer(call.request_id, code, message))


def _peer_list(result: object) -> list[dict[str, Any]] | None:
    if not isinstance(result, list | tuple):
        return None
    peers: list[dict[str, Any]] = []
    for item in result:
        if not isinstance(item, Mapping) or not all(isinstance(k, str) for k in item):
            return None
        peers.append(dict(item))
    return peers


class AdminSession(ChannelSession):
    """One paired peer's admin channel: answers every request it can read an id from."""

    kind: ClassVar[str] = "admin"

    def __init__(self, *, hub: Hub, source: AdminChannel, label: str, protocol: str, peer: PeerInfo) -> None:
        super().__init__(hub=hub, source=source, label=label, protocol=protocol, peer=peer)
        self._admin = source

    def receive_frame(self, frame: object, now: float) -> None:
        """Handle a request; never raises for bad input."""
        if self._closed or not isinstance(frame, Mapping):
            return
        request_id = frame.get("id")
        if not _is_uint(request_id):
            _log.debug("%r: ignoring a request without a readable id", self)
            return
        assert isinstance(request_id, int)
        self._admin._request(self, request_id, frame)
