"""Agent identity (profile sections 1-2): instance names, DNS labels, hostnames, serial text."""

from __future__ import annotations

import random
import re

import pytest

from device_sdk.identity import agent_hostname, instance_label, serial_hex, truncate_instance_name
from tests._identity_helpers import NAME

LABEL_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


# -- instance names, labels, hostnames -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("Kitchen Light", "Kitchen-Light"),
        ("kitchen-light-2", "kitchen-light-2"),
        ("Living Room (2)", "Living-Room-2"),
        ("a__b..c  d", "a-b-c-d"),
        ("--edge--", "edge"),
        ("Café Lamp", "Caf-Lamp"),
        ("Lamp 🙂 2", "Lamp-2"),
        ("👨‍👩‍👧 Family", "Family"),
        ("日本語", "device"),
        ("🙂🙂🙂", "device"),
        ("", "device"),
        ("-", "device"),
        ("   ", "device"),
        ("ÀB", "B"),
        ("x", "x"),
    ],
)
def test_instance_label_rules(name: str, label: str) -> None:
    assert instance_label(name) == label


def test_instance_label_of_long_names_uses_the_truncated_instance_name() -> None:
    long_name = "A" * 100
    assert instance_label(long_name) == "A" * 60  # 60 bytes + "…" -> "-" stripped
    assert instance_label(long_name) == instance_label(truncate_instance_name(long_name))
    assert instance_label("A" * 63) == "A" * 63
    assert instance_label("é" * 40) == "device"


def test_instance_label_is_always_a_dns_label() -> None:
    rng = random.Random(1234)
    alphabet = "aZ09-_ .()éü€日🙂\u200d\t"
    for _ in range(2000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        label = instance_label(name)
        assert label == "device" or LABEL_RE.fullmatch(label), (name, label)
        assert "--" not in label
        assert len(label) <= 63
        assert instance_label(truncate_instance_name(name)) == label


def test_agent_hostname() -> None:
    assert agent_hostname("0a1b", "Kitchen Light") == "0a1b.Kitchen-Light.local"
    assert agent_hostname("ff", "🙂") == "ff.device.local"
    longest = agent_hostname("7f" + "ff" * 19, "x" * 63)
    assert longest == "7f" + "ff" * 19 + "." + "x" * 63 + ".local"


@pytest.mark.parametrize("sn", ["", "0A1B", "abc", "00ab", "zz", "0x12", "ab cd", "ab" * 21, "01\n"])
def test_agent_hostname_rejects_malformed_sn(sn: str) -> None:
    with pytest.raises(ValueError, match="invalid sn"):
        agent_hostname(sn, NAME)


@pytest.mark.parametrize(
    ("serial", "text"),
    [
        (1, "01"),
        (0x0ABC, "0abc"),
        (0xFF, "ff"),
        (0x80, "80"),  # no DER sign byte
        (0x80_0000_0001, "8000000001"),
        ((1 << 32) | 1, "0100000001"),
        ((1 << 159) - 1, "7f" + "ff" * 19),
    ],
)
def test_serial_hex(serial: int, text: str) -> None:
    assert serial_hex(serial) == text
    assert int(text, 16) == serial


@pytest.mark.parametrize("serial", [0, -1, 1 << 160])
def test_serial_hex_rejects_out_of_range(serial: int) -> None:
    with pytest.raises(ValueError):
        serial_hex(serial)


def test_truncate_instance_name_keeps_names_that_fit() -> None:
    for name in ["", "Kitchen", "a" * 63, "é" * 31 + "a", "🙂" * 15 + "abc"]:
        assert len(name.encode()) <= 63
        assert truncate_instance_name(name) == name


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a" * 64, "a" * 60 + "…"),
        ("a" * 100, "a" * 60 + "…"),
        ("a" * 59 + "é" * 3, "a" * 59 + "…"),  # é occupies bytes 59-60: cut before it
        ("a" * 58 + "é" * 3, "a" * 58 + "é" + "…"),  # é ends exactly at byte 60
        ("a" * 58 + "€" * 3, "a" * 58 + "…"),  # 3-byte char straddles the boundary
        ("a" * 57 + "€" * 3, "a" * 57 + "€" + "…"),
        ("a" * 57 + "🙂" * 2, "a" * 57 + "…"),  # 4-byte char straddles the boundary
        ("a" * 56 + "🙂" * 2, "a" * 56 + "🙂" + "…"),
        ("€" * 22, "€" * 20 + "…"),
    ],
)
def test_truncate_instance_name_cuts_at_a_character_boundary(name: str, expected: str) -> None:
    result = truncate_instance_name(name)
    assert result == expected
    assert len(result.encode()) <= 63
    assert truncate_instance_name(result) == result


def test_truncate_instance_name_random() -> None:
    rng = random.Random(99)
    alphabet = "aé€🙂"
    for _ in range(1000):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(10, 70)))
        result = truncate_instance_name(name)
        if len(name.encode()) <= 63:
            assert result == name
            continue
        head = result.removesuffix("…")
        assert result.endswith("…") and name.startswith(head)
        assert 57 <= len(head.encode()) <= 60
        assert len(name[len(head)].encode()) + len(head.encode()) > 60  # nothing more fitted


def test_truncate_instance_name_rejects_lone_surrogates() -> None:
    with pytest.raises(ValueError):
        truncate_instance_name("bad \ud800 name")
