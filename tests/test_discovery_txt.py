"""The TXT codec (profile section 1): round trips, every validation error, hostile values, names."""

from __future__ import annotations

import base64
import hashlib

import pytest

from device_sdk.discovery import (
    DeviceFilter,
    DeviceRecord,
    DiscoveredDevice,
    InvalidTxt,
    encode_txt,
    parse_txt,
    sanitize_display_name,
    short_discriminator,
)
from device_sdk.errors import DiscoveryError
from device_sdk.wire.varint import encode_varint

FP = base64.b64encode(hashlib.sha256(b"spki").digest()).decode()
AT = "Ab0+/zZ9aaaaBBBB"


def record(**changes: object) -> DeviceRecord:
    fields: dict[str, object] = {"fp": FP, "mv": 7, "at": AT, "sn": "7f01", "d": 3840, "cm": True}
    fields.update(changes)
    return DeviceRecord(**fields)  # type: ignore[arg-type]


def props(**changes: bytes | None) -> dict[bytes, bytes | None]:
    base: dict[bytes, bytes | None] = dict(encode_txt(record()))
    for key, value in changes.items():
        if value is None and key.endswith("_absent"):
            base.pop(key.removesuffix("_absent").encode(), None)
        else:
            base[key.encode()] = value
    return base


def test_encode_matches_the_profile_table() -> None:
    txt = encode_txt(record(mv=300, d=5, cm=False))
    assert txt == {
        b"fp": FP.encode(),
        b"mv": bytes([0x41, 0x2C]),  # 300 as a 2-byte QUIC varint
        b"at": AT.encode(),
        b"sn": b"7f01",
        b"d": b"5",
        b"cm": b"0",
    }
    assert b"d" not in encode_txt(record(d=None))


@pytest.mark.parametrize("mv", [0, 63, 64, 16383, 16384, 2**30, 2**62 - 1])
@pytest.mark.parametrize("d", [None, 0, 4095])
@pytest.mark.parametrize("cm", [False, True])
def test_round_trip(mv: int, d: int | None, cm: bool) -> None:
    rec = record(mv=mv, d=d, cm=cm)
    assert parse_txt(encode_txt(rec)) == rec


def test_keys_are_case_insensitive_and_first_occurrence_wins() -> None:
    upper = {k.upper(): v for k, v in encode_txt(record()).items()}
    assert parse_txt(upper) == record()
    # "CM" comes first, so the later "cm" is ignored (RFC 6763 section 6.4).
    dup: dict[bytes, bytes | None] = {b"CM": b"0", **encode_txt(record(cm=True))}
    assert parse_txt(dup).cm is False


def test_unknown_and_non_ascii_keys_are_ignored() -> None:
    extra = {**encode_txt(record()), b"vendor": b"x", "ключ".encode(): b"\xff", b"txtvers": None}
    assert parse_txt(extra) == record()


def test_non_minimal_varint_is_accepted() -> None:
    assert parse_txt(props(mv=bytes([0x40, 0x07]))).mv == 7


@pytest.mark.parametrize(
    ("key", "value"),
    [
        # fp: length, alphabet, padding, decoded size, canonical form
        ("fp", FP[:-1].encode()),
        ("fp", (FP + "A").encode()),
        ("fp", FP.replace(FP[0], "-").encode()),
        ("fp", (FP[:-1] + "A").encode()),  # 44 chars but no padding: 33 bytes
        ("fp", base64.urlsafe_b64encode(b"\xfb" * 32)),
        ("fp", b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB="),  # non-canonical trailing bits
        ("fp", b""),
        ("fp", None),
        # mv: empty, truncated, trailing bytes
        ("mv", b""),
        ("mv", bytes([0x40])),
        ("mv", bytes([0xC0, 0, 0])),
        ("mv", encode_varint(5) + b"\x00"),
        ("mv", None),
        # at: length, alphabet
        ("at", AT[:-1].encode()),
        ("at", (AT + "a").encode()),
        ("at", b"aaaaaaaaaaaaaaa="),
        ("at", b"aaaaaaaaaaaaaaa-"),
        ("at", "aaaaaaaaaaaaaaaé".encode()),
        ("at", None),
        # sn: uppercase, odd length, leading zero byte, not hex, too long, empty
        ("sn", b"7F01"),
        ("sn", b"7f0"),
        ("sn", b"007f"),
        ("sn", b"zz"),
        ("sn", b"ab" * 21),
        ("sn", b""),
        ("sn", None),
        # d: range, sign, not decimal, empty, too many digits
        ("d", b"4096"),
        ("d", b"-1"),
        ("d", b"+1"),
        ("d", b"0x10"),
        ("d", b" 12"),
        ("d", b""),
        ("d", b"00001"),
        ("d", "١٢".encode()),  # Arabic-Indic digits: int() would accept them
        ("d", None),
        # cm: only '0' or '1'
        ("cm", b"2"),
        ("cm", b"true"),
        ("cm", b""),
        ("cm", b"01"),
        ("cm", None),
    ],
)
def test_every_invalid_value_is_rejected(key: str, value: bytes | None) -> None:
    with pytest.raises(InvalidTxt) as info:
        parse_txt(props(**{key: value}))
    assert info.value.key == key
    assert key in str(info.value)


@pytest.mark.parametrize("key", ["fp", "mv", "at", "sn", "cm"])
def test_missing_required_key(key: str) -> None:
    with pytest.raises(InvalidTxt, match="missing") as info:
        parse_txt(props(**{f"{key}_absent": None}))
    assert info.value.key == key


def test_d_is_optional() -> None:
    assert parse_txt(props(d_absent=None)).d is None


def test_invalid_txt_is_a_discovery_error_and_a_value_error() -> None:
    assert issubclass(InvalidTxt, DiscoveryError)
    assert issubclass(InvalidTxt, ValueError)


def test_hostile_values_give_clear_errors_not_crashes() -> None:
    hostile: list[dict[bytes, bytes | None]] = [
        {},
        {b"": b""},
        {b"fp": b"\x00" * 255},
        {**encode_txt(record()), b"fp": b"=" * 44},
        {**encode_txt(record()), b"mv": b"\xff" * 255},
        {**encode_txt(record()), b"d": b"9" * 200},
        {**encode_txt(record()), b"sn": b"\xff\xfe"},
        {**encode_txt(record()), b"cm": b"\x00"},
    ]
    for txt in hostile:
        with pytest.raises(InvalidTxt):
            parse_txt(txt)


@pytest.mark.parametrize(
    "changes",
    [
        {"fp": "short"},
        {"mv": -1},
        {"mv": 2**62},
        {"mv": True},
        {"at": "a" * 15},
        {"sn": "ABCD"},
        {"d": 4096},
        {"d": -1},
        {"cm": 1},
    ],
)
def test_device_record_validates_on_construction(changes: dict[str, object]) -> None:
    with pytest.raises(InvalidTxt):
        record(**changes)


def test_short_discriminator() -> None:
    assert short_discriminator(0xF00) == 0xF
    assert short_discriminator(0x0FF) == 0
    assert record(d=0xA55).short_discriminator == 0xA
    assert record(d=None).short_discriminator is None
    with pytest.raises(ValueError):
        short_discriminator(4096)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("Kitchen Lamp", "Kitchen Lamp"),
        ("evil\u202etxt.exe", "eviltxt.exe"),  # right-to-left override
        ("a\u2066b\u2069c\u200fd", "abcd"),  # isolates and marks
        ("bell\x07\x1b[31mred", "bell[31mred"),  # C0 controls (terminal escapes)
        ("two\nlines\r\tx", "two lines x"),
        ("  padded  ", "padded"),
        ("nul\x00byte\x7f\x85", "nulbyte"),
        ("line\u2028sep", "line sep"),
        ("café ☕ 灯", "café ☕ 灯"),
        ("\u202e\x00", ""),
    ],
)
def test_sanitize_display_name(raw: str, shown: str) -> None:
    assert sanitize_display_name(raw) == shown


def _device(**txt_changes: object) -> DiscoveredDevice:
    return DiscoveredDevice(
        instance_name="Lamp",
        display_name="Lamp",
        addresses=("10.0.0.1",),
        port=4433,
        txt=record(**txt_changes),
        host="lamp.local.",
    )


def test_device_filter() -> None:
    dev = _device(d=0xA55, cm=True)
    assert DeviceFilter()(dev)
    assert DeviceFilter(fingerprints={FP})(dev)
    assert not DeviceFilter(fingerprints=set())(dev)
    assert DeviceFilter(commissionable=True)(dev)
    assert not DeviceFilter(commissionable=True)(_device(cm=False))
    assert DeviceFilter(discriminator=0xA55)(dev)
    assert not DeviceFilter(discriminator=0xA54)(dev)
    assert DeviceFilter(short_discriminator=0xA)(dev)
    assert not DeviceFilter(short_discriminator=0xB)(dev)
    assert not DeviceFilter(short_discriminator=0xA)(_device(d=None))
    assert DeviceFilter(instance_name="lamp")(dev)
    assert not DeviceFilter(instance_name="Lamp (2)")(dev)
    with pytest.raises(ValueError):
        DeviceFilter(discriminator=4096)
    with pytest.raises(ValueError):
        DeviceFilter(short_discriminator=16)
    with pytest.raises(TypeError):
        DeviceFilter(fingerprints=FP)


def test_truncated_flag() -> None:
    assert not _device().truncated
    cut = DiscoveredDevice(**{**_device().__dict__, "instance_name": "x" * 60 + "…"})
    assert cut.truncated
