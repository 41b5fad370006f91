"""Encoded messages against ``osp-messages.cddl``, checked by an independent CDDL validator.

The schema lives in the shared protocol folder beside the repository (``<repo>/../shared/protocol``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import cbor2
import pytest

from device_sdk.errors import RemoteProtocolError
from device_sdk.wire import MESSAGE_TYPES, Message, MessageDecoder, encode_message, encode_varint

from .test_wire_codec import SAMPLES, SCHEMA_MISMATCHES

cddl_verifier = pytest.importorskip("cddl_verifier")

PROTOCOL_DIR = Path(__file__).resolve().parents[2] / "shared" / "protocol"
SCHEMA_PATH = PROTOCOL_DIR / "osp-messages.cddl"
if not SCHEMA_PATH.is_file():
    pytest.skip(f"{SCHEMA_PATH} not found (the shared/ folder is not beside the repository)", allow_module_level=True)

SCHEMA = SCHEMA_PATH.read_text(encoding="utf-8")
VALIDATOR = cddl_verifier.Validator(SCHEMA)

# `rule-name = ...  ; <type key>` (the comment may follow the opening brace of a multi-line rule)
RULE_WITH_KEY = re.compile(r"^([a-z][a-z0-9-]*)\s*=[^;\n]*;\s*(\d+)\s*$", re.MULTILINE)
RULES: dict[int, str] = {int(key): name for name, key in RULE_WITH_KEY.findall(SCHEMA)}


def item_of(msg: Message) -> bytes:
    """The encoded CBOR item of ``msg``, without its type key."""
    data = encode_message(msg)
    key = encode_varint(msg.TYPE_KEY)
    assert data.startswith(key)
    return data[len(key) :]


def check(rule: str, item: bytes | Any) -> Any:
    return VALIDATOR.validate(item if isinstance(item, bytes) else cbor2.dumps(item), rule)


def test_every_type_key_in_the_schema_is_implemented() -> None:
    assert len(RULES) == 12, RULES  # the comment parser found every rule
    assert set(RULES) == set(MESSAGE_TYPES)


def test_type_keys_match_the_profile_list() -> None:
    """Profile section 3, "Type keys used: 10 agent-info-request, ...", agrees with the schema."""
    profile = (PROTOCOL_DIR / "profile.md").read_text(encoding="utf-8")
    listed = profile.split("Type keys used:", 1)[1].split("\n\n", 1)[0]
    pairs = {int(k): name for k, name in re.findall(r"(\d+)\s+([a-z][a-z0-9-]*)", listed)}
    assert pairs == RULES


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_encoded_item_matches_its_rule(msg: Message) -> None:
    result = check(RULES[msg.TYPE_KEY], item_of(msg))
    assert result.valid, result.errors


@pytest.mark.parametrize("msg", SAMPLES, ids=lambda m: type(m).__name__)
def test_validator_rejects_items_of_another_shape(msg: Message) -> None:
    """The validator can fail: closed maps, required keys, and the rule of another message."""
    rule = RULES[msg.TYPE_KEY]
    item = msg.to_cbor()
    assert not check(rule, item | {99: 0}).valid  # a key a sender of this profile never adds
    assert not check(rule, {k: v for k, v in item.items() if k != 0}).valid  # key 0 is required everywhere
    assert not check(rule, [item]).valid
    others = {r for k, r in RULES.items() if k != msg.TYPE_KEY and not check(r, item).valid}
    assert len(others) >= 6  # most other rules reject it (a few rules are alike, e.g. 12 and 13)


@pytest.mark.parametrize(
    ("rule", "item"),
    [
        ("auth-spake2-confirmation", {0: b"\x00" * 31}),
        ("auth-spake2-confirmation", {0: b"\x00" * 33}),
        ("data-channel-open-request", {0: 1, 1: 65535, 2: "l", 3: "p"}),
        ("auth-status", {0: 6}),
        ("auth-capabilities", {0: 101, 1: [0], 2: 20}),
        ("auth-capabilities", {0: 50, 1: [0], 2: 61}),
        ("data-channel-open-response", {0: 1, 1: 2}),
        ("agent-info-request", {0: True}),
        ("agent-info-request", {0: 2**64}),
    ],
)
def test_validator_rejects_out_of_range_values(rule: str, item: Any) -> None:
    assert not check(rule, item).valid


@pytest.mark.parametrize(("key", "item"), SCHEMA_MISMATCHES)
def test_decoder_and_validator_agree_on_mismatches(key: int, item: Any) -> None:
    """Every schema case the codec tests call a 400 is also rejected by the CDDL validator."""
    assert not check(RULES[key], item).valid
    with pytest.raises(RemoteProtocolError) as info:
        MessageDecoder().feed(encode_varint(key) + cbor2.dumps(item))
    assert info.value.code == 400


def test_receiver_is_more_lenient_than_the_schema() -> None:
    """Unknown keys: the closed schema rejects them, the receiver ignores them (profile section 3)."""
    item = {0: 5, 7: "later", "x-ext": 1}
    assert not check("agent-info-request", item).valid
    assert MessageDecoder().feed(encode_varint(10) + cbor2.dumps(item)) == [MESSAGE_TYPES[10].from_cbor(item)]
