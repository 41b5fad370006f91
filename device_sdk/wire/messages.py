"""Typed Open Screen Protocol messages of the wire profile (profile sections 3 to 6).

Each message is a frozen dataclass with its ``TYPE_KEY``; :meth:`to_cbor` gives the CBOR map with
the 0-based integer keys of the 2024 CDDL, :meth:`from_cbor` validates a received map. Receivers are
lenient as the profile says: unknown integer keys and string keys are ignored; a missing or mistyped
known key raises :class:`SchemaError`, which the codec turns into a 400 close.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar, Self

from ..errors import InvalidArgument
from .codes import AuthResult, OpenResult

CAP_DATA_CHANNELS = 1100
"""Capability: WICG Local Peer-to-Peer data channels."""
CAP_DEVICE_SDK_CHANNELS = 1300
"""Capability: device_sdk channel protocols v1."""


class SchemaError(InvalidArgument):
    """A received CBOR item does not match its rule in ``osp-messages.cddl`` (a ``ValueError`` too; the
    codec closes the connection with 400 for it)."""


class PskStatus(IntEnum):
    """``psk-status`` of an auth-spake2-handshake."""

    NEEDS_PRESENTATION = 0
    SHOWN = 1
    INPUT = 2


# -- field readers: each raises SchemaError naming the key ----------------------------------------


def _get(m: Mapping[Any, Any], key: int, what: str) -> Any:
    try:
        return m[key]
    except KeyError:
        raise SchemaError(f"{what}: missing key {key}") from None


_UINT_MAX = (1 << 64) - 1


def _uint(m: Mapping[Any, Any], key: int, what: str, *, maximum: int = _UINT_MAX) -> int:
    v = _get(m, key, what)
    if type(v) is not int or v < 0 or v > maximum:
        raise SchemaError(f"{what}: key {key} must be an unsigned integer <= {maximum}")
    return v


def _range(m: Mapping[Any, Any], key: int, what: str, lo: int, hi: int) -> int:
    v = _get(m, key, what)
    if type(v) is not int or not lo <= v <= hi:
        raise SchemaError(f"{what}: key {key} must be an integer in {lo}..{hi}")
    return v


def _tstr(m: Mapping[Any, Any], key: int, what: str) -> str:
    v = _get(m, key, what)
    if type(v) is not str:
        raise SchemaError(f"{what}: key {key} must be a text string")
    return v


def _bstr(m: Mapping[Any, Any], key: int, what: str) -> bytes:
    v = _get(m, key, what)
    if type(v) is not bytes:
        raise SchemaError(f"{what}: key {key} must be a byte string")
    return v


def _map(v: Any, what: str) -> Mapping[Any, Any]:
    if not isinstance(v, Mapping):
        raise SchemaError(f"{what} must be a map")
    return v


def _array(m: Mapping[Any, Any], key: int, what: str, item: type) -> tuple[Any, ...]:
    v = _get(m, key, what)
    if type(v) is not list or any(type(x) is not item for x in v):
        raise SchemaError(f"{what}: key {key} must be an array of {item.__name__}")
    if item is int and any(not 0 <= x < 1 << 64 for x in v):
        raise SchemaError(f"{what}: key {key} must be an array of unsigned integers")
    return tuple(v)


def _optional_status(m: Mapping[Any, Any], what: str) -> str | None:
    if 1 not in m:
        return None
    status = _map(m[1], f"{what} status")
    return _tstr(status, 0, f"{what} status")


# -- agent info and status (section 4) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentInfo:
    """``agent-info``: what an agent says about itself (unverified until authentication)."""

    display_name: str
    model_name: str
    capabilities: tuple[int, ...]
    state_token: str
    locales: tuple[str, ...] = ()

    def to_cbor(self) -> dict[int, Any]:
        return {
            0: self.display_name,
            1: self.model_name,
            2: list(self.capabilities),
            3: self.state_token,
            4: list(self.locales),
        }

    @classmethod
    def from_cbor(cls, v: Any) -> Self:
        m = _map(v, "agent-info")
        return cls(
            display_name=_tstr(m, 0, "agent-info"),
            model_name=_tstr(m, 1, "agent-info"),
            capabilities=_array(m, 2, "agent-info", int),
            state_token=_tstr(m, 3, "agent-info"),
            locales=_array(m, 4, "agent-info", str),
        )


@dataclass(frozen=True, slots=True)
class AgentInfoRequest:
    TYPE_KEY: ClassVar[int] = 10
    request_id: int

    def to_cbor(self) -> dict[int, Any]:
        return {0: self.request_id}

    @classmethod
    def from_cbor(cls, m: Mapping[Any, Any]) -> Self:
        return cls(_uint(m, 0, "agent-info-request"))


@dataclass(frozen=True, slots=True)
class AgentInfoResponse:
    TYPE_KEY: ClassVar[int] = 11
    request_id: int
    agent_info: AgentInfo

    def to_cbor(self) -> dict[int, Any]:
        return {0: self.request_id, 1: self.agent_info.to_cbor()}

    @classmethod
    def from_cbor(cls, m: Mapping[Any, Any]) -> Self:
        return cls(_uint(m, 0, "agent-info-response"), AgentInfo.from_cbor(_get(m, 1, "agent-info-response")))


@dataclass(frozen=True, slots=True)
class AgentInfoEvent:
    TYPE_KEY: ClassVar[int] = 120
    agent_info: AgentInfo

    def to_cbor(self) -> dict[int, Any]:
        return {0: self.agent_info.to_cbor()}

    @classmethod
    def from_cbor(cls, m: Mapping[Any, Any]) -> Self:
        return cls(AgentInfo.from_cbor(_get(m, 0, "agent-info-event")))


@dataclass(frozen=True, slots=True)
class _AgentStatus:
    """Shape shared by agent-status-request and -response: {0: request-id, ? 1: {0: status}}."""

    RULE: ClassVar[str]
    request_id: int
    status: str | None = None

    def to_cbor(self) -> dict[int, Any]:
        out: dict[int, Any] = {0: self.request_id}
        if self.status is not None:
            out[1] = {0: self.status}
        return out

    @classmethod
    def from_cbor(cls, m: Mapping[Any, Any]) -> Self:
        return cls(_uint(m, 0, cls.RULE), _optional_status(m, cls.RULE))


@dataclass(frozen=True, slots=True)
class AgentStatusRequest(_AgentStatus):
    TYPE_KEY: ClassVar[int] = 12
    RULE: ClassVar[str] = "agent-status-request"


@dataclass(frozen=True, slots=True)
class AgentStatusResponse(_AgentStatus):
    TYPE_KEY: ClassVar[int] = 13
    RULE: ClassVar[str] = "agent-status-response"


# -- authentication (section 5) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuthCapabilities:
    TYPE_KEY: ClassVar[int] = 1001
    psk_ease_of_input: int
    psk_input_methods: tuple[int, ...]
    psk_min_bits_of_entropy: int

    def to_cbor(self) -> dict[int, Any]:
        return {0: self.psk_ease_of_input, 1: list(self.psk_input_methods), 2: self.psk_min_bits_of_entropy}

    @classmethod
    def from_cbor(cls, m: Mapping[Any, Any]) -> Self:
        what = "auth-capabilities"
        methods = _array(m, 1, what, int)
        if any(x not in (0, 1) for x in methods):
            raise SchemaError(f"{what}: key 1 must hold psk-input-methods 0 or 1")
        return cls(_range(m, 0, what, 0, 100), methods, _range(m, 2, what, 20, 60))


@dataclass(frozen=True, slots=True)
class AuthSpake2Handshake:
    """``auth-spake2-handshake``; ``token`` None encodes key 0 as the empty map."""

    TYPE_KEY: ClassVar[int] = 1005
    token: str | None
    psk_status: PskStatus
    public_value: bytes

    def to_cbor(self) -> dict[int, Any]:
        initiation: dict[int, Any] = {} if self.token is None else {0: self.token}
        return {0: initiation, 1: int(self.psk_status), 2: self.public_value}

    @classmethod
    def from_cbor(cls, m: Mapping[Any, Any]) -> Self:
        what = "auth-spake2-handshake"
        initiation = _map(_get(m, 0, what), f"{what} auth-initiation-token")
        token = _tstr(initiation, 0, f"{what} auth-initiation-token") if 0 in initiation else None
        return cls(token, PskStatus(_range(m, 1, what, 0, 2)), _bstr(m, 2, what))


@dataclass(frozen=True, slots=True)
class AuthSpake2Confirmation:
    TYPE_KEY: ClassVar[int] = 1003
    value: bytes = field(repr=False)

    def to_cbor(self) -> dict[int, Any]:
        return {0: self.value}

    @classmethod
    def from_cbor(cls, m: Mapping[Any, Any]) -> Self:
        value = _bstr(m, 0, "auth-spake2-confirmation")
        if len(value) != 32:
            raise SchemaError("auth-spake2-confirmation: key 0 must be 32 bytes")
        return cls(value)


@dataclass(frozen=True, slots=True)
class AuthStatus:
    TYPE_KEY: ClassVar[int] = 1004
    result: AuthResult

    def to_cbor(self) -> dict[int, Any]:
        return {0: int(self.result)}

    @classmethod
    def from_cbor(cls, m: Mapping[Any, Any]) -> Self:
        return cls(AuthResult(_range(m, 0, "auth-status", 0, 5)))


# -- data channels (section 6) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DataChannelOpenRequest:
    TYPE_KEY: ClassVar[int] = 1101
    request_id: int
    channel_id: int
    label: str
    protocol: str

    def to_cbor(self) -> dict[int, Any]:
        return {0: self.request_id, 1: self.channel_id, 2: self.label, 3: self.protocol}

    @classmethod
    def from_cbor(cls, m: Mapping[Any, Any]) -> Self:
        what = "data-channel-open-request"
        return cls(_uint(m, 0, what), _range(m, 1, what, 0, 65534), _tstr(m, 2, what), _tstr(m, 3, what))


_OPEN_RESULTS = frozenset(int(r) for r in OpenResult)


@dataclass(frozen=True, slots=True)
class DataChannelOpenResponse:
    TYPE_KEY: ClassVar[int] = 1102
    request_id: int
    result: int

    def to_cbor(self) -> dict[int, Any]:
        return {0: self.request_id, 1: self.result}

    @classmethod
    def from_cbor(cls, m: Mapping[Any, Any]) -> Self:
        what = "data-channel-open-response"
        result = _uint(m, 1, what)
        if result not in _OPEN_RESULTS:
            raise SchemaError(f"{what}: key 1 is not an open-result")
        return cls(_uint(m, 0, what), result)


ENCODING_ARRAY_BUFFER = 2


@dataclass(frozen=True, slots=True)
class DataFrame:
    """``data-frame``; in this profile ``payload`` is one encoded CBOR item (encoding-id 2)."""

    TYPE_KEY: ClassVar[int] = 24
    payload: bytes
    encoding_id: int = ENCODING_ARRAY_BUFFER

    def to_cbor(self) -> dict[int, Any]:
        return {0: self.encoding_id, 4: self.payload}

    @classmethod
    def from_cbor(cls, m: Mapping[Any, Any]) -> Self:
        # The fast path for the common frame (every reading); anything else takes the checks below,
        # which accept and reject exactly what they would without it.
        encoding_id, payload = m.get(0), m.get(4)
        if type(encoding_id) is int and 0 <= encoding_id <= _UINT_MAX and type(payload) is bytes and 1 not in m:
            return cls(payload, encoding_id)
        what = "data-frame"
        encoding_id = _uint(m, 0, what)
        if 1 in m:
            _uint(m, 1, what)
        return cls(_bstr(m, 4, what), encoding_id)


Message = (
    AgentInfoRequest
    | AgentInfoResponse
    | AgentInfoEvent
    | AgentStatusRequest
    | AgentStatusResponse
    | AuthCapabilities
    | AuthSpake2Handshake
    | AuthSpake2Confirmation
    | AuthStatus
    | DataChannelOpenRequest
    | DataChannelOpenResponse
    | DataFrame
)
AuthMessage = AuthCapabilities | AuthSpake2Handshake | AuthSpake2Confirmation | AuthStatus

MESSAGE_TYPES: dict[int, type[Message]] = {
    cls.TYPE_KEY: cls
    for cls in (
        AgentInfoRequest,
        AgentInfoResponse,
        AgentInfoEvent,
        AgentStatusRequest,
        AgentStatusResponse,
        AuthCapabilities,
        AuthSpake2Handshake,
        AuthSpake2Confirmation,
        AuthStatus,
        DataChannelOpenRequest,
        DataChannelOpenResponse,
        DataFrame,
    )
}
"""Every type key the profile lists, mapped to its class."""

UNAUTHENTICATED_TYPES: frozenset[int] = frozenset({10, 11, 120, 12, 13, 1001, 1005, 1003, 1004})
"""Type keys accepted from a peer that is not authenticated (agent-info, agent-status, auth)."""
