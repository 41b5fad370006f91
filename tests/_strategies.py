"""Hypothesis strategies for what the network can send: CBOR values of the profile (no tags, integers of
at most 64 bits), channel frames built from the keys the parsers look at, and typed messages. Shared by
test_properties.py (``make test``) and fuzz_targets.py (``make fuzz``)."""

from __future__ import annotations

from typing import Any

import cbor2
from hypothesis import strategies as st

from device_sdk.wire import (
    WIRE_INT_MAX,
    WIRE_INT_MIN,
    AgentInfo,
    AgentInfoEvent,
    AgentInfoRequest,
    AgentInfoResponse,
    AgentStatusRequest,
    AgentStatusResponse,
    AuthCapabilities,
    AuthResult,
    AuthSpake2Confirmation,
    AuthSpake2Handshake,
    AuthStatus,
    DataChannelOpenRequest,
    DataChannelOpenResponse,
    DataFrame,
    Message,
    OpenResult,
    PskStatus,
)

FRAME_KEYS = [
    "id", "set", "do", "op", "s", "t", "v", "d", "ok", "error", "message", "fp", "name", "role", "seconds",
    "paired_at", "min_interval_ms", "change", "format", "codec", "device", "channels", "kind", "type",
    "unit", "min", "max", "values", "rate_hz", "model", "board", "sdk",
]  # fmt: skip
"""The text keys the frame parsers and sessions read: frames built from them reach past the first check."""

U64 = st.integers(min_value=0, max_value=WIRE_INT_MAX)
wire_ints = st.one_of(
    st.integers(min_value=-3, max_value=300),
    st.integers(min_value=WIRE_INT_MIN, max_value=WIRE_INT_MAX),
    st.sampled_from([0, 1, 2**31, 2**53 + 1, 2**63, WIRE_INT_MAX, WIRE_INT_MIN, -1]),
)
scalars = st.one_of(
    wire_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=40),
    st.sampled_from([*FRAME_KEYS, "admin", "user", "feed", "list-peers", "rename", "pcm_s16le", "sensor"]),
    st.binary(max_size=40),
    st.sampled_from([cbor2.undefined, cbor2.CBORSimpleValue(99)]),
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keys = st.one_of(st.sampled_from(FRAME_KEYS), st.text(max_size=8), wire_ints)
    return st.one_of(st.lists(children, max_size=6), st.dictionaries(keys, children, max_size=6))


values = st.recursive(scalars, _containers, max_leaves=30)
"""Any value the tag-free decoder can produce (maps with text, integer and other keys, nested)."""

frames = st.one_of(
    st.dictionaries(st.sampled_from(FRAME_KEYS), values, max_size=6),
    values,
)
"""Channel frames: mostly maps keyed like the real ones, sometimes anything."""

_text = st.text(max_size=20)
agent_infos = st.builds(
    AgentInfo,
    _text,
    _text,
    st.lists(U64, max_size=4).map(tuple),
    _text,
    st.lists(_text, max_size=3).map(tuple),
)
messages: st.SearchStrategy[Message] = st.one_of(
    st.builds(AgentInfoRequest, U64),
    st.builds(AgentInfoResponse, U64, agent_infos),
    st.builds(AgentInfoEvent, agent_infos),
    st.builds(AgentStatusRequest, U64, st.none() | _text),
    st.builds(AgentStatusResponse, U64, st.none() | _text),
    st.builds(
        AuthCapabilities,
        st.integers(0, 100),
        st.lists(st.sampled_from([0, 1]), max_size=2).map(tuple),
        st.integers(20, 60),
    ),
    st.builds(AuthSpake2Handshake, st.none() | _text, st.sampled_from(list(PskStatus)), st.binary(max_size=64)),
    st.builds(AuthSpake2Confirmation, st.binary(min_size=32, max_size=32)),
    st.builds(AuthStatus, st.sampled_from(list(AuthResult))),
    st.builds(DataChannelOpenRequest, U64, st.integers(0, 65534), _text, _text),
    st.builds(DataChannelOpenResponse, U64, st.sampled_from([int(r) for r in OpenResult])),
    st.builds(DataFrame, st.binary(max_size=200), U64),
)
"""Every message of the profile with valid fields."""
