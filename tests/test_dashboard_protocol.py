"""The dashboard's pure parts, without sockets: the page's messages, one page's state, the device
directory's statuses and event log, the access rules, and the sentences errors become."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from device_sdk import (
    ActuatorError,
    ChannelOpenFailed,
    ConfigError,
    ConnectionClosed,
    ConnectionLost,
    DeviceNotFound,
    DeviceUnreachable,
    InvalidSetupCode,
    LockedOut,
    PairingError,
    PairingTimeout,
    PairingWindowClosed,
    WrongSetupCode,
)
from device_sdk.channels import parse_peers
from device_sdk.dashboard import parse_listen
from device_sdk.dashboard.access import AccessPolicy, is_loopback, split_host
from device_sdk.dashboard.directory import Directory
from device_sdk.dashboard.link import ended_because
from device_sdk.dashboard.page import MAX_PAIRINGS, PageSession
from device_sdk.dashboard.protocol import (
    BadMessage,
    OpenWindow,
    Pair,
    Rename,
    SetValue,
    Unpair,
    Watch,
    parse_command,
)
from device_sdk.dashboard.views import (
    chunk_message,
    error_message,
    error_text,
    pairing_error_text,
    peers_value,
    unpair_error_text,
    wire_value,
)
from device_sdk.discovery import DeviceRecord, DiscoveredDevice
from device_sdk.wire import CloseCode

FP = "A" * 43 + "="
OWN = "B" * 43 + "="


def msg(**fields: Any) -> str:
    return json.dumps(fields)


# -- the page's messages -----------------------------------------------------------------------------


def test_commands_parse_into_typed_requests() -> None:
    assert parse_command(msg(type="watch", device=FP)) == Watch(device=FP)
    command = parse_command(msg(type="pair", id=3, device=FP, method="code", code="MT:Y.K90AFN00KA0648G00"))
    assert isinstance(command, Pair) and command.id == 3 and command.code == "MT:Y.K90AFN00KA0648G00"
    assert "MT:" not in repr(command)  # a setup code never lands in a log line by repr
    assert parse_command(msg(type="set", id=1, device=FP, channel="led", value=False)) == SetValue(
        id=1, device=FP, channel="led", value=False
    )
    assert parse_command(msg(type="open-window", device=FP, minutes=5)) == OpenWindow(device=FP, minutes=5)
    assert parse_command(msg(type="rename", device=FP, name="  Kitchen  ")) == Rename(device=FP, name="Kitchen")
    assert parse_command(msg(type="unpair", device=FP)) == Unpair(device=FP, local_only=False)
    assert parse_command(msg(type="unpair", device=FP, local_only=True)) == Unpair(device=FP, local_only=True)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        (msg(device=FP), "no type"),
        (msg(type="launch-missiles"), "unknown message type"),
        (msg(type="watch"), "the device is missing"),
        (msg(type="watch", device=""), "the device is missing"),
        (msg(type="watch", device=5), "the device is missing"),
        (msg(type="watch", device="x" * 1000), "too long"),
        (msg(type="set", device=FP, channel="led"), "value is missing"),
        (msg(type="set", device=FP, channel="led", value=None), "value is missing"),
        (msg(type="pair", device=FP, code="1"), "request number"),
        (msg(type="pair", id=1, device=FP, method="telepathy"), "code, pin or button"),
        (msg(type="pair", id=1, device=FP, method="code"), "setup code is missing"),
        (msg(type="pair", id=1, method="pin"), "choose the device"),
        (msg(type="pin", pin="123"), "pairing request"),
        (msg(type="open-window", device=FP, minutes=60), "1 to 15 minutes"),
        (msg(type="open-window", device=FP, minutes=True), "1 to 15 minutes"),
        (msg(type="rename", device=FP, name="a\x00b"), "control characters"),
        (msg(type="watch", id=-1, device=FP), "positive integer"),
        (msg(type="watch", id="7", device=FP), "positive integer"),
        (msg(type="unpair", device=FP, local_only="yes"), "true or false"),
        ("x" * 20000, "too long"),
    ],
)
def test_bad_messages_get_a_sentence(text: str, says: str) -> None:
    with pytest.raises(BadMessage) as caught:
        parse_command(text)
    assert says.lower() in caught.value.text.lower()
    assert caught.value.text[0].isupper() and caught.value.text.endswith("."), caught.value.text


def test_binary_messages_from_a_page_are_refused() -> None:
    with pytest.raises(BadMessage, match="text messages only"):
        parse_command(b'{"type": "watch"}')


# -- one page ----------------------------------------------------------------------------------------


def test_a_page_tracks_what_it_watches_and_listens_to() -> None:
    page = PageSession()
    step = page.receive(msg(type="watch", device=FP))
    assert not step.replies and step.commands == [Watch(device=FP)]
    assert page.wants(FP)
    page.receive(msg(type="listen", device=FP, channel="audio"))
    assert page.hears(FP, "audio")
    page.receive(msg(type="unwatch", device=FP))
    assert not page.wants(FP) and not page.hears(FP, "audio")


def test_a_page_gets_errors_back_for_bad_input_and_limits() -> None:
    page = PageSession()
    step = page.receive("{")
    assert step.replies == [{"type": "error", "id": None, "text": "That message is not JSON."}]
    assert not step.commands and page.bad_messages == 1
    for i in range(1, MAX_PAIRINGS + 1):
        assert page.receive(msg(type="pair", id=i, device=FP, method="button")).commands
    step = page.receive(msg(type="pair", id=99, device=FP, method="button"))
    assert step.replies[0]["id"] == 99 and "Too many pairings" in step.replies[0]["text"]
    assert page.receive(msg(type="pair", id=1, device=FP, method="button")).replies  # the same number twice
    step = page.receive(msg(type="pin", id=42, pin="123-456"))
    assert step.replies[0]["text"] == "That pairing is over." and not step.commands
    page.pairing_done(1)
    assert page.receive(msg(type="pair", id=100, device=FP, method="button")).commands


# -- the directory --------------------------------------------------------------------------------------


def discovered(name: str, fp: str = FP, *, cm: bool = False, mv: int = 1) -> DiscoveredDevice:
    txt = DeviceRecord(fp=fp, mv=mv, at="a" * 16, sn="01", d=3840, cm=cm)
    return DiscoveredDevice(
        instance_name=name, display_name=name, addresses=("127.0.0.1",), port=4433, txt=txt, host="h.local."
    )


def records(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["device"] for m in messages if m["type"] == "device"]


def logs(messages: list[dict[str, Any]]) -> list[str]:
    return [m["entry"]["text"] for m in messages if m["type"] == "log"]


def test_an_unpaired_device_comes_and_goes_with_its_mdns_record() -> None:
    d = Directory()
    out = d.seen(discovered("Thermo", cm=True), 10.0)
    assert logs(out) == ["Found Thermo on the network"]
    [record] = records(out)
    assert (record["status"], record["paired"], record["window_open"]) == ("online", False, True)
    out = d.seen(discovered("Thermo", cm=False), 11.0)
    assert logs(out) == ["Thermo's pairing window closed"]
    out = d.vanished(FP, 12.0)
    assert logs(out) == ["Thermo left the network"] and out[-1] == {"type": "device-gone", "fp": FP}
    assert not d.entries


def test_a_paired_device_is_connecting_online_lost_and_back() -> None:
    d = Directory()
    d.set_paired(FP, "Thermo", 1.0)
    assert d.entries[FP].status == "offline"
    d.seen(discovered("Thermo"), 2.0)
    assert d.entries[FP].status == "connecting"
    out = d.connected(FP, 3.0, name="Thermo", model="Sim", role="admin")
    assert records(out)[0]["status"] == "online" and records(out)[0]["model"] == "Sim"
    # The record may linger in mDNS after a kill: the connection decides.
    out = d.disconnected(FP, 4.0, why="it stopped answering")
    assert logs(out) == ["Lost contact with Thermo: it stopped answering"]
    assert records(out)[0]["status"] == "lost" and records(out)[0]["since"] == 4.0
    assert d.vanished(FP, 5.0)[-1]["device"]["status"] == "lost"
    out = d.connected(FP, 6.0, name="Thermo", model="Sim", role=None)
    assert logs(out) == ["Thermo is back"] and records(out)[0]["role"] == "admin"


def test_a_goodbye_of_a_paired_device_is_lost_and_closing_on_purpose_is_not() -> None:
    d = Directory()
    d.set_paired(FP, "Thermo", 1.0)
    d.seen(discovered("Thermo"), 2.0)
    d.connected(FP, 3.0, name="Thermo", model=None, role=None)
    assert records(d.vanished(FP, 4.0))[0]["status"] == "online"  # still connected
    out = d.disconnected(FP, 5.0, why=None)  # the dashboard closed it (unpairing)
    assert not logs(out) and records(out)[0]["status"] == "offline"
    out = d.set_unpaired(FP, 6.0)
    assert out == [{"type": "device-gone", "fp": FP}]


def test_a_paired_device_seen_then_gone_before_it_connected_is_lost() -> None:
    d = Directory()
    d.set_paired(FP, "Thermo", 1.0)
    d.seen(discovered("Thermo"), 2.0)
    out = d.vanished(FP, 3.0)
    assert logs(out) == ["Thermo left the network"] and records(out)[0]["status"] == "lost"


def test_a_probed_name_and_model_stand_while_the_metadata_version_does() -> None:
    d = Directory()
    cut = "A very long name…"
    d.seen(discovered(cut, mv=4), 1.0)
    [record] = records(d.probed(FP, 4, name="A very long name indeed", model="Thermo Mk II"))
    assert (record["name"], record["model"], record["paired"]) == ("A very long name indeed", "Thermo Mk II", False)
    assert records(d.seen(discovered(cut, mv=4, cm=True), 2.0))[0]["name"] == "A very long name indeed"
    assert records(d.seen(discovered("Kitchen", mv=5), 3.0))[0]["name"] == "Kitchen"  # renamed: not read yet
    assert d.probed(FP, 4, name="late", model="m") == []  # an answer about the older version
    assert d.probed("C" * 43 + "=", 1, name="x", model="y") == []  # gone meanwhile


def test_why_a_connection_ended_in_words() -> None:
    assert ended_because(ConnectionLost("Thermo", 5.0)) == "it stopped answering"
    assert "no longer trusts this dashboard" in ended_because(
        ConnectionClosed(CloseCode.UNAUTHORIZED, "peer removed", by_peer=True)
    )
    assert ended_because(ConnectionClosed(CloseCode.NORMAL, "", by_peer=True)).startswith("it closed the connection")
    assert ended_because(ConnectionClosed(CloseCode.TOO_MANY_ATTEMPTS, "x", by_peer=True)).startswith("it turned")
    assert ended_because(ConnectionClosed(CloseCode.NORMAL, "", by_peer=False)) == "the connection ended"


def test_the_event_log_is_bounded() -> None:
    d = Directory()
    for i in range(500):
        d.note(float(i), "info", f"line {i}")
    assert len(d.log) == 200 and d.log[-1]["text"] == "line 499"


# -- access ------------------------------------------------------------------------------------------


def test_loopback_needs_no_token_but_a_loopback_host() -> None:
    policy = AccessPolicy.for_address("127.0.0.1")
    assert policy.token is None
    assert policy.check(host="127.0.0.1:8765", origin=None, token=None) is None
    assert policy.check(host="localhost:8765", origin="http://localhost:8765", token=None, websocket=True) is None
    assert policy.check(host="[::1]:8765", origin=None, token=None) is None
    refusal = policy.check(host="evil.example:8765", origin="http://evil.example:8765", token=None)
    assert refusal is not None and "127.0.0.1" in refusal  # DNS rebinding
    assert policy.check(host="127.0.0.1:8765", origin="http://evil.example", token=None) is not None
    assert policy.check(host="127.0.0.1:8765", origin=None, token=None, websocket=True) is not None
    assert policy.check(host=None, origin=None, token=None) is not None


def test_any_other_address_needs_the_token() -> None:
    policy = AccessPolicy.for_address("0.0.0.0")
    assert policy.token is not None and len(policy.token) >= 32
    assert policy.token not in repr(policy)
    host = "192.0.2.7:8765"
    assert policy.check(host=host, origin=None, token=policy.token) is None
    refusal = policy.check(host=host, origin=None, token=None)
    assert refusal is not None and "link it printed" in refusal
    other = "y" if policy.token.endswith("x") else "x"
    assert policy.check(host=host, origin=None, token=policy.token[:-1] + other) is not None
    assert policy.check(host=host, origin="http://other:8765", token=policy.token) is not None
    assert AccessPolicy.for_address("::", token="given").token == "given"


def test_addresses_and_listen_options() -> None:
    assert is_loopback("127.0.0.2") and is_loopback("::1") and is_loopback("[::1]") and is_loopback("LOCALHOST")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.0.2.1") and not is_loopback("example.org")
    assert split_host("[::1]:80") == "[::1]" and split_host("a:80") == "a" and split_host("a") == "a"
    assert parse_listen("0.0.0.0:9000") == ("0.0.0.0", 9000)
    assert parse_listen("[::]:0") == ("::", 0)
    assert parse_listen(":8080") == ("127.0.0.1", 8080)
    assert parse_listen("192.0.2.1") == ("192.0.2.1", 8765)
    for bad in ("host:port", "[::1", "[::1]8000", "a:99999"):
        with pytest.raises(ConfigError):
            parse_listen(bad)


# -- sentences -------------------------------------------------------------------------------------------

INTERNALS = re.compile(r"\b(40[0-9]|41[0-9]|42[0-9]|result \d+|type \d+|retry_after|passcode=|Traceback)\b")


@pytest.mark.parametrize(
    ("exc", "starts"),
    [
        (WrongSetupCode("confirmation failed"), "That code is not the one Thermo expects"),
        (PairingWindowClosed("403"), "Thermo is not accepting new controllers right now: press its pairing button"),
        (LockedOut(125.0), "Thermo is not taking pairing attempts for 2 min 5 s"),
        (LockedOut(30.2), "Thermo is not taking pairing attempts for 31 s"),
        (ConnectionClosed(CloseCode.TOO_MANY_ATTEMPTS, "too many connections", by_peer=True), "Thermo turned this"),
        (PairingTimeout("x"), "Thermo did not finish pairing in time"),
        (InvalidSetupCode("bad check digit"), "That is not a setup code: bad check digit"),
        (DeviceNotFound("x"), "No device with an open pairing window matches this code"),
        (ConnectionClosed(5139, "", by_peer=True), "Thermo did not answer"),
    ],
)
def test_pairing_errors_are_one_sentence_for_a_person(exc: Exception, starts: str) -> None:
    text = pairing_error_text(exc, "Thermo")
    assert text.startswith(starts) and text.endswith(".")
    assert not INTERNALS.search(text), text


@pytest.mark.parametrize(
    ("exc", "starts"),
    [
        (ActuatorError("out-of-range", "2 is above 1"), "Thermo refused that value for led: it is out of range (2 is"),
        (ActuatorError("forbidden"), "Only an admin controller of Thermo may do that"),
        (ChannelOpenFailed("admin", 403), "Only an admin controller of Thermo may do that"),
        (ActuatorError("busy"), "led on Thermo is busy"),
        (ChannelOpenFailed("led", 102), "Thermo has no channel 'led'"),
        (TimeoutError(), "Thermo did not answer"),
    ],
)
def test_request_errors_are_one_sentence_for_a_person(exc: Exception, starts: str) -> None:
    text = error_text(exc, "Thermo", "led")
    assert text.startswith(starts) and not INTERNALS.search(text), text


def test_an_unpairing_that_did_not_reach_the_device_offers_to_forget_it_here() -> None:
    text = unpair_error_text(DeviceUnreachable("Thermo"), "Thermo")
    assert text.startswith("The dashboard could not reach Thermo") and "Forget here only" in text
    assert "--local-only" not in text and not INTERNALS.search(text)
    assert "Forget here only" in unpair_error_text(PairingError("refused"), "Thermo")
    assert error_message(3, text, offer="forget-here") == {
        "type": "error",
        "id": 3,
        "text": text,
        "offer": "forget-here",
    }
    assert "offer" not in error_message(3, text)


def test_peers_carry_last_seen() -> None:
    peers = parse_peers([{"fp": OWN, "name": "Me", "role": "admin", "paired_at": 10, "last_seen": 20}, {"fp": FP}])
    assert peers_value(peers, OWN) == [
        {"fp": OWN, "name": "Me", "role": "admin", "paired_at": 10.0, "last_seen": 20.0, "you": True},
        {"fp": FP, "name": "", "role": "user", "paired_at": None, "last_seen": None, "you": False},
    ]


def test_values_are_made_json_safe_and_chunks_carry_their_stream() -> None:
    assert wire_value({"a": b"xyz", "b": float("nan"), "c": [1, float("inf")]}) == {
        "a": {"bytes": 3},
        "b": "nan",
        "c": [1, "inf"],
    }
    assert chunk_message(7, 2**32 + 5, b"pcm") == b"\x00\x00\x00\x07\x00\x00\x00\x05pcm"


WRONG_VALUES: list[Any] = [None, True, 0, -1, 2**70, 1.5, float("inf"), "", " ", "x" * 5000, [], [1], {}, {"a": 1}]


KINDS = [
    "watch",
    "unwatch",
    "listen",
    "unlisten",
    "pair",
    "pin",
    "cancel",
    "set",
    "do",
    "peers",
    "remove-peer",
    "open-window",
    "rename",
    "unpair",
]


@pytest.mark.parametrize("kind", KINDS)
def test_any_field_of_any_type_is_a_command_or_a_sentence_never_a_crash(kind: str) -> None:
    good = {"type": kind, "id": 1, "device": FP, "channel": "led", "value": True, "action": "toggle", "fp": OWN}
    good |= {
        "code": "20202021",
        "method": "code",
        "pin": "123-456",
        "minutes": 5,
        "name": "Kitchen",
        "local_only": False,
    }
    page = PageSession()
    for key in good:
        for wrong in WRONG_VALUES:
            text = json.dumps({**good, key: wrong}, allow_nan=True)
            try:
                parse_command(text)
            except BadMessage as exc:
                assert exc.text[0].isupper() and exc.text.endswith("."), exc.text
            step = page.receive(text)  # the page session as well: replies or commands, nothing raised
            assert step.replies or step.commands
            for reply in step.replies:
                assert reply["type"] == "result" or (reply["type"] == "error" and reply["text"]), reply
