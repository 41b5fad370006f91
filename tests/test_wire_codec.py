"""The message codec (profile section 3): round trips, splitting, leniency and the ordered errors.

Malformed-CBOR cases come from RFC 8949 appendix F; schema cases from ``docs/osp-messages.cddl``.
"""

from __future__ import annotations

from typing import Any

import cbor2
import pytest

from device_sdk.errors import LocalProtocolError, RemoteProtocolError
from device_sdk.wire import (
    MESSAGE_TYPES,
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
    MessageDecoder,
    OpenResult,
    PskStatus,
    decode_body,
    encode_message,
    encode_varint,
)
from device_sdk.wire.cbor import CborScanner, flat_item_end, loads_item
from device_sdk.wire.codec import DEFAULT_MAX_MESSAGE_SIZE, MAX_NESTING

pytestmark = pytest.mark.timeout(30)

INFO = AgentInfo("Küche Licht", "Acme Lamp 2000", (1100, 1300), "Ab3dEf7h", ("en", "de-CH"))
U64 = 2**64 - 1

# At least one of every type key, with the optional parts both present and absent.
SAMPLES: list[Message] = [
    AgentInfoRequest(1),
    AgentInfoRequest(U64),
    AgentInfoResponse(7, INFO),
    AgentInfoResponse(0, AgentInfo("", "", (), "00000000", ())),
    AgentInfoEvent(INFO),
    AgentStatusRequest(2),
    AgentStatusRequest(3, "ok"),
    AgentStatusResponse(2),
    AgentStatusResponse(3, "busy"),
    AuthCapabilities(50, (0, 1), 20),
    AuthCapabilities(0, (), 60),
    AuthCapabilities(100, (1,), 40),
    AuthSpake2Handshake(None, PskStatus.NEEDS_PRESENTATION, b""),
    AuthSpake2Handshake("tok-1", PskStatus.INPUT, bytes(range(32))),
    AuthSpake2Handshake(None, PskStatus.SHOWN, b"\x58" * 32),
    AuthSpake2Confirmation(bytes(range(100, 132))),
    *(AuthStatus(r) for r in AuthResult),
    DataChannelOpenRequest(5, 0, "catalog", "device-sdk.catalog.v1"),
    DataChannelOpenRequest(6, 65534, "temp", "device-sdk.sensor.v1"),
    *(DataChannelOpenResponse(5, int(r)) for r in OpenResult),
    DataFrame(cbor2.dumps({"s": 1, "t": 1.5e9, "v": 21.5})),
    DataFrame(b"", 0),
]


def enc(key: int, item: Any) -> bytes:
    """A message from a type key and a CBOR value (or raw CBOR bytes)."""
    return encode_varint(key) + (item if isinstance(item, bytes) else cbor2.dumps(item))


def decode_all(data: bytes, **kw: Any) -> list[Message]:
    dec = MessageDecoder(**kw)
    out = dec.feed(data)
    dec.end_of_stream()
    return out


def error_of(*chunks: bytes, eos: bool = False, **kw: Any) -> RemoteProtocolError:
    """Feed ``chunks`` (and the end of the stream); return the error raised."""
    dec = MessageDecoder(**kw)
    with pytest.raises(RemoteProtocolError) as info:
        for chunk in chunks:
            dec.feed(chunk)
        if eos:
            dec.end_of_stream()
    return info.value


# -- round trips -----------------------------------------------------------------------------------


def test_samples_cover_every_type_key() -> None:
    assert {type(m).TYPE_KEY for m in SAMPLES} == set(MESSAGE_TYPES)
    assert set(MESSAGE_TYPES) == {10, 11, 120, 12, 13, 1001, 1005, 1003, 1004, 1101, 1102, 24}
    for key, cls in MESSAGE_TYPES.items():
        assert key == cls.TYPE_KEY


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_round_trip(msg: Message) -> None:
    data = encode_message(msg)
    key = encode_varint(msg.TYPE_KEY)
    assert data.startswith(key)
    assert cbor2.loads(data[len(key) :]) == msg.to_cbor()
    assert decode_all(data) == [msg]
    assert decode_body(msg.TYPE_KEY, data[len(key) :]) == msg


@pytest.mark.parametrize(
    ("msg", "hex_"),
    [
        (AgentInfoRequest(1), "0a a1 0001"),
        (AgentStatusRequest(2, "ok"), "0c a2 0002 01a10062 6f6b"),
        (AuthStatus(AuthResult.AUTHENTICATED), "43ec a1 0000"),
        (DataChannelOpenResponse(9, 102), "444e a2 0009 011866"),
        (DataFrame(b"\x01"), "18 a2 0002 044101"),
        (AuthSpake2Handshake(None, PskStatus.SHOWN, b""), "43ed a3 00a0 0101 0240"),
    ],
)
def test_exact_bytes(msg: Message, hex_: str) -> None:
    """Hand-encoded: varint type key, then the map with the 0-based integer keys of the CDDL."""
    assert encode_message(msg).hex() == hex_.replace(" ", "")


def big_frame(payload_size: int) -> DataFrame:
    return DataFrame(bytes(i & 0xFF for i in range(payload_size)))


# several different messages with a large data-frame (its payload needs a 4-byte length head) among them
STREAM_MESSAGES: list[Message] = [SAMPLES[2], SAMPLES[21], big_frame(65_600), SAMPLES[16], SAMPLES[-2]]
STREAM = b"".join(encode_message(m) for m in STREAM_MESSAGES)


def test_several_messages_in_sequence_on_one_stream() -> None:
    data = b"".join(encode_message(m) for m in SAMPLES) + STREAM
    assert decode_all(data) == [*SAMPLES, *STREAM_MESSAGES]
    dec = MessageDecoder()
    dec.receive(data)
    got = []
    while (msg := dec.next_message()) is not None:
        got.append(msg)
    assert got == [*SAMPLES, *STREAM_MESSAGES]
    assert dec.buffered == 0 and not dec.in_message
    dec.end_of_stream()


@pytest.mark.parametrize("messages", [SAMPLES, STREAM_MESSAGES], ids=["all-samples", "with-65600-byte-frame"])
def test_split_at_every_position(messages: list[Message]) -> None:
    """A stream of several messages cut in two at every position decodes to the same messages."""
    encoded = [encode_message(m) for m in messages]
    stream = b"".join(encoded)
    ends = [sum(map(len, encoded[: i + 1])) for i in range(len(encoded))]
    view = memoryview(stream)  # slicing a view copies nothing; the decoder takes any buffer
    for cut in range(len(stream) + 1):
        dec = MessageDecoder()
        first = dec.feed(view[:cut])  # type: ignore[arg-type]
        assert dec.buffered == cut - (ends[len(first) - 1] if first else 0)
        rest = dec.feed(view[cut:])  # type: ignore[arg-type]
        dec.end_of_stream()
        assert first + rest == messages, cut


def test_one_byte_at_a_time() -> None:
    dec = MessageDecoder()
    got: list[Message] = []
    for i in range(len(STREAM)):
        got += dec.feed(STREAM[i : i + 1])
        assert dec.in_message == (i + 1 < len(STREAM) and dec.buffered > 0)
    assert got == STREAM_MESSAGES
    dec.end_of_stream()


def test_message_completes_exactly_when_its_last_byte_arrives() -> None:
    for msg in SAMPLES:
        data = encode_message(msg)
        dec = MessageDecoder()
        assert dec.feed(data[:-1]) == []
        assert dec.in_message
        assert dec.feed(data[-1:]) == [msg]
        assert not dec.in_message


# -- indefinite lengths ----------------------------------------------------------------------------

INDEFINITE_CASES = [
    # data-frame as an indefinite map, payload an indefinite byte string of two chunks
    ("18 bf 0002 04 5f 426162 4163 ff ff", DataFrame(b"abc")),
    # agent-info with indefinite arrays and a chunked text string
    (
        "0b a2 0001 01 bf 00 7f 6141 6142 ff 01 6142 02 9f 19044c ff 03 6130 04 9f 626465 ff ff",
        AgentInfoResponse(1, AgentInfo("AB", "B", (1100,), "0", ("de",))),
    ),
    # empty indefinite containers and strings
    ("0c bf 00 01 01 bf 00 7fff ff ff", AgentStatusRequest(1, "")),
    ("43eb a1 00 5f 5820" + "11" * 32 + " ff", AuthSpake2Confirmation(b"\x11" * 32)),
]


@pytest.mark.parametrize(("hex_", "msg"), INDEFINITE_CASES)
def test_indefinite_length_items(hex_: str, msg: Message) -> None:
    data = bytes.fromhex(hex_.replace(" ", ""))
    assert decode_all(data) == [msg]
    for cut in range(len(data) + 1):
        dec = MessageDecoder()
        assert dec.feed(data[:cut]) + dec.feed(data[cut:]) == [msg]


# -- leniency --------------------------------------------------------------------------------------

EXTRAS: dict[Any, Any] = {99: "x", 1000: [1, 2], -5: None, "ext": {"a": 1}, "x-vendor": b"\x00"}


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_unknown_integer_and_string_keys_are_ignored(msg: Message) -> None:
    item = msg.to_cbor() | EXTRAS
    assert decode_all(enc(msg.TYPE_KEY, item)) == [msg]


def test_unknown_keys_in_nested_maps_are_ignored() -> None:
    info = INFO.to_cbor() | EXTRAS
    assert decode_all(enc(11, {0: 7, 1: info})) == [AgentInfoResponse(7, INFO)]
    assert decode_all(enc(120, {0: info})) == [AgentInfoEvent(INFO)]
    assert decode_all(enc(12, {0: 1, 1: {0: "ok", 5: 1, "s": 2}})) == [AgentStatusRequest(1, "ok")]
    hs = {0: {0: "t", 9: 9, "k": "v"}, 1: 2, 2: b""}
    assert decode_all(enc(1005, hs)) == [AuthSpake2Handshake("t", PskStatus.INPUT, b"")]


def test_data_frame_optional_keys() -> None:
    item = {0: 2, 1: 17, 2: 1.5, 3: [1, "any"], 4: b"\xf6", 5: {"a": None}}
    assert decode_all(enc(24, item)) == [DataFrame(b"\xf6")]


def test_non_minimal_type_key_encoding() -> None:
    """RFC 9000: a varint need not be in its shortest form; 0x400a is type key 10."""
    assert decode_all(b"\x40\x0a" + cbor2.dumps({0: 3})) == [AgentInfoRequest(3)]


# -- 404: unknown type key ---------------------------------------------------------------------------

UNKNOWN_KEYS = [0, 1, 9, 14, 23, 25, 63, 64, 119, 121, 1000, 1002, 1006, 1100, 1103, 16383, 2**30, 2**62 - 1]


@pytest.mark.parametrize("key", UNKNOWN_KEYS)
def test_unknown_type_key_404_as_soon_as_the_key_is_read(key: int) -> None:
    data = encode_varint(key)
    dec = MessageDecoder()
    assert dec.feed(data[:-1]) == []  # not yet a whole key: no verdict
    with pytest.raises(RemoteProtocolError) as info:
        dec.feed(data[-1:])  # no CBOR follows yet
    assert info.value.code == 404
    assert str(key) in info.value.reason.split()


def test_unknown_type_key_after_good_messages() -> None:
    dec = MessageDecoder()
    dec.receive(encode_message(AgentInfoRequest(1)) + encode_varint(1234) + cbor2.dumps({0: 1}))
    assert dec.next_message() == AgentInfoRequest(1)
    with pytest.raises(RemoteProtocolError) as info:
        dec.next_message()
    assert info.value.code == 404 and "1234" in info.value.reason


# -- 413: too much buffered for one message --------------------------------------------------------


def test_size_limit_boundary() -> None:
    limit = 1000
    overhead = len(encode_message(DataFrame(b"")))
    exact = big_frame(limit - overhead - 2)  # a 1-byte bstr head grows to 3 bytes past 23 bytes
    assert len(encode_message(exact)) == limit
    assert decode_all(encode_message(exact), max_message_size=limit) == [exact]
    over = encode_message(big_frame(limit - overhead - 1))
    assert len(over) == limit + 1
    assert error_of(over, max_message_size=limit).code == 413
    # the same bytes arriving in pieces: 413 once the limit is passed, not before
    dec = MessageDecoder(max_message_size=limit)
    assert dec.feed(over[:limit]) == []
    with pytest.raises(RemoteProtocolError) as info:
        dec.feed(over[limit:])
    assert info.value.code == 413


def test_default_limit_is_1_mib_and_counts_incomplete_messages() -> None:
    """A 2 MiB byte string declared and partly sent: 413 once more than 1 MiB is buffered."""
    assert DEFAULT_MAX_MESSAGE_SIZE == 1 << 20
    head = encode_varint(24) + bytes.fromhex("a2 0002 04 5a00200000".replace(" ", ""))
    dec = MessageDecoder()
    assert dec.feed(head) == []
    chunk = b"\x00" * 65536
    while dec.buffered + len(chunk) <= DEFAULT_MAX_MESSAGE_SIZE:
        assert dec.feed(chunk) == []
    assert dec.feed(b"\x00" * (DEFAULT_MAX_MESSAGE_SIZE - dec.buffered)) == []
    with pytest.raises(RemoteProtocolError) as info:
        dec.feed(b"\x00")
    assert info.value.code == 413


def test_limit_is_per_message_not_per_stream() -> None:
    msgs = [big_frame(700) for _ in range(5)]
    assert decode_all(b"".join(encode_message(m) for m in msgs), max_message_size=800) == msgs


def test_encoding_above_max_size_is_a_local_error() -> None:
    msg = big_frame(2000)
    size = len(encode_message(msg))
    assert encode_message(msg, max_size=size)
    with pytest.raises(LocalProtocolError) as info:
        encode_message(msg, max_size=size - 1)
    assert info.value.code == 413
    with pytest.raises(LocalProtocolError):
        encode_message(big_frame(DEFAULT_MAX_MESSAGE_SIZE))


# -- 400: malformed CBOR (RFC 8949 appendix F.1) -------------------------------------------------------

NOT_WELL_FORMED = [
    # reserved additional information 28..30, every major type
    *(f"{major << 5 | ai:02x}" for major in range(8) for ai in (28, 29, 30)),
    # two-byte encodings of simple values below 32
    "f800", "f801", "f818", "f81f",
    # indefinite-length string chunks of the wrong type or themselves indefinite
    "5f00ff", "5f21ff", "5f6100ff", "5f80ff", "5fa0ff", "5fc000ff", "5fe0ff", "7f4100ff",
    "5f5f4100ffff", "7f7f6100ffff",
    # break outside an indefinite-length item, or inside a definite one or a tag
    "ff", "81ff", "8200ff", "a1ff", "a1ff00", "a100ff", "a20000ff", "9f81ff", "9f829f819f9fffffffff",
    "c0ff",
    # break in the value position of an indefinite-length map
    "bf00ff", "bf000000ff",
    # indefinite length for major types 0, 1 and 6
    "1f", "3f", "df",
]  # fmt: skip


@pytest.mark.parametrize("hex_", NOT_WELL_FORMED)
def test_not_well_formed_cbor_is_400(hex_: str) -> None:
    data = enc(10, bytes.fromhex(hex_))
    assert error_of(data, eos=True).code == 400
    # also when it is the value of a key the receiver would ignore
    inner = bytes.fromhex("a2 0001 1863".replace(" ", "")) + bytes.fromhex(hex_)
    assert error_of(enc(10, inner), eos=True).code == 400


@pytest.mark.parametrize(
    "hex_",
    ["5f00ff", "f81f", "1c", "ff", "c0ff", "1f", "bf00ff"],
)
def test_malformed_cbor_detected_as_the_bytes_arrive(hex_: str) -> None:
    """Not at the end of the message or stream: the first bad byte is enough."""
    head = bytes.fromhex("a3 0002 1863".replace(" ", "")) + bytes.fromhex(hex_)
    data = enc(24, head + bytes.fromhex("04 5a 00010000".replace(" ", "")) + b"\x00" * 100)  # 64 KiB to come
    assert error_of(data).code == 400


def test_well_formed_values_in_ignored_keys_are_fine() -> None:
    """The counterparts of the cases above: simple(32), definite chunks. (A tag, even well-formed,
    is a 400 since profile v1.1: see test_a_tag_anywhere_is_400.)"""
    for hex_ in ["f820", "5f4100ff", "7f6100ff", "f97e00", "bfff", "9fff"]:
        data = enc(10, bytes.fromhex("a2 0001 1863".replace(" ", "")) + bytes.fromhex(hex_))
        assert decode_all(data) == [AgentInfoRequest(1)], hex_


def nested(depth: int) -> bytes:
    """An agent-info-request map (1 level) whose ignored key 99 holds ``depth - 1`` nested arrays."""
    return enc(10, bytes.fromhex("a2 0001 1863".replace(" ", "")) + b"\x81" * (depth - 1) + b"\x00")


def test_nesting_limit() -> None:
    assert decode_all(nested(MAX_NESTING)) == [AgentInfoRequest(1)]
    assert error_of(nested(MAX_NESTING + 1)).code == 400
    # far too deep: an immediate 400, no recursion error
    assert error_of(enc(10, b"\x81" * 100_000)).code == 400
    assert error_of(enc(10, b"\xd8\x20" * 100_000)).code == 400  # tags count too


def test_invalid_utf8_is_400() -> None:
    assert error_of(enc(12, bytes.fromhex("a2 0001 01 a1 00 62 c328".replace(" ", "")))).code == 400


# -- 400: the stream ends inside a message ---------------------------------------------------------


@pytest.mark.parametrize("msg", SAMPLES[::3], ids=lambda m: type(m).__name__)
def test_end_of_stream_inside_a_message(msg: Message) -> None:
    data = encode_message(msg)
    for cut in range(1, len(data)):
        dec = MessageDecoder()
        assert dec.feed(data[:cut]) == []
        with pytest.raises(RemoteProtocolError) as info:
            dec.end_of_stream()
        assert info.value.code == 400


def test_end_of_stream_between_messages_is_fine() -> None:
    dec = MessageDecoder()
    dec.end_of_stream()
    dec.feed(encode_message(AgentInfoRequest(1)))
    dec.end_of_stream()


# -- 400: the item does not match its rule ---------------------------------------------------------

GOOD_INFO = INFO.to_cbor()
SCHEMA_MISMATCHES: list[tuple[int, Any]] = [
    (10, [1]), (10, 1),  # not a map
    (10, {}), (10, {1: 1}),  # missing key
    (10, {0: "1"}), (10, {0: -1}), (10, {0: 1.0}), (10, {0: None}),  # wrong types
    (10, {0: True}),  # bool where uint expected
    (10, {0: 2**64}),  # out of range (a bignum)
    (11, {0: 1}), (11, {0: 1, 1: []}),
    (11, {0: 1, 1: GOOD_INFO | {0: b"name"}}),
    (11, {0: 1, 1: {k: v for k, v in GOOD_INFO.items() if k != 4}}),
    (11, {0: 1, 1: GOOD_INFO | {2: ["1100"]}}), (11, {0: 1, 1: GOOD_INFO | {2: [-1]}}),
    (11, {0: 1, 1: GOOD_INFO | {2: [True]}}), (11, {0: 1, 1: GOOD_INFO | {2: 1100}}),
    (11, {0: 1, 1: GOOD_INFO | {3: 12345678}}), (11, {0: 1, 1: GOOD_INFO | {4: [1]}}),
    (120, {}), (120, {0: "info"}),
    (12, {0: 1, 1: "ok"}), (12, {0: 1, 1: {}}), (13, {0: 1, 1: {0: 5}}), (13, {1: {0: "ok"}}),
    (1001, {0: 101, 1: [0], 2: 20}), (1001, {0: -1, 1: [0], 2: 20}), (1001, {0: 50, 1: [2], 2: 20}),
    (1001, {0: 50, 1: [0], 2: 19}), (1001, {0: 50, 1: [0], 2: 61}), (1001, {0: 50, 1: [0], 2: True}),
    (1001, {0: 50, 2: 20}),
    (1005, {0: "tok", 1: 0, 2: b""}), (1005, {0: {0: 5}, 1: 0, 2: b""}), (1005, {0: {}, 1: 3, 2: b""}),
    (1005, {0: {}, 1: 0, 2: "point"}), (1005, {0: {}, 1: 0}),
    (1003, {}), (1003, {0: "\x00" * 32}),
    (1003, {0: b"\x00" * 31}), (1003, {0: b"\x00" * 33}),  # wrong confirmation size
    (1004, {0: 6}), (1004, {0: -1}), (1004, {0: False}),
    (1101, {0: 1, 1: 65535, 2: "l", 3: "p"}), (1101, {0: 1, 1: -1, 2: "l", 3: "p"}),
    (1101, {0: 1, 1: 2, 2: "l"}), (1101, {0: 1, 1: 2, 2: b"l", 3: "p"}),
    (1102, {0: 1, 1: 0}), (1102, {0: 1, 1: 2}), (1102, {0: 1, 1: True}), (1102, {1: 1}),
    (24, {0: 2}), (24, {4: b""}),  # missing payload, missing encoding-id
    (24, {0: -1, 4: b""}), (24, {0: 2, 4: "text"}),
    (24, {0: 2, 1: -1, 4: b""}), (24, {0: 2, 1: "seq", 4: b""}),
]  # fmt: skip


@pytest.mark.parametrize(("key", "item"), SCHEMA_MISMATCHES)
def test_schema_mismatch_is_400(key: int, item: Any) -> None:
    err = error_of(enc(key, item))
    assert err.code == 400
    assert err.reason


def test_uint_range_edges() -> None:
    assert decode_all(enc(10, {0: U64})) == [AgentInfoRequest(U64)]
    info = GOOD_INFO | {2: [0, U64]}
    assert decode_all(enc(11, {0: 1, 1: info})) == [
        AgentInfoResponse(1, AgentInfo(INFO.display_name, INFO.model_name, (0, U64), "Ab3dEf7h", INFO.locales))
    ]
    # capabilities are uint: a bignum above 2^64-1 is out of range, as for request-id
    assert error_of(enc(11, {0: 1, 1: GOOD_INFO | {2: [2**64]}})).code == 400


# -- the order of errors found at the same moment ---------------------------------------------------


def test_404_before_413_before_400() -> None:
    junk = b"\xff" + b"\x1c" * 3000  # malformed and far beyond the limit
    # unknown key + too large + malformed, all in one chunk
    err = error_of(encode_varint(4242) + junk, max_message_size=1000)
    assert (err.code, "4242" in err.reason) == (404, True)
    # known key + too large + malformed (found together: the bad byte comes after the limit)
    big_then_bad = bytes.fromhex("a3 0002 04 5907d0".replace(" ", "")) + b"\x00" * 2000 + b"\x1c"
    assert error_of(enc(24, big_then_bad), max_message_size=1000).code == 413
    # known key + too large + schema mismatch (complete message, missing payload key 4)
    too_big_bad_schema = enc(24, {0: 2, 9: b"\x00" * 2000})
    assert error_of(too_big_bad_schema, max_message_size=1000).code == 413
    assert error_of(too_big_bad_schema).code == 400
    # a partial message: 413 before the end of the stream's 400
    assert error_of(enc(24, big_then_bad[:1500]), eos=True, max_message_size=1000).code == 413


def test_first_error_found_closes() -> None:
    """Errors found at different moments: the earlier one wins (the list orders only ties)."""
    dec = MessageDecoder(max_message_size=1000)
    with pytest.raises(RemoteProtocolError) as info:
        dec.feed(enc(24, bytes.fromhex("a3 0002 04 40 1c".replace(" ", ""))))
    assert info.value.code == 400  # the bad byte arrived before anything near the limit


# -- the flat shortcut of the scanner ----------------------------------------------------------------


@pytest.mark.parametrize(
    "item",
    [
        "a10018ff",  # {0: 255}: a one-byte argument
        "a2617342ff006174187b",  # {"s": h'ff00', "t": 123}
        "83f4f5f6",  # [false, true, null]
        "82f93c00fb3ff8000000000000",  # [1.0 (half), 1.5 (double)]
        "a0",  # {}
        "98",  # not a flat head: an array whose count follows (left to the general scan)
    ],
)
def test_the_flat_shortcut_ends_flat_items_where_cbor2_does(item: str) -> None:
    data = bytes.fromhex(item)
    if data[0] == 0x98:
        assert flat_item_end(data) is None
        return
    assert flat_item_end(data + b"\x00") == len(data) == CborScanner().scan(data + b"\x00")
    assert loads_item(data) == cbor2.loads(data)


@pytest.mark.parametrize(
    ("item", "why"),
    [
        ("a100f810", "simple value below 32"),  # {0: simple(16) in two bytes}
        ("a1001c", "reserved"),
        ("a1001f", "indefinite length not allowed"),  # an indefinite unsigned integer
        ("a1005f41ffff", ""),  # an indefinite byte string: well-formed, left to the general scan
        ("8100ff", "bytes after the item"),  # [0] then a break
        ("81ff", "unexpected break"),
        ("81c100", "tag"),
        ("a100a100a0", ""),  # {0: {0: {}}}: nested, the general scan
    ],
)
def test_what_the_flat_shortcut_leaves_to_the_general_scan(item: str, why: str) -> None:
    data = bytes.fromhex(item)
    end = flat_item_end(data)
    assert end is None or end < len(data)
    if why:
        with pytest.raises(ValueError, match=why):
            loads_item(data)
    else:
        assert loads_item(data) == cbor2.loads(data)
