"""The in-memory bench of the auth tests (test_auth_*.py): a device and controllers, each machine's
events and messages, and a shuttle that carries messages between them through the real wire codec.

The bench plays the device's pairing runner in memory (no event loop, no files): it answers a device
machine's admission requests with the pairing window's verdict, tells the window how each admitted
attempt ended, and applies the window's actions (a button-mode conflict aborts the first attempt)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from device_sdk.pairing.auth import (
    AdmissionRequested,
    Authenticated,
    AuthEvent,
    AuthFailed,
    NeedPin,
    PskProvider,
    SendMessage,
    ShowPin,
)
from device_sdk.pairing.auth_controller import ControllerAuth
from device_sdk.pairing.auth_device import DeviceAuth
from device_sdk.pairing.window import PairingMode, PairingWindow, Refusal, WindowEvent, WindowUpdate
from device_sdk.wire import MessageDecoder, encode_message
from device_sdk.wire.codes import AuthResult
from device_sdk.wire.messages import (
    AuthCapabilities,
    AuthMessage,
    AuthSpake2Confirmation,
    AuthSpake2Handshake,
    AuthStatus,
)

T0 = 1_700_000_000.0
PASSCODE = 20202021
DEVICE_FP = bytes(range(32))
CTL_FP = bytes(range(100, 132))
CTL2_FP = bytes(range(200, 232))


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


@dataclass(eq=False)
class Side:
    machine: DeviceAuth | ControllerAuth
    events: list[AuthEvent] = field(default_factory=list)
    sent: list[AuthMessage] = field(default_factory=list)
    inbox: list[AuthMessage] = field(default_factory=list)
    on_event: Callable[[Side, AuthEvent, float], None] | None = None
    """The device's runner: told each event other than a message (with the time of the exchange)."""
    refusal: Refusal | None = None
    """The window's refusal to commit this device side's pairing, if any."""

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


def drain(src: Side, dst: Side, drop: Callable[[AuthMessage], bool], now: float = T0) -> None:
    while (event := src.machine.next_event()) is not None:
        if isinstance(event, SendMessage):
            src.sent.append(event.message)
            if not drop(event.message):
                dst.inbox.append(wire(event.message))
        else:
            src.events.append(event)
            if src.on_event is not None:
                src.on_event(src, event, now)


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
        drain(device, controller, drop, now)
        drain(controller, device, lambda m: drop(m) or drop_from_controller(m), now)
        if not device.inbox and not controller.inbox:
            return
        for side in (device, controller):
            batch, side.inbox = side.inbox, []
            for msg in reversed(batch) if reverse else batch:
                side.machine.receive(msg, now)
    raise AssertionError("the exchange does not settle")


class Bench:
    """A device (window + PSK, and the runner's part in memory) and helpers to connect controllers."""

    def __init__(self, tmp_path: Path, mode: PairingMode, *, open_window: bool = True) -> None:
        counter = itertools.count()
        self.window = PairingWindow(mode=mode, token_source=lambda: f"token{next(counter):011d}")
        self.window_events: list[WindowEvent] = []
        passcode = PASSCODE if mode is PairingMode.STICKER else None
        self.psk = PskProvider(mode=mode, passcode=passcode)
        self.devices: list[Side] = []
        self.trusted: set[bytes] = set()
        """Controllers already paired: their handshakes are admitted as pairing again."""
        if open_window:
            self.apply(self.window.open(T0, "button"), T0)

    def apply(self, update: WindowUpdate, now: float) -> None:
        """What the runner does with a window update (persisting aside): act, then record the events."""
        for action in update.actions:
            for side in self.devices:
                if isinstance(side.machine, DeviceAuth) and side.machine.controller_fp == action.abort_fp:
                    side.machine.abort(now, "another controller is pairing")
        self.window_events.extend(update.events)

    def settle(self, side: Side, event: AuthEvent, now: float) -> None:
        """The runner's answer to a device machine's event."""
        auth = side.machine
        assert isinstance(auth, DeviceAuth)
        admission = auth.admission
        if isinstance(event, AdmissionRequested):
            assert auth.controller_fp is not None
            verdict, update = self.window.admit(now, auth.controller_fp, trusted=auth.controller_fp in self.trusted)
            self.apply(update, now)
            auth.admit(verdict, now)
        elif isinstance(event, AuthFailed) and admission is not None:
            if event.counted:
                self.apply(self.window.attempt_failed(admission, now), now)
            else:
                self.apply(self.window.attempt_ended(admission, now), now)
        elif isinstance(event, Authenticated):
            assert admission is not None
            refusal, update = self.window.attempt_succeeded(admission, now)
            self.apply(update, now)
            side.refusal = refusal
            if refusal is None:
                self.trusted.add(event.peer_fp)

    def device(self, machine: DeviceAuth) -> Side:
        """A device side run by this bench."""
        side = Side(machine, on_event=self.settle)
        self.devices.append(side)
        return side

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
            psk=self.psk,
        )
        controller = ControllerAuth(
            controller_fp=controller_fp,
            device_fp=DEVICE_FP,
            token=self.window.token if token is True else (token or None),
            passcode=passcode,
        )
        device.start(now)
        controller.start(now)
        return self.device(device), Side(controller)


def assert_paired(bench: Bench, device: Side, controller: Side) -> None:
    dev_ok, ctl_ok = device.success(), controller.success()
    assert device.refusal is None  # committed
    assert dev_ok.peer_fp == CTL_FP and ctl_ok.peer_fp == DEVICE_FP
    assert dev_ok.shared_key == ctl_ok.shared_key and len(dev_ok.shared_key) == 16
    assert not bench.window.is_open and bench.window.consecutive_failures == 0
    assert device.machine.finished and controller.machine.finished
    assert device.machine.next_timer() is None and controller.machine.next_timer() is None


def raw_device(bench: Bench, controller_fp: bytes | None = CTL_FP) -> Side:
    device = DeviceAuth(device_fp=DEVICE_FP, controller_fp=controller_fp, psk=bench.psk)
    device.start(T0)
    return bench.device(device)


def feed(side: Side, msg: AuthMessage, now: float = T0) -> None:
    side.machine.receive(wire(msg), now)
    while (event := side.machine.next_event()) is not None:
        if isinstance(event, SendMessage):
            side.sent.append(event.message)
        else:
            side.events.append(event)
            if side.on_event is not None:
                side.on_event(side, event, now)
