"""DeviceAuth and ControllerAuth pair against each other in memory, through the real wire codec:
every mode, messages in any order."""

from __future__ import annotations

from pathlib import Path

import pytest

from device_sdk.pairing.auth import (
    PSK_TIMEOUT_S,
    AdmissionRequested,
    AttemptStarted,
    Authenticated,
    NeedPin,
    ProofVerified,
    ShowPin,
)
from device_sdk.pairing.auth_controller import ControllerAuth
from device_sdk.pairing.auth_device import DeviceAuth
from device_sdk.pairing.display_pin import parse_display_pin
from device_sdk.pairing.spake2 import Spake2SharePool, password_from_psk
from device_sdk.pairing.window import PairingMode
from device_sdk.wire.messages import AuthCapabilities, AuthSpake2Handshake, PskStatus
from tests._auth_bench import CTL_FP, DEVICE_FP, PASSCODE, T0, Bench, Side, assert_paired, run

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
    # admitted by the window, pB out, cA verified, then the controller's own status: commit
    assert [type(e) for e in device.events] == [AdmissionRequested, AttemptStarted, ProofVerified, Authenticated]


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


def test_prepared_shares_are_sent_and_used_once(tmp_path: Path) -> None:
    bench = Bench(tmp_path, PairingMode.STICKER)
    shares = Spake2SharePool("B")
    shares.fill(password_from_psk(PASSCODE))
    prepared = shares._share
    assert prepared is not None
    device = DeviceAuth(device_fp=DEVICE_FP, controller_fp=CTL_FP, psk=bench.psk, shares=shares)
    controller = ControllerAuth(controller_fp=CTL_FP, device_fp=DEVICE_FP, token=bench.window.token, passcode=PASSCODE)
    controller.prepare()  # before the connection is up: start() then only sends
    ctl_share = controller._share
    assert ctl_share is not None
    device.start(T0)
    controller.start(T0)
    dev, ctl = bench.device(device), Side(controller)
    run(dev, ctl, T0 + 1)
    assert_paired(bench, dev, ctl)
    p_b, p_a = dev.sent[1], ctl.sent[1]
    assert isinstance(p_b, AuthSpake2Handshake) and p_b.public_value == prepared.public
    assert isinstance(p_a, AuthSpake2Handshake) and p_a.public_value == ctl_share.public
    assert not shares.ready and controller._share is None  # each handed to this one attempt only
    with pytest.raises(ValueError):
        DeviceAuth(device_fp=DEVICE_FP, controller_fp=CTL_FP, psk=bench.psk, shares=Spake2SharePool("A"))
