"""The per-reading fast paths give exactly what the general code gives (parse_reading, frame sizes,
the data-frame message every reading rides in)."""

from __future__ import annotations

import enum
from collections import OrderedDict
from types import MappingProxyType
from typing import Any

import pytest

from device_sdk.channels import FrameError, Reading
from device_sdk.channels.frames import parse_reading
from device_sdk.channels.session import approx_size, reading_frame_size
from device_sdk.wire import DataFrame
from device_sdk.wire.messages import SchemaError


class Small(enum.IntEnum):
    ONE = 1


ACCEPTED: list[tuple[object, Reading]] = [
    ({"s": 1, "t": 2.5, "v": 1.0}, Reading(1, 2.5, 1.0)),
    ({"s": 0, "t": 2.5, "v": True}, Reading(0, 2.5, True)),
    ({"s": 1, "t": 2, "v": "x"}, Reading(1, 2.0, "x")),  # an int time: the general path
    ({"s": Small.ONE, "t": 1.0, "v": b"\x00"}, Reading(1, 1.0, b"\x00")),  # an int subclass
    ({"s": 1, "t": 1.0, "v": {"a": [1]}, "extra": 0}, Reading(1, 1.0, {"a": [1]})),
    ({"s": 1, "t": 1.0, "v": [1, "a"]}, Reading(1, 1.0, [1, "a"])),
    ({"s": 1, "t": 1.0, "v": (1, 2)}, Reading(1, 1.0, (1, 2))),
    ({"s": 1, "t": 1.0, "v": Small.ONE}, Reading(1, 1.0, Small.ONE)),
    (OrderedDict(s=1, t=1.0, v=1), Reading(1, 1.0, 1)),
    (MappingProxyType({"s": 1, "t": 1.0, "v": 1}), Reading(1, 1.0, 1)),
]

REJECTED: list[object] = [
    {"s": -1, "t": 1.0, "v": 1},
    {"s": True, "t": 1.0, "v": 1},
    {"s": 1.0, "t": 1.0, "v": 1},
    {"s": 1, "t": True, "v": 1},
    {"s": 1, "t": "1", "v": 1},
    {"t": 1.0, "v": 1},
    {"s": 1, "v": 1},
    {"s": 1, "t": 1.0},
    {"s": 1, "t": 1.0, "v": None},
    {"s": 1, "t": 1.0, "v": {1: "integer key"}},
    {"s": 1, "t": 1.0, "v": object()},
    [1, 1.0, 1],
    None,
]


@pytest.mark.parametrize(("frame", "expected"), ACCEPTED)
def test_parse_reading_accepts(frame: object, expected: Reading) -> None:
    reading = parse_reading(frame)
    assert reading == expected
    assert type(reading.t) is float


@pytest.mark.parametrize("frame", REJECTED)
def test_parse_reading_rejects(frame: object) -> None:
    with pytest.raises(FrameError):
        parse_reading(frame)


@pytest.mark.parametrize(
    "frame",
    [
        {"s": 1, "t": 1.0, "v": 1.5},
        {"s": 2**40, "t": 1.0, "v": True},
        {"s": 1, "t": 1.0, "v": "text value"},
        {"s": 1, "t": 1.0, "v": b"\x00" * 100},
        {"s": 1, "t": 1.0, "v": {"x": 1.0, "y": [1, 2, {"z": "w"}]}},
        {"s": 1, "t": 1, "v": 1},  # not a reading frame as queued: measured in full
        {"s": "1", "t": 1.0, "v": 1},
        {"s": 1, "t": 1.0, "x": 1},
        {"s": 1, "t": 1.0, "v": 1, "extra": "key"},
        {"format": {"codec": "pcm"}},
    ],
)
def test_reading_frame_size_is_approx_size(frame: dict[str, Any]) -> None:
    assert reading_frame_size(frame) == approx_size(frame)


def test_approx_size_exact_and_abstract_types_agree() -> None:
    plain = {"a": 1, "b": [1.0, "xy", b"z"], "c": {"d": True}}
    assert approx_size(plain) == approx_size(MappingProxyType(plain)) == 3 + 4 + 9 + 4 + 3 + 9 + 5 + 4 + 4 + 3 + 4 + 9


DATA_FRAMES_ACCEPTED: list[tuple[dict[Any, Any], DataFrame]] = [
    ({0: 2, 4: b"\xa0"}, DataFrame(b"\xa0")),
    ({0: 0, 4: b""}, DataFrame(b"", 0)),
    ({0: 2**64 - 1, 4: b"x"}, DataFrame(b"x", 2**64 - 1)),
    ({0: 2, 1: 7, 4: b"x"}, DataFrame(b"x")),  # a channel id (key 1): the general path checks it
    ({0: 2, 4: b"x", 9: "unknown keys are ignored"}, DataFrame(b"x")),
]

DATA_FRAMES_REJECTED: list[dict[Any, Any]] = [
    {0: -1, 4: b"x"},
    {0: 2**64, 4: b"x"},
    {0: True, 4: b"x"},
    {0: 2.0, 4: b"x"},
    {0: 2, 4: "text, not bytes"},
    {0: 2, 4: bytearray(b"x")},
    {0: 2, 1: -1, 4: b"x"},
    {4: b"x"},
    {0: 2},
]


@pytest.mark.parametrize(("body", "expected"), DATA_FRAMES_ACCEPTED)
def test_data_frame_from_cbor_accepts(body: dict[Any, Any], expected: DataFrame) -> None:
    assert DataFrame.from_cbor(body) == expected


@pytest.mark.parametrize("body", DATA_FRAMES_REJECTED)
def test_data_frame_from_cbor_rejects(body: dict[Any, Any]) -> None:
    with pytest.raises(SchemaError):
        DataFrame.from_cbor(body)
