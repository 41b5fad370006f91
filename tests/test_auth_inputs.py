"""One auth machine fed crafted messages (invalid points, protocol misuse, controller timers), configuration
validation, and the mapping of failures to exceptions."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_sdk.device.pairing import PairingRunner
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
    RESPONSE_TIMEOUT_S,
    AuthFailed,
    PskProvider,
    SendMessage,
    failure_to_error,
    parse_retry_after,
)
from device_sdk.pairing.auth_controller import ControllerAuth
from device_sdk.pairing.spake2 import IDENTITY, Spake2SharePool
from device_sdk.pairing.trust import DeviceTrustStore
from device_sdk.pairing.window import PairingMode, PairingWindow
from device_sdk.pairing.window_store import WindowStore
from device_sdk.wire.codes import AuthResult
from device_sdk.wire.messages import (
    AuthCapabilities,
    AuthSpake2Confirmation,
    AuthSpake2Handshake,
    AuthStatus,
    PskStatus,
)
from tests._auth_bench import CTL_FP, DEVICE_FP, PASSCODE, T0, Bench, Side, feed, raw_device

# A point of order 8 (RFC 8032 encoding).
SMALL_ORDER = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")


@pytest.mark.parametrize("point", [SMALL_ORDER, IDENTITY, b"", b"\x05" * 31, b"\xff" * 32])
def test_invalid_point_fails_at_once(tmp_path: Path, point: bytes) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    token = bench.window.token
    device = raw_device(bench)
    feed(device, AuthSpake2Handshake(token, PskStatus.INPUT, point))
    failed = device.failure()
    assert (failed.close_code, failed.result) == (401, AuthResult.PROOF_INVALID)
    assert device.sent[-1] == AuthStatus(AuthResult.PROOF_INVALID)
    assert not any(isinstance(m, AuthSpake2Handshake) for m in device.sent)  # failed at once, no pB
    # profile v1.1: like every failure it counts and rotates `at`
    assert failed.counted and bench.window.consecutive_failures == 1 and bench.window.token != token


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
    window = PairingWindow(mode=PairingMode.BUTTON)
    with pytest.raises(ConfigError):  # the runner joins a window and a PSK of one mode only
        PairingRunner(
            window=window,
            store=WindowStore(tmp_path / "w.json"),
            trust=DeviceTrustStore(tmp_path / "t.json"),
            psk=provider,
            shares=Spake2SharePool("B"),
            device_fp=DEVICE_FP,
            clock=lambda: T0,
            emit=lambda event: None,
            publish=lambda: None,
        )


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
