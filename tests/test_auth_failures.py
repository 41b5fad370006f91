"""DeviceAuth and ControllerAuth fail against each other in memory, through the real wire codec: wrong codes,
timeouts, disconnects, the closed window, lockout, conflicting controllers, and which failures count."""

from __future__ import annotations

from pathlib import Path

from device_sdk.errors import LockedOut, PairingAborted, PairingTimeout, PairingWindowClosed, WrongSetupCode
from device_sdk.pairing.auth import (
    PSK_TIMEOUT_S,
    STATUS_TIMEOUT_S,
    AttemptStarted,
    Authenticated,
    ShowPin,
    failure_to_error,
)
from device_sdk.pairing.auth_controller import ControllerAuth
from device_sdk.pairing.window import Admission, PairingMode
from device_sdk.wire.codes import AuthResult
from device_sdk.wire.messages import AuthCapabilities, AuthSpake2Confirmation, AuthSpake2Handshake, AuthStatus
from tests._auth_bench import (
    CTL2_FP,
    CTL_FP,
    DEVICE_FP,
    PASSCODE,
    T0,
    Bench,
    Side,
    assert_paired,
    drain,
    feed,
    is_authenticated_status,
    keep,
    raw_device,
    run,
)

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
        bench.apply(bench.window.attempt_failed(Admission(attempt=0, controller_fp=CTL_FP, token=""), T0), T0)
    bench.apply(bench.window.close(T0), T0)
    device, controller = bench.connect(PASSCODE)
    run(device, controller, T0)
    assert device.failure().close_code == 403


def test_two_controllers_in_button_mode_abort_both(tmp_path: Path) -> None:
    # The window returns the conflict as an action; the bench (as the device's runner) aborts the
    # first controller's attempt on its own connection.
    bench = Bench(tmp_path, PairingMode.BUTTON)
    first_device, first_ctl = bench.connect(0)
    drain(first_device, first_ctl, keep)
    drain(first_ctl, first_device, keep)
    for msg in first_device.inbox:
        first_device.machine.receive(msg, T0)  # the first controller gets as far as pB
    first_device.inbox.clear()
    drain(first_device, first_ctl, keep)  # the runner answers its admission request at once
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


def test_one_live_attempt_refuses_a_concurrent_handshake(tmp_path: Path) -> None:
    # Profile v1.1: in sticker mode a second handshake while an attempt is live is refused like a
    # back-off refusal (429, not counted), so parallel connections cannot outrun the backoff.
    bench = Bench(tmp_path, PairingMode.STICKER)
    first = bench.connect(PASSCODE)
    second_device, second_ctl = bench.connect(PASSCODE, controller_fp=CTL2_FP)
    drain(first[1], first[0], keep)
    for msg in first[0].inbox:
        first[0].machine.receive(msg, T0)
    first[0].inbox.clear()
    drain(first[0], first[1], keep)  # the first controller's attempt is live (pB sent)
    run(second_device, second_ctl, T0)
    failed = second_device.failure()
    assert (failed.close_code, failed.reason, failed.counted) == (429, "retry after 1", False)
    assert second_device.sent[-1] == AuthStatus(AuthResult.UNKNOWN_ERROR)
    assert isinstance(failure_to_error(second_ctl.failure(), close_code=429, close_reason=failed.reason), LockedOut)
    assert bench.window.consecutive_failures == 0
    run(*first, T0)
    assert_paired(bench, *first)


def test_one_pairing_per_window_with_concurrent_attempts(tmp_path: Path) -> None:
    # Display mode admits attempts side by side: two controllers with the right PIN confirm together,
    # and only the first is committed; the second's commit is refused (403), not counted.
    bench = Bench(tmp_path, PairingMode.DISPLAY)
    first, second = bench.connect(None), bench.connect(None, controller_fp=CTL2_FP)
    for device, controller in (first, second):
        run(device, controller, T0)
        show = device.event(ShowPin)
        assert isinstance(show, ShowPin) and isinstance(controller.machine, ControllerAuth)
        controller.machine.provide_pin(show.value, T0 + 1)
    run(*first, T0 + 2)
    run(*second, T0 + 2)
    assert_paired(bench, *first)
    assert second[0].refusal is not None and second[0].refusal.close_code == 403
    assert bench.window.consecutive_failures == 0 and not bench.window.is_open
    assert bench.trusted == {CTL_FP}


def test_pairing_again_out_of_the_window(tmp_path: Path) -> None:
    # Profile v1.1: a trusted controller runs the exchange again with the window closed; it counts
    # failures like anyone, and a success leaves the window as it is.
    bench = Bench(tmp_path, PairingMode.STICKER, open_window=False)
    bench.trusted.add(CTL_FP)
    device, controller = bench.connect(PASSCODE + 1)
    run(device, controller, T0)
    assert device.failure().result is AuthResult.PROOF_INVALID and device.failure().counted
    assert bench.window.consecutive_failures == 1
    stranger_device, stranger = bench.connect(PASSCODE, controller_fp=CTL2_FP)
    run(stranger_device, stranger, T0)
    assert stranger_device.failure().close_code == 403  # the window still refuses strangers
    device, controller = bench.connect(PASSCODE)
    run(device, controller, T0 + 1)
    assert device.success().peer_fp == CTL_FP and device.refusal is None
    assert not bench.window.is_open and bench.window.consecutive_failures == 0
