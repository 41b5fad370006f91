"""Encoded messages against ``docs/osp-messages.cddl``, checked by an independent CDDL validator, and
the specification page (``docs/protocol.md``) against the wire layer's type keys and codes, so that spec
and code cannot drift apart silently."""

from __future__ import annotations

import re
from enum import IntEnum
from typing import Any

import cbor2
import cddl_verifier
import pytest

import device_sdk.wire
from device_sdk.errors import RemoteProtocolError
from device_sdk.wire import MESSAGE_TYPES, CloseCode, Message, MessageDecoder, encode_message, encode_varint

from ._spec import OSP_MESSAGES_CDDL, cddl_type_keys, spec_close_codes, spec_text, spec_type_keys
from .test_wire_codec import SAMPLES, SCHEMA_MISMATCHES

SCHEMA = OSP_MESSAGES_CDDL.read_text(encoding="utf-8")
VALIDATOR = cddl_verifier.Validator(SCHEMA)
RULES: dict[int, str] = cddl_type_keys(SCHEMA)


def item_of(msg: Message) -> bytes:
    """The encoded CBOR item of ``msg``, without its type key."""
    data = encode_message(msg)
    key = encode_varint(msg.TYPE_KEY)
    assert data.startswith(key)
    return data[len(key) :]


def check(rule: str, item: bytes | Any) -> Any:
    return VALIDATOR.validate(item if isinstance(item, bytes) else cbor2.dumps(item), rule)


def _rule_name(cls: type) -> str:
    """``AuthSpake2Handshake`` -> ``auth-spake2-handshake``: a message class's name as a CDDL rule."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", cls.__name__).lower()


def test_the_schema_and_the_code_agree_on_every_type_key() -> None:
    """Each type key of the repository's schema is a message the code implements, under the same name."""
    assert len(RULES) == 12, RULES  # the comment parser found every rule
    assert set(RULES) == set(MESSAGE_TYPES)
    assert {key: _rule_name(cls) for key, cls in MESSAGE_TYPES.items()} == RULES


def test_type_keys_match_the_spec_list() -> None:
    """Spec section 3, "Type keys used: 10 agent-info-request, ...", agrees with the schema."""
    assert spec_type_keys() == RULES


def _wire_enums() -> list[type[IntEnum]]:
    """Every code the wire layer defines: the IntEnums among ``device_sdk.wire``'s public names."""
    names = (getattr(device_sdk.wire, name) for name in device_sdk.wire.__all__)
    return [obj for obj in names if isinstance(obj, type) and issubclass(obj, IntEnum)]


def test_the_spec_lists_every_close_code_of_the_wire_layer() -> None:
    """The table of close codes in the spec and ``CloseCode`` hold the same codes."""
    assert spec_close_codes() == {int(code) for code in CloseCode}


@pytest.mark.parametrize("enum", [e for e in _wire_enums() if e is not CloseCode], ids=lambda e: e.__name__)
def test_the_spec_names_every_result_code_of_the_wire_layer(enum: type[IntEnum]) -> None:
    """Every auth-status result, open result and psk-status appears in the spec as ``name (value)``."""
    text = spec_text()
    missing = [
        f"{member.name.lower().replace('_', '-')} ({member.value})"
        for member in enum
        if f"{member.name.lower().replace('_', '-')} ({member.value})" not in text
    ]
    assert not missing, f"docs/protocol.md does not name {missing}"


def test_the_code_checks_reach_every_enum() -> None:
    """The two tests above see the wire layer's codes (a rename there must not make them vacuous)."""
    names = {e.__name__ for e in _wire_enums()}
    assert {"CloseCode", "AuthResult", "OpenResult", "PskStatus"} <= names


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
