"""Profile v1.1 section 3: CBOR items of major types 0-5 and 7 only. A semantic tag anywhere is a 400
before cbor2 sees the item, for messages and for channel frames; the encoder never emits one."""

from __future__ import annotations

import datetime
import decimal
import re
from typing import Any

import cbor2
import pytest

from device_sdk.channels import FrameError, dumps_frame, loads_frame, parse_input_datagram
from device_sdk.errors import LocalProtocolError, RemoteProtocolError
from device_sdk.wire import (
    WIRE_INT_MAX,
    WIRE_INT_MIN,
    AgentInfoRequest,
    CborScanner,
    DataFrame,
    MessageDecoder,
    decode_body,
    dumps_item,
    encode_message,
    encode_varint,
    loads_item,
    unencodable,
)
from device_sdk.wire import codec as codec_module
from device_sdk.wire.codec import DEFAULT_MAX_MESSAGE_SIZE

from ._abuse import hostile_messages

pytestmark = pytest.mark.timeout(30)

# Tags that cbor2 decodes itself, each with a content that costs it time or memory, and others.
TAGGED = {
    "decimal fraction with a huge exponent (tag 4)": cbor2.CBORTag(4, [10**6, 1]),
    "bigfloat (tag 5)": cbor2.CBORTag(5, [10**6, 3]),
    "regular expression (tag 35)": cbor2.CBORTag(35, "(a+)+$" * 50),
    "bignum (tag 2)": 2**200,
    "negative bignum (tag 3)": -(2**200),
    "date/time string (tag 0)": cbor2.CBORTag(0, "2024-01-01T00:00:00Z"),
    "epoch time (tag 1)": cbor2.CBORTag(1, 1.5e9),
    "shared reference (tag 28/29)": cbor2.CBORTag(29, 0),
    "string reference namespace (tag 256)": cbor2.CBORTag(256, ["a", cbor2.CBORTag(25, 0)]),
    "set (tag 258)": cbor2.CBORTag(258, [1, 2]),
    "self-describe (tag 55799)": cbor2.CBORTag(55799, 0),
    "unknown tag": cbor2.CBORTag(2**40, "x"),
}


def agent_info_request_with(value: Any) -> bytes:
    """agent-info-request {0: 1, 99: value}: key 99 would be ignored, so only the tag can refuse it."""
    return encode_varint(10) + cbor2.dumps({0: 1, 99: value})


class _Cbor2Spy:
    """cbor2 as the codec module sees it, with ``loads`` recorded."""

    def __init__(self, loads: Any) -> None:
        self.loads = loads
        self.dumps = cbor2.dumps


@pytest.mark.parametrize("value", TAGGED.values(), ids=list(TAGGED))
def test_a_tag_anywhere_is_400(value: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[bytes] = []
    real_loads = cbor2.loads

    def spy(data: bytes, *args: Any, **kw: Any) -> Any:
        calls.append(bytes(data))
        return real_loads(data, *args, **kw)

    monkeypatch.setattr(codec_module, "cbor2", _Cbor2Spy(spy))
    for wrapped in (value, [value], {"deep": [[{"x": value}]]}):
        dec = MessageDecoder()
        with pytest.raises(RemoteProtocolError) as info:
            dec.feed(agent_info_request_with(wrapped))
        assert info.value.code == 400
        assert "tag" in info.value.reason
    assert calls == []  # cbor2 never saw a tagged item


def test_the_tag_is_refused_as_its_head_arrives() -> None:
    """The first bytes are enough: no waiting for the (large) tagged content."""
    head = bytes.fromhex("a2 0001 1863 c4 82 1a000f4240".replace(" ", ""))  # {0: 1, 99: 4([1000000, ...
    dec = MessageDecoder()
    with pytest.raises(RemoteProtocolError) as info:
        dec.feed(encode_varint(10) + head)
    assert info.value.code == 400


def test_decode_body_checks_for_tags_itself() -> None:
    assert decode_body(10, cbor2.dumps({0: 1})) == AgentInfoRequest(1)
    with pytest.raises(RemoteProtocolError) as info:
        decode_body(10, cbor2.dumps({0: 1, 99: cbor2.CBORTag(4, [10**6, 1])}))
    assert info.value.code == 400


def test_the_largest_integers_without_a_tag_still_decode() -> None:
    for value in (WIRE_INT_MAX, WIRE_INT_MIN, 0, -1):
        assert loads_item(cbor2.dumps(value)) == value
    assert MessageDecoder().feed(agent_info_request_with([WIRE_INT_MAX, WIRE_INT_MIN])) == [AgentInfoRequest(1)]


@pytest.mark.parametrize("value", TAGGED.values(), ids=list(TAGGED))
def test_frames_and_datagrams_with_a_tag_are_refused(value: Any) -> None:
    for frame in ({"id": 1, "set": value}, {"s": 1, "t": 1.0, "v": {"x": [value]}}):
        data = cbor2.dumps(frame)
        with pytest.raises(FrameError, match="tag"):
            loads_frame(data)
        with pytest.raises(FrameError, match="tag"):
            parse_input_datagram(encode_varint(3) + data)


def test_regular_expression_cache_is_untouched() -> None:
    """Tag 35 went through re.compile and its cache (issue 13): no pattern is compiled now."""
    re.purge()
    before = re._cache.copy()  # type: ignore[attr-defined]
    for n in range(20):
        with pytest.raises(FrameError):
            loads_frame(cbor2.dumps({"v": cbor2.CBORTag(35, f"pattern-{n}")}))
    assert re._cache == before  # type: ignore[attr-defined]


def test_loads_item_refuses_what_is_not_exactly_one_item() -> None:
    assert loads_item(b"\x01") == 1
    for bad in (b"", b"\x01\x02", b"\x82\x01", b"\x1c", b"\xff", b"\x62\xc3\x28"):
        with pytest.raises(ValueError):
            loads_item(bad)
    deep = b"\x81" * 10 + b"\x00"
    assert loads_item(deep, max_nesting=10) is not None
    with pytest.raises(ValueError):
        loads_item(deep, max_nesting=9)


# -- the encoder ----------------------------------------------------------------------------------


UNENCODABLE = [
    2**64,
    -(2**64) - 1,
    2**1024,
    {"v": [1, {"deep": 2**100}]},
    {2**70: "key"},
    {1, 2},
    frozenset({1}),
    datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
    datetime.date(2024, 1, 1),
    decimal.Decimal("1.5"),
    re.compile("x"),
    memoryview(b"x"),
    cbor2.CBORTag(1, 0),
    object(),
]


@pytest.mark.parametrize("value", UNENCODABLE, ids=lambda v: type(v).__name__)
def test_the_encoder_never_emits_a_tag(value: Any) -> None:
    assert unencodable(value) is not None
    with pytest.raises(ValueError):
        dumps_item(value)
    with pytest.raises(ValueError):
        dumps_frame({"id": 1, "ok": True, "v": value})


def test_what_the_encoder_accepts_decodes_to_itself() -> None:
    value = {
        "i": [0, -1, WIRE_INT_MAX, WIRE_INT_MIN, True, False, None],
        "f": [1.5, float("inf"), -0.0],
        "b": b"\x00\xff",
        "t": "Küche",
        "m": {1: {"x": [[[]]]}},
        "tuple": (1, 2),
        "ba": bytearray(b"ab"),
        "simple": [cbor2.undefined, cbor2.CBORSimpleValue(99)],
    }
    assert unencodable(value) is None
    data = dumps_item(value)
    assert CborScanner().scan(data) == len(data)
    back = loads_item(data)
    assert back["i"] == value["i"] and back["tuple"] == [1, 2] and back["ba"] == b"ab"


def test_encoder_refuses_nesting_deeper_than_a_receiver_accepts() -> None:
    value: Any = 0
    for _ in range(40):
        value = [value]
    assert unencodable(value) is not None
    assert unencodable(value, max_nesting=64) is None


def test_a_message_that_would_need_a_tag_is_a_local_error() -> None:
    with pytest.raises(LocalProtocolError) as info:
        encode_message(AgentInfoRequest(2**64))
    assert info.value.code == 400
    with pytest.raises(LocalProtocolError):
        encode_message(DataFrame(b"", 2**70))
    assert encode_message(AgentInfoRequest(WIRE_INT_MAX))


def test_hostile_one_mib_messages_decode_or_are_refused() -> None:
    """What bench/abuse.py times: each decodes (the tag-free ones) or is a 400 (the tagged ones).
    Correctness only here; the time is measured by the benchmark, not asserted."""
    for name, data in hostile_messages().items():
        assert len(data) <= DEFAULT_MAX_MESSAGE_SIZE, name
        dec = MessageDecoder()
        if "tag" in name:
            with pytest.raises(RemoteProtocolError) as info:
                dec.feed(data)
            assert info.value.code == 400, name
        else:
            assert dec.feed(data) == [AgentInfoRequest(1)], name
