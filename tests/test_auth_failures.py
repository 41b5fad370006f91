"""DeviceAuth and ControllerAuth run against each other in memory, through the real wire codec."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from device_sdk.errors import (
    ConfigError,
    LocalProtocolError,
    LockedOut,
    PairingAborted,
    PairingTimeout,
    PairingWindowClosed,
    WrongSetupCode,
)
from device_sdk.pairing.auth import (
    PSK_TIMEOUT_S,
    RESPONSE_TIMEOUT_S,
    STATUS_TIMEOUT_S,
    AttemptStarted,
    Authenticated,
    AuthEvent,
    AuthFailed,
    NeedPin,
    PskProvider,
    SendMessage,
    ShowPin,
    failure_to_error,
    parse_retry_after,
)
from device_sdk.pairing.auth_controller import ControllerAuth
from device_sdk.pairing.auth_device import DeviceAuth
from device_sdk.pairing.display_pin import parse_display_pin
from device_sdk.pairing.spake2 import IDENTITY
from device_sdk.pairing.window import PairingConflict, PairingMode, PairingWindow, WindowEvent
from device_sdk.wire import MessageDecoder, encode_message
from device_sdk.wire.messages import (
    AuthCapabilities,
    AuthMessage,
    AuthResult,
    AuthSpake2Confirmation,
    AuthSpake2Handshake,
    AuthStatus,
    PskStatus,
)

T0 = 1_700_000_000.0
PASSCODE = 20202021
DEVICE_FP = bytes(range(32))
CTL_FP = bytes(range(100, 132))
CTL2_FP = bytes(range(200, 232))
# A point of order 8 (RFC 8032 encoding).
SMALL_ORDER = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")


def wire(msg: AuthMessage) -> AuthMessage:
    """Encode and decode, one byte at a time, as a receiver would see it."""
    decoder = MessageDecoder()
    out = []
    for byte in encode_message(msg):
        out.extend(decoder.feed(bytes([byte])))
    assert len(out) == 1
    decoded = out[0]
    assert isinstance(decoded, AuthCapabilities | AuthSpake2Handshake | AuthSpake2Confirmation | AuthStatus)
    assert decoded == msg
    return decoded


@dataclass
class Side:
    machine: DeviceAuth | ControllerAuth
    events: list[AuthEvent] = field(default_factory=list)
    sent: list[AuthMessage] = field(default_factory=list)
    inbox: list[AuthMessage] = field(default_factory=list)

    def failure(self) -> AuthFailed:
        failures = [e for e in self.events if isinstance(e, AuthFailed)]
        assert len(failures) == 1, self.events
        return failures[0]

    def success(self) -> Authenticated:
        done = [e for e in self.events if isinstance(e, Authenticated)]
        assert len(done) == 1, self.events
        return done[0]

    def event(self, kind: type[ShowPin] | type[NeedPin]) -> ShowPin | NeedPin:
        found = [e for e in self.events if isinstance(e, kind)]
        assert len(found) == 1, self.events
        return found[0]


def drain(src: Side, dst: Side, drop: Callable[[AuthMessage], bool]) -> None:
    while (event := src.machine.next_event()) is not None:
        if isinstance(event, SendMessage):
            src.sent.append(event.message)
            if not drop(event.message):
                dst.inbox.append(wire(event.message))
        else:
            src.events.append(event)


def keep(msg: AuthMessage) -> bool:
    return False


def is_authenticated_status(msg: AuthMessage) -> bool:
    return msg == AuthStatus(AuthResult.AUTHENTICATED)


def run(
    device: Side,
    controller: Side,
    now: float,
    *,
    reverse: bool = False,
    drop: Callable[[AuthMessage], bool] = keep,
    drop_from_controller: Callable[[AuthMessage], bool] = keep,
) -> None:
    """Shuttle messages until both sides are quiet. ``reverse`` delivers each batch backwards.

    ``drop`` loses messages in both directions, ``drop_from_controller`` only those to the device.
    """
    for _ in range(50):
        drain(device, controller, drop)
        drain(controller, device, lambda m: drop(m) or drop_from_controller(m))
        if not device.inbox and not controller.inbox:
            return
        for side in (device, controller):
            batch, side.inbox = side.inbox, []
            for msg in reversed(batch) if reverse else batch:
                side.machine.receive(msg, now)
    raise AssertionError("the exchange does not settle")


class Bench:
    """A device (window + PSK) and helpers to connect controllers to it."""

    def __init__(self, tmp_path: Path, mode: PairingMode, *, open_window: bool = True) -> None:
        counter = itertools.count()
        self.window = PairingWindow(
            state_path=tmp_path / "window.json",
            mode=mode,
            token_source=lambda: f"token{next(counter):011d}",
        )
        self.window_events: list[WindowEvent] = []
        self.window.subscribe(self.window_events.append)
        passcode = PASSCODE if mode is PairingMode.STICKER else None
        self.psk = PskProvider(mode=mode, passcode=passcode)
        self.devices: list[DeviceAuth] = []
        if open_window:
            self.window.open(T0, "button")

    def connect(
        self,
        passcode: int | None,
        *,
        now: float = T0,
        controller_fp: bytes = CTL_FP,
        device_sees_fp: bytes | str | None = "same",
        token: str | bool | None = True,
    ) -> tuple[Side, Side]:
        device = DeviceAuth(
            device_fp=DEVICE_FP,
            controller_fp=controller_fp if device_sees_fp == "same" else device_sees_fp,  # type: ignore[arg-type]
            window=self.window,
            psk=self.psk,
        )
        self.devices.append(device)
        controller = ControllerAuth(
            controller_fp=controller_fp,
            device_fp=DEVICE_FP,
            token=self.window.token if token is True else (token or None),
            passcode=passcode,
        )
        device.start(now)
        controller.start(now)
        return Side(device), Side(controller)


def assert_paired(bench: Bench, device: Side, controller: Side) -> None:
    dev_ok, ctl_ok = device.success(), controller.success()
    assert dev_ok.peer_fp == CTL_FP and ctl_ok.peer_fp == DEVICE_FP
    assert dev_ok.shared_key == ctl_ok.shared_key and len(dev_ok.shared_key) == 16
    assert not bench.window.is_open and bench.window.consecutive_failures == 0
    assert device.machine.finished and controller.machine.finished
    assert device.machine.next_timer() is None and controller.machine.next_timer() is None


# -- successes ---------------------------------------------------------------------------------


def test_sticker_success(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    device, controller = bench.connect(PASSCODE)
    run(device, controller, T0 + 1)
    assert_paired(bench, device, controller)
    kinds = [type(m).__name__ for m in device.sent]
    assert kinds == [
        "AuthCapabilities",
        "AuthSpake2Handshake",
        "AuthSpake2Confirmation",
        "AuthStatus",
    ]
    handshake = device.sent[1]
    assert isinstance(handshake, AuthSpake2Handshake)
    assert handshake.token is None and handshake.psk_status is PskStatus.SHOWN
    first = controller.sent[1]
    assert isinstance(first, AuthSpake2Handshake) and first.token == bench.window.token
    assert device.machine.peer_capabilities is not None
    assert [type(e) for e in device.events] == [AttemptStarted, Authenticated]


def test_display_success(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.DISPLAY)
    device, controller = bench.connect(None)
    run(device, controller, T0 + 1)
    show = device.event(ShowPin)
    assert isinstance(show, ShowPin)
    assert show.expires_at == T0 + 1 + PSK_TIMEOUT_S
    assert str(show.value) not in repr(show)
    assert parse_display_pin(show.text) == show.value
    assert int(show.qr_text, 16) == show.value
    assert isinstance(controller.event(NeedPin), NeedPin)
    assert isinstance(controller.machine, ControllerAuth)
    controller.machine.provide_pin(parse_display_pin(show.text), T0 + 20)
    run(device, controller, T0 + 21)
    assert_paired(bench, device, controller)


def test_display_pin_is_fresh_per_attempt(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.DISPLAY)
    pins = set()
    for i in range(3):
        device, controller = bench.connect(None, now=T0 + i)
        run(device, controller, T0 + i)
        show = device.event(ShowPin)
        assert isinstance(show, ShowPin)
        pins.add(show.value)
        device.machine.connection_lost(T0 + i)
    assert len(pins) == 3


def test_needs_presentation_in_sticker_mode(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    device, controller = bench.connect(None)
    run(device, controller, T0 + 1)
    assert not any(isinstance(e, ShowPin) for e in device.events)
    assert isinstance(controller.event(NeedPin), NeedPin)
    assert isinstance(controller.machine, ControllerAuth)
    controller.machine.provide_pin(PASSCODE, T0 + 30)
    run(device, controller, T0 + 30)
    assert_paired(bench, device, controller)


def test_button_success(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.BUTTON)
    device, controller = bench.connect(0)
    run(device, controller, T0 + 1)
    assert_paired(bench, device, controller)


def test_messages_in_any_order(tmp_path: Path) -> None:
    # Each batch delivered backwards: the handshake overtakes the capabilities, the device's
    # auth-status overtakes cB, and (after the PIN) cA overtakes the second handshake.
    bench = Bench(tmp_path, PairingMode.DISPLAY)
    device, controller = bench.connect(None)
    run(device, controller, T0, reverse=True)
    show = device.event(ShowPin)
    assert isinstance(show, ShowPin) and isinstance(controller.machine, ControllerAuth)
    controller.machine.provide_pin(show.value, T0 + 5)
    run(device, controller, T0 + 5, reverse=True)
    assert_paired(bench, device, controller)


def test_capabilities_never_arriving_do_not_matter(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    device, controller = bench.connect(PASSCODE)
    run(device, controller, T0, drop=lambda m: isinstance(m, AuthCapabilities))
    assert_paired(bench, device, controller)
    assert device.machine.peer_capabilities is None


# -- failures ----------------------------------------------------------------------------------


def test_wrong_code_then_right_code(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    token_before = bench.window.token
    device, controller = bench.connect(PASSCODE + 1)
    run(device, controller, T0 + 1)
    failed = device.failure()
    assert (failed.close_code, failed.result, failed.counted) == (401, AuthResult.PROOF_INVALID, True)
    assert device.sent[-1] == AuthStatus(AuthResult.PROOF_INVALID)
    ctl_failed = controller.failure()
    assert ctl_failed.close_code is None and ctl_failed.result is AuthResult.PROOF_INVALID
    assert isinstance(failure_to_error(ctl_failed, close_code=failed.close_code), WrongSetupCode)
    assert bench.window.consecutive_failures == 1 and bench.window.failures_in_window == 1
    assert bench.window.token != token_before and bench.window.is_open
    # The old token is dead; the right code with the new token works.
    device, controller = bench.connect(PASSCODE, now=T0 + 2)
    run(device, controller, T0 + 2)
    assert_paired(bench, device, controller)


def test_wrong_display_pin(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.DISPLAY)
    device, controller = bench.connect(None)
    run(device, controller, T0)
    show = device.event(ShowPin)
    assert isinstance(show, ShowPin) and isinstance(controller.machine, ControllerAuth)
    controller.machine.provide_pin((show.value + 1) % (2**29), T0 + 5)
    run(device, controller, T0 + 5)
    assert device.failure().result is AuthResult.PROOF_INVALID and device.failure().counted
    assert bench.window.consecutive_failures == 1


def test_bad_token_is_secret_unknown(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    for token in ("AAAAAAAAAAAAAAAA", None):
        device, controller = bench.connect(PASSCODE, token=token)
        run(device, controller, T0)
        failed = device.failure()
        assert (failed.close_code, failed.result, failed.counted) == (401, AuthResult.SECRET_UNKNOWN, True)
        assert not any(isinstance(m, AuthSpake2Handshake) for m in device.sent)
        assert isinstance(failure_to_error(controller.failure(), close_code=401), PairingAborted)
    assert bench.window.consecutive_failures == 2


def raw_device(bench: Bench, controller_fp: bytes | None = CTL_FP) -> Side:
    device = DeviceAuth(device_fp=DEVICE_FP, controller_fp=controller_fp, window=bench.window, psk=bench.psk)
    device.start(T0)
    return Side(device)


def feed(side: Side, msg: AuthMessage, now: float = T0) -> None:
    side.machine.receive(wire(msg), now)
    while (event := side.machine.next_event()) is not None:
        if isinstance(event, SendMessage):
            side.sent.append(event.message)
        else:
            side.events.append(event)


@pytest.mark.parametrize("point", [SMALL_ORDER, IDENTITY, b"", b"\x05" * 31, b"\xff" * 32])
def test_invalid_point_fails_at_once(tmp_path: Path, point: bytes) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    device = raw_device(bench)
    feed(device, AuthSpake2Handshake(bench.window.token, PskStatus.INPUT, point))
    failed = device.failure()
    assert (failed.close_code, failed.result) == (401, AuthResult.PROOF_INVALID)
    assert device.sent[-1] == AuthStatus(AuthResult.PROOF_INVALID)
    assert not any(isinstance(m, AuthSpake2Handshake) for m in device.sent)  # no pB: not counted
    assert not failed.counted and bench.window.consecutive_failures == 0


def test_invalid_point_after_pb_counts(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    device = raw_device(bench)
    feed(device, AuthSpake2Handshake(bench.window.token, PskStatus.NEEDS_PRESENTATION, b""))
    assert isinstance(device.sent[-1], AuthSpake2Handshake)
    feed(device, AuthSpake2Handshake(None, PskStatus.INPUT, SMALL_ORDER))
    failed = device.failure()
    assert failed.result is AuthResult.PROOF_INVALID and failed.counted
    assert bench.window.consecutive_failures == 1


def test_controller_rejects_invalid_pb(tmp_path: Path) -> None:
    controller = Side(ControllerAuth(controller_fp=CTL_FP, device_fp=DEVICE_FP, token="t" * 16, passcode=PASSCODE))
    controller.machine.start(T0)
    feed(controller, AuthSpake2Handshake(None, PskStatus.SHOWN, SMALL_ORDER))
    failed = controller.failure()
    assert (failed.close_code, failed.result) == (401, AuthResult.PROOF_INVALID)
    assert controller.sent[-1] == AuthStatus(AuthResult.PROOF_INVALID)


def test_timeout_60_s_after_pb(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.DISPLAY)
    device, controller = bench.connect(None)
    run(device, controller, T0 + 10)
    assert device.machine.next_timer() == T0 + 10 + PSK_TIMEOUT_S
    # Keep-alives do not matter; the user never types the code.
    device.machine.handle_timer(T0 + 69.9)
    assert device.machine.next_event() is None
    device.machine.handle_timer(T0 + 70)
    run(device, controller, T0 + 70)
    failed = device.failure()
    assert (failed.close_code, failed.result, failed.counted) == (401, AuthResult.TIMEOUT, True)
    assert isinstance(failure_to_error(controller.failure(), close_code=401), PairingTimeout)
    assert bench.window.consecutive_failures == 1


def test_late_pin_after_timeout_is_ignored(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    device, controller = bench.connect(None)
    run(device, controller, T0)
    assert isinstance(controller.machine, ControllerAuth)
    controller.machine.provide_pin(PASSCODE, T0 + 61)
    run(device, controller, T0 + 61)  # the device notices the deadline before the message
    assert device.failure().result is AuthResult.TIMEOUT
    assert controller.failure().result is AuthResult.TIMEOUT


def test_controller_never_sends_its_status(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    device, controller = bench.connect(PASSCODE)
    run(device, controller, T0, drop_from_controller=is_authenticated_status)
    assert any(isinstance(m, AuthSpake2Confirmation) for m in device.sent)
    assert controller.machine.finished  # the controller believes it is paired
    assert not device.machine.finished
    assert bench.window.is_open  # not committed
    assert device.machine.next_timer() == T0 + STATUS_TIMEOUT_S
    device.machine.handle_timer(T0 + STATUS_TIMEOUT_S)
    drain(device, controller, keep)
    failed = device.failure()
    assert failed.counted and failed.result is AuthResult.TIMEOUT
    assert bench.window.consecutive_failures == 1 and bench.window.is_open


def test_disconnect_after_cb_rolls_back(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    device, controller = bench.connect(PASSCODE)
    run(device, controller, T0, drop_from_controller=is_authenticated_status)
    assert isinstance(device.sent[-2], AuthSpake2Confirmation) and not device.machine.finished
    device.machine.connection_lost(T0 + 1)
    drain(device, controller, keep)
    failed = device.failure()
    assert failed.counted and failed.close_code is None
    assert bench.window.consecutive_failures == 1 and bench.window.is_open


def test_disconnect_before_pb_is_not_counted(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    device = raw_device(bench)
    device.machine.connection_lost(T0)
    feed(device, AuthCapabilities(0, (), 20))
    assert not device.failure().counted and bench.window.consecutive_failures == 0


def test_controller_reporting_failure_after_cb_counts(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    device = raw_device(bench)
    ctl = ControllerAuth(controller_fp=CTL_FP, device_fp=DEVICE_FP, token=bench.window.token, passcode=PASSCODE)
    controller = Side(ctl)
    ctl.start(T0)
    run(device, controller, T0, drop_from_controller=is_authenticated_status)
    feed(device, AuthStatus(AuthResult.PROOF_INVALID))
    failed = device.failure()
    assert failed.counted and failed.result is AuthResult.PROOF_INVALID
    assert device.sent[-1] == AuthStatus(AuthResult.AUTHENTICATED)  # no status sent back


def test_closed_window_is_403(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER, open_window=False)
    device, controller = bench.connect(PASSCODE)
    run(device, controller, T0)
    failed = device.failure()
    assert (failed.close_code, failed.result, failed.counted) == (403, AuthResult.UNKNOWN_ERROR, False)
    assert failed.reason == "pairing window closed"
    assert not any(isinstance(e, AttemptStarted) for e in device.events)  # refused, never started
    error = failure_to_error(controller.failure(), close_code=403, close_reason=failed.reason)
    assert isinstance(error, PairingWindowClosed)


def test_lockout_is_429_with_retry_after(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    for i in range(5):
        device, controller = bench.connect(PASSCODE + 1, now=T0 + i)
        run(device, controller, T0 + i)
        assert device.failure().result is AuthResult.PROOF_INVALID
    device, controller = bench.connect(PASSCODE, now=T0 + 4.5)
    run(device, controller, T0 + 4.5)
    failed = device.failure()
    assert (failed.close_code, failed.reason, failed.counted) == (429, "retry after 1", False)
    assert device.sent[-1] == AuthStatus(AuthResult.UNKNOWN_ERROR)
    error = failure_to_error(controller.failure(), close_code=429, close_reason=failed.reason)
    assert isinstance(error, LockedOut) and error.retry_after == 1
    assert bench.window.consecutive_failures == 5
    # once the backoff has passed, the right code pairs
    device, controller = bench.connect(PASSCODE, now=T0 + 5)
    run(device, controller, T0 + 5)
    assert_paired(bench, device, controller)


def test_closed_window_wins_over_lockout(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    for _ in range(6):
        bench.window.attempt_failed(T0)
    bench.window.close(T0)
    device, controller = bench.connect(PASSCODE)
    run(device, controller, T0)
    assert device.failure().close_code == 403


def test_two_controllers_in_button_mode_abort_both(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.BUTTON)

    def on_window_event(event: WindowEvent) -> None:  # what the device does
        if isinstance(event, PairingConflict):
            for auth in bench.devices:
                if auth.controller_fp == event.abort_fp:
                    auth.abort(T0 + 1, "another controller is pairing")

    bench.window.subscribe(on_window_event)
    first_device, first_ctl = bench.connect(0)
    drain(first_device, first_ctl, keep)
    drain(first_ctl, first_device, keep)
    for msg in first_device.inbox:
        first_device.machine.receive(msg, T0)  # the first controller gets as far as pB
    first_device.inbox.clear()
    second_device, second_ctl = bench.connect(0, now=T0 + 1, controller_fp=CTL2_FP)
    run(second_device, second_ctl, T0 + 1)
    run(first_device, first_ctl, T0 + 1)
    for device, controller in ((first_device, first_ctl), (second_device, second_ctl)):
        failed = device.failure()
        assert (failed.close_code, failed.result, failed.counted) == (401, AuthResult.UNKNOWN_ERROR, False)
        error = failure_to_error(controller.failure(), close_code=401, close_reason=failed.reason)
        assert isinstance(error, PairingAborted)
        assert not any(isinstance(e, Authenticated) for e in controller.events)
    assert not bench.window.is_open and bench.window.consecutive_failures == 0


def test_client_without_certificate(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    device, controller = bench.connect(PASSCODE, device_sees_fp=None)
    run(device, controller, T0)
    failed = device.failure()
    assert (failed.close_code, failed.result, failed.counted) == (401, AuthResult.UNKNOWN_ERROR, False)
    assert device.sent[-1] == AuthStatus(AuthResult.UNKNOWN_ERROR)


def test_display_mode_refuses_psk_input_first(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.DISPLAY)
    device, controller = bench.connect(123456)
    run(device, controller, T0)
    failed = device.failure()
    assert (failed.close_code, failed.result, failed.counted) == (401, AuthResult.UNKNOWN_ERROR, False)
    assert not any(isinstance(e, ShowPin) for e in device.events)


def test_one_pairing_per_window_with_concurrent_attempts(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    first = bench.connect(PASSCODE)
    second_device, second_ctl = bench.connect(PASSCODE, controller_fp=CTL2_FP)
    # The second controller is admitted and gets pB while the window is open ...
    drain(second_ctl, second_device, keep)
    for msg in second_device.inbox:
        second_device.machine.receive(msg, T0)
    second_device.inbox.clear()
    assert second_device.machine.state == "wait-confirmation"
    # ... then the first one pairs and the window closes ...
    run(*first, T0)
    assert_paired(bench, *first)
    # ... so the second's confirmation is refused with 403, whatever its code.
    run(second_device, second_ctl, T0)
    failed = second_device.failure()
    assert (failed.close_code, failed.result, failed.counted) == (403, AuthResult.UNKNOWN_ERROR, False)
    assert not any(isinstance(m, AuthSpake2Confirmation) for m in second_device.sent)


def test_protocol_misuse(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    device = raw_device(bench)
    feed(device, AuthSpake2Confirmation(bytes(32)))
    assert device.failure().result is AuthResult.UNKNOWN_ERROR and not device.failure().counted
    device = raw_device(bench)
    feed(device, AuthStatus(AuthResult.AUTHENTICATED))
    assert device.failure().result is AuthResult.UNKNOWN_ERROR
    device = raw_device(bench)
    feed(device, AuthSpake2Handshake(bench.window.token, PskStatus.SHOWN, b""))
    assert device.failure().result is AuthResult.UNKNOWN_ERROR
    # after the end everything is ignored
    feed(device, AuthSpake2Handshake(bench.window.token, PskStatus.INPUT, b""))
    assert len(device.events) == 1
    assert bench.window.consecutive_failures == 0


def test_controller_response_timeout_and_cancel(tmp_path: Path) -> None:
    ctl = ControllerAuth(controller_fp=CTL_FP, device_fp=DEVICE_FP, token=None, passcode=PASSCODE)
    controller = Side(ctl)
    ctl.start(T0)
    assert ctl.next_timer() == T0 + RESPONSE_TIMEOUT_S
    ctl.handle_timer(T0 + RESPONSE_TIMEOUT_S)
    feed(controller, AuthCapabilities(0, (), 20))
    assert controller.failure().result is AuthResult.TIMEOUT
    assert controller.sent[-1] == AuthStatus(AuthResult.TIMEOUT)

    ctl = ControllerAuth(controller_fp=CTL_FP, device_fp=DEVICE_FP, token=None, passcode=None)
    with pytest.raises(LocalProtocolError):
        ctl.provide_pin(1, T0)
    ctl.start(T0)
    ctl.cancel(T0)
    events = [ctl.next_event() for _ in range(4)]
    assert events[2] == SendMessage(AuthStatus(AuthResult.UNKNOWN_ERROR))
    assert isinstance(events[3], AuthFailed) and ctl.next_event() is None


def test_psk_provider_validation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        PskProvider(mode=PairingMode.STICKER)
    with pytest.raises(ConfigError):
        PskProvider(mode=PairingMode.STICKER, passcode=12345678)  # a forbidden passcode
    with pytest.raises(ConfigError):
        PskProvider(mode=PairingMode.BUTTON, passcode=1)
    with pytest.raises(ConfigError):
        PskProvider(mode=PairingMode.DISPLAY, display_bits=19)
    provider = PskProvider(mode="sticker", passcode=PASSCODE)  # type: ignore[arg-type]
    assert provider.mode is PairingMode.STICKER and str(PASSCODE) not in repr(provider)
    bench = Bench(tmp_path, PairingMode.BUTTON)
    with pytest.raises(ConfigError):
        DeviceAuth(device_fp=DEVICE_FP, controller_fp=CTL_FP, window=bench.window, psk=provider)


def test_failure_to_error_mapping() -> None:
    def err(result: AuthResult, code: int | None = None, reason: str = "") -> Exception:
        return failure_to_error(AuthFailed(None, reason, result), close_code=code, close_reason=reason)

    assert isinstance(err(AuthResult.UNKNOWN_ERROR, 403), PairingWindowClosed)
    locked = err(AuthResult.UNKNOWN_ERROR, 429, "retry after 32")
    assert isinstance(locked, LockedOut) and locked.retry_after == 32
    assert isinstance(err(AuthResult.PROOF_INVALID, 401), WrongSetupCode)
    assert isinstance(err(AuthResult.TIMEOUT), PairingTimeout)
    assert isinstance(err(AuthResult.VALIDATION_TOOK_TOO_LONG), PairingTimeout)
    assert isinstance(err(AuthResult.SECRET_UNKNOWN, 401), PairingAborted)
    assert isinstance(err(AuthResult.UNKNOWN_ERROR, 401), PairingAborted)
    assert parse_retry_after("retry after 7") == 7 and parse_retry_after("nope") is None
