"""The pairing lifecycle end to end over real QUIC on loopback: pairing again, leaving and unpairing,
names, the v1.1 limits under concurrency and across restarts, the status LED, and channel refusals."""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from device_sdk.channels import SENSOR_PROTOCOL
from device_sdk.controller import Controller, ControllerConfig, DeviceConnection
from device_sdk.device import (
    ControllerRemoved,
    Device,
    DeviceConfig,
    DeviceEvent,
    Paired,
    PairingFailed,
    PairingStarted,
    PinShown,
)
from device_sdk.errors import (
    ActuatorError,
    ChannelOpenFailed,
    ConnectionClosed,
    DeviceUnreachable,
    LockedOut,
    PairingWindowClosed,
    WrongSetupCode,
)
from device_sdk.hardware import LedPattern
from device_sdk.pairing.trust import DeviceTrustStore
from device_sdk.pairing.window import BOOT_BUDGET_REFILL_S, MAX_FAILURES_PER_WINDOW, PairingMode
from device_sdk.transport import AgentConnection, ConnectionHandler, Credentials, TransportConfig, connect
from device_sdk.wire import AgentInfo, AuthCapabilities, AuthResult, AuthSpake2Handshake, AuthStatus, Message, PskStatus

from .test_e2e_pairing import target

pytestmark = pytest.mark.timeout(60)

CODE = 20202021
WRONG = 20202022
# A point of order 8 (RFC 8032 encoding): an invalid SPAKE2 share.
SMALL_ORDER = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")


def config(tmp_path: Path, **kw: object) -> DeviceConfig:
    values: dict[str, object] = {
        "state_dir": tmp_path / "device",
        "name": "Thermo",
        "advertise": False,
        "host": "127.0.0.1",
        "setup_code": CODE,
        "ready_file": tmp_path / "ready.json",
    }
    values.update(kw)
    return DeviceConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
async def device(tmp_path: Path) -> AsyncIterator[Device]:
    dev = Device(config(tmp_path))
    dev.sensor("temperature", type="float")
    await dev.start()
    yield dev
    await dev.stop()


def controller(tmp_path: Path, name: str, *, state: str | None = None, fast: bool = True) -> Controller:
    """``fast``: a 1 s handshake timeout, for the tests that reach a device that is gone."""
    transport = TransportConfig(handshake_timeout=1.0) if fast else TransportConfig()
    return Controller(ControllerConfig(state_dir=tmp_path / (state or name), name=name, transport=transport))


class Events:
    """The device's events, as they come."""

    def __init__(self, device: Device) -> None:
        self.seen: list[DeviceEvent] = []
        self._changed = asyncio.Event()
        device.subscribe(self._add)

    def _add(self, event: DeviceEvent) -> None:
        self.seen.append(event)
        self._changed.set()

    async def paired(self, count: int = 1) -> Paired:
        """The ``count``-th Paired event."""
        async with asyncio.timeout(5):
            while len(found := [e for e in self.seen if isinstance(e, Paired)]) < count:
                self._changed.clear()
                await self._changed.wait()
        return found[count - 1]


# -- pairing again --------------------------------------------------------------------------------


async def test_pairing_again_out_of_the_window_refreshes_the_name_and_keeps_the_role(
    tmp_path: Path, device: Device
) -> None:
    events = Events(device)
    first = controller(tmp_path, "Laptop")
    await (await first.pair(target(device), str(CODE))).close()
    entry = device.trust.get(first.identity.fingerprint)
    assert entry is not None and entry.role == "admin" and not device.window.is_open
    assert (await events.paired()).name == "Laptop"

    # The same controller (same state directory), now named otherwise, pairs again with the window closed.
    again = controller(tmp_path, "Laptop upstairs", state="Laptop")
    async with asyncio.timeout(5):  # answered at once, not after the 30 s response timeout
        conn = await again.pair(target(device), str(CODE))
    paired = await events.paired(2)
    assert (paired.name, paired.role) == ("Laptop upstairs", "admin")
    refreshed = device.trust.get(first.identity.fingerprint)
    assert refreshed is not None and refreshed.name == "Laptop upstairs" and refreshed.role == "admin"
    assert refreshed.paired_at == entry.paired_at and refreshed.last_seen >= entry.last_seen
    assert len(device.trust) == 1 and not device.window.is_open
    assert await conn.catalog()  # the connection is authenticated
    await conn.close()
    with pytest.raises(PairingWindowClosed):  # the window still refuses strangers
        await controller(tmp_path, "Stranger").pair(target(device), str(CODE))

    # With the window open, pairing again leaves it open for the next controller.
    device.open_pairing_window("admin")
    await (await again.pair(target(device), str(CODE))).close()
    assert device.window.is_open
    phone = controller(tmp_path, "Phone")
    await (await phone.pair(target(device), str(CODE))).close()
    assert not device.window.is_open
    assert device.trust.get(phone.identity.fingerprint).role == "user"


async def test_pairing_again_with_a_wrong_code_counts_and_keeps_the_trust(tmp_path: Path, device: Device) -> None:
    ctl = controller(tmp_path, "Laptop")
    await (await ctl.pair(target(device), str(CODE))).close()
    with pytest.raises(WrongSetupCode):
        await ctl.pair(target(device), str(WRONG))
    assert device.window.consecutive_failures == 1
    assert device.trust.is_trusted(ctl.identity.fingerprint)
    conn = await ctl.connect(target(device))
    assert await conn.agent_info()
    await conn.close()


async def test_pairing_again_in_button_and_display_modes(tmp_path: Path) -> None:
    shown: asyncio.Queue[str] = asyncio.Queue()
    for mode in (PairingMode.BUTTON, PairingMode.DISPLAY):
        dev = Device(config(tmp_path / mode.value, pairing_mode=mode, setup_code=None))
        dev.subscribe(lambda ev: shown.put_nowait(ev.text) if isinstance(ev, PinShown) else None)
        await dev.start()
        try:
            dev.open_pairing_window("button")
            ctl = controller(tmp_path / mode.value, "Laptop")
            code, ask = (0, None) if mode is PairingMode.BUTTON else (None, shown.get)
            await (await ctl.pair(target(dev), code, ask_pin=ask)).close()
            assert not dev.window.is_open
            async with asyncio.timeout(5):  # no window, no conflict with itself: answered at once
                await (await ctl.pair(target(dev), code, ask_pin=ask)).close()
            assert len(dev.trust) == 1 and not dev.window.is_open
        finally:
            await dev.stop()


# -- leaving and unpairing ------------------------------------------------------------------------


async def test_unpair_then_pair_again(tmp_path: Path, device: Device) -> None:
    ctl = controller(tmp_path, "Laptop")
    await (await ctl.pair(target(device), str(CODE))).close()
    events: list[DeviceEvent] = []
    device.subscribe(events.append)
    removed = await ctl.unpair(target(device))
    assert removed.fingerprint == device.identity.fingerprint
    assert events == [ControllerRemoved(ctl.identity.fingerprint_text, "Laptop")]  # the device's user is told
    assert ctl.pins.get(device.identity.fingerprint) is None
    assert not device.trust.is_trusted(ctl.identity.fingerprint)
    assert DeviceTrustStore(device.trust.path).list() == []  # on disk when the device answered
    with pytest.raises(PairingWindowClosed):  # no longer trusted: the window applies again
        await ctl.pair(target(device), str(CODE))
    device.open_pairing_window("admin")
    await (await ctl.pair(target(device), str(CODE))).close()
    assert device.trust.get(ctl.identity.fingerprint).role == "admin"  # type: ignore[union-attr]
    assert ctl.pins.get(device.identity.fingerprint) is not None


async def test_a_user_may_open_the_admin_channel_only_to_leave(tmp_path: Path, device: Device) -> None:
    laptop = controller(tmp_path, "Laptop")
    admin = await laptop.pair(target(device), str(CODE))
    device.open_pairing_window("admin")
    phone = controller(tmp_path, "Phone")
    user = await phone.pair(target(device), str(CODE))
    for forbidden in (
        user.list_peers(),
        user.open_pairing_window(300),
        user.remove_peer(laptop.identity.fingerprint_text),
        user.rename("Mine now"),
    ):
        with pytest.raises(ActuatorError) as refused:
            await forbidden
        assert refused.value.code == "forbidden"
    assert device.trust.is_trusted(laptop.identity.fingerprint) and device.name == "Thermo"
    await user.leave()
    closed = await asyncio.wait_for(user.agent.wait_closed(), 5)
    assert closed.code == 401
    peers = await admin.list_peers()
    assert [p.name for p in peers] == ["Laptop"]
    assert peers[0].last_seen is not None and peers[0].paired_at is not None
    assert peers[0].last_seen >= peers[0].paired_at
    assert [e.name for e in DeviceTrustStore(device.trust.path).list()] == ["Laptop"]
    await admin.close()


async def test_unpairing_an_unreachable_device_says_so_and_local_only_forgets_it(tmp_path: Path) -> None:
    dev = Device(config(tmp_path))
    await dev.start()
    ctl = controller(tmp_path, "Laptop")
    try:
        await (await ctl.pair(target(dev), str(CODE))).close()
        where = target(dev)
    finally:
        await dev.stop()
    with pytest.raises(DeviceUnreachable) as unreachable:
        await ctl.unpair(where)
    assert "Thermo" in str(unreachable.value) and "--local-only" in str(unreachable.value)
    assert ctl.pins.get(dev.identity.fingerprint) is not None  # nothing forgotten
    await ctl.unpair(where, local_only=True)
    assert ctl.pins.get(dev.identity.fingerprint) is None
    assert DeviceTrustStore(dev.trust.path).is_trusted(ctl.identity.fingerprint)  # the device still trusts it


async def test_unpairing_from_a_device_that_forgot_this_controller_completes(tmp_path: Path, device: Device) -> None:
    ctl = controller(tmp_path, "Laptop")
    await (await ctl.pair(target(device), str(CODE))).close()
    device.remove_peer(ctl.identity.fingerprint)
    await ctl.unpair(target(device))
    assert ctl.pins.get(device.identity.fingerprint) is None


# -- names -----------------------------------------------------------------------------------------

PAIR_AND_EXIT = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path
    from device_sdk.controller import ControllerConfig
    from device_sdk.controller import Controller, DeviceTarget

    async def main():
        ctl = Controller(ControllerConfig(state_dir=Path(sys.argv[1]), name=sys.argv[3]))
        await ctl.pair(DeviceTarget.from_ready_file(Path(sys.argv[2])), sys.argv[4])
        os._exit(0)  # at once: no close, no goodbye, nothing flushed

    asyncio.run(main())
    """
)


async def test_the_name_a_controller_pairs_with_is_kept_when_it_exits_at_once(tmp_path: Path, device: Device) -> None:
    events = Events(device)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PAIR_AND_EXIT, str(tmp_path / "phone"), str(tmp_path / "ready.json"), "Phone", str(CODE)
    )
    assert await asyncio.wait_for(proc.wait(), 30) == 0
    paired = await events.paired()
    assert (paired.name, paired.role) == ("Phone", "admin")
    assert [e.name for e in device.trust.list()] == ["Phone"]
    device.trust.flush()
    assert [e.name for e in DeviceTrustStore(device.trust.path).list()] == ["Phone"]


# -- limits under concurrency and across restarts -------------------------------------------------


async def test_parallel_wrong_codes_are_admitted_one_at_a_time(tmp_path: Path, device: Device) -> None:
    live, most = [0], [0]

    def count(event: DeviceEvent) -> None:
        if isinstance(event, PairingStarted):
            live[0] += 1
            most[0] = max(most[0], live[0])
        elif isinstance(event, PairingFailed) and not event.refused:
            live[0] -= 1

    device.subscribe(count)
    # the default handshake timeout: 25 handshakes at once in one loop can take more than a second
    ctls = [controller(tmp_path, f"guesser{i}", fast=False) for i in range(25)]
    results = await asyncio.gather(*(c.pair(target(device), str(WRONG)) for c in ctls), return_exceptions=True)
    wrong = [r for r in results if isinstance(r, WrongSetupCode)]
    refused = [r for r in results if isinstance(r, LockedOut)]
    assert len(wrong) + len(refused) == 25, results
    assert most[0] == 1  # never two attempts live at once
    assert 1 <= len(wrong) <= 5  # the fifth failure starts the backoff
    assert device.window.failures_in_window == device.window.consecutive_failures == len(wrong)


async def test_two_controllers_with_the_right_code_at_once_only_one_is_paired(tmp_path: Path, device: Device) -> None:
    a, b = controller(tmp_path, "A", fast=False), controller(tmp_path, "B", fast=False)
    results = await asyncio.gather(
        a.pair(target(device), str(CODE)), b.pair(target(device), str(CODE)), return_exceptions=True
    )
    paired = [r for r in results if not isinstance(r, BaseException)]
    assert len(paired) == 1, results
    assert isinstance(next(r for r in results if isinstance(r, BaseException)), LockedOut | PairingWindowClosed)
    assert len(device.trust) == 1 and not device.window.is_open
    for conn in paired:
        assert isinstance(conn, DeviceConnection)
        await conn.close()


async def test_restarts_resume_the_window_and_its_failures(tmp_path: Path) -> None:
    now = [1_800_000_000.0]  # the device's clock: jumped over each lockout instead of sleeping

    async def started() -> Device:
        dev = Device(config(tmp_path), clock=lambda: now[0])
        await dev.start()
        return dev

    ctl = controller(tmp_path, "Guesser")
    dev = await started()
    try:
        for _ in range(3):
            with pytest.raises(WrongSetupCode):
                await ctl.pair(target(dev), str(WRONG))
    finally:
        await dev.stop()
    dev = await started()  # a reboot resumes the window with its counters
    try:
        assert dev.window.is_open and dev.window.failures_in_window == 3
        while dev.window.is_open:
            locked_until = dev.window.locked_until
            if locked_until is not None:
                now[0] = max(now[0], locked_until + 0.5)
            with pytest.raises(WrongSetupCode):
                await ctl.pair(target(dev), str(WRONG))
        assert dev.window.failures_in_window == MAX_FAILURES_PER_WINDOW
    finally:
        await dev.stop()
    now[0] += 3600
    dev = await started()  # ... and grants no fresh guesses
    try:
        assert not dev.window.is_open and not json.loads((tmp_path / "ready.json").read_text())["cm"]
        with pytest.raises(PairingWindowClosed):
            await ctl.pair(target(dev), str(CODE))
    finally:
        await dev.stop()
    now[0] += BOOT_BUDGET_REFILL_S
    dev = await started()  # a day later a device without a button opens again
    try:
        assert dev.window.is_open and dev.window.failures_in_window == 0
        now[0] = max(now[0], dev.window.locked_until or 0.0)
        await (await ctl.pair(target(dev), str(CODE))).close()
    finally:
        await dev.stop()


class _Collector(ConnectionHandler):
    def __init__(self) -> None:
        self.messages: list[Message] = []

    def control_message(self, conn: AgentConnection, msg: Message) -> None:
        self.messages.append(msg)


async def test_an_invalid_point_is_proof_invalid_counts_and_rotates_at(tmp_path: Path, device: Device) -> None:
    before = json.loads((tmp_path / "ready.json").read_text())["at"]
    assert before == device.txt_record().at
    stranger = controller(tmp_path, "Stranger")
    handler = _Collector()
    conn = await connect(
        "127.0.0.1",
        device.port,
        credentials=Credentials.from_identity(stranger.identity),
        expected_fingerprint=device.identity.fingerprint,
        server_name=target(device).server_name,
        local_info=lambda: AgentInfo("Stranger", "test", (), "s1234567", ()),
        on_connection=lambda _c: handler,
    )
    conn.send_control(AuthCapabilities(100, (0,), 20))
    conn.send_control(AuthSpake2Handshake(before, PskStatus.INPUT, SMALL_ORDER))
    closed = await asyncio.wait_for(conn.wait_closed(), 5)
    assert isinstance(closed, ConnectionClosed) and closed.code == 401
    assert AuthStatus(AuthResult.PROOF_INVALID) in handler.messages
    assert device.window.consecutive_failures == 1 and device.window.failures_in_window == 1
    after = json.loads((tmp_path / "ready.json").read_text())["at"]
    assert after != before and after == device.txt_record().at == device.window.token


# -- the status LED ---------------------------------------------------------------------------------


async def test_the_status_led_shows_an_error_for_a_while_and_ignores_refusals(tmp_path: Path) -> None:
    dev = Device(config(tmp_path, board="sim"))
    assert dev.hardware is not None
    dev.hardware.error_show_s = 1.0  # long enough to be seen on a loaded machine, short to wait out
    await dev.start()
    led = dev.hardware.runtime.status_led
    assert led is not None

    def showing() -> LedPattern:
        assert led is not None
        return led.pattern

    async def shows(pattern: LedPattern) -> None:
        async with asyncio.timeout(5):
            while showing() is not pattern:
                await asyncio.sleep(0.01)

    try:
        assert showing() is LedPattern.WINDOW_OPEN
        with pytest.raises(WrongSetupCode):
            await controller(tmp_path, "Typo").pair(target(dev), str(WRONG))
        assert showing() is LedPattern.ERROR
        await shows(LedPattern.WINDOW_OPEN)  # the error lasted its while; the window is still open
        await (await controller(tmp_path, "Laptop").pair(target(dev), str(CODE))).close()
        await shows(LedPattern.PAIRED)
        with pytest.raises(PairingWindowClosed):  # a stranger at the closed window
            await controller(tmp_path, "Stranger").pair(target(dev), str(CODE))
        assert showing() is LedPattern.PAIRED
        await asyncio.sleep(0.4)
        assert showing() is LedPattern.PAIRED
    finally:
        await dev.stop()


# -- channel refusals -------------------------------------------------------------------------------


async def test_a_connection_opens_channels_after_many_refusals(tmp_path: Path, device: Device) -> None:
    conn = await controller(tmp_path, "Laptop").pair(target(device), str(CODE))
    for _ in range(150):  # more than the device's 128 concurrent bidirectional streams
        with pytest.raises(ChannelOpenFailed):
            await conn.open_channel("no_such_channel", SENSOR_PROTOCOL)
    catalog = await conn.catalog()
    assert catalog.get("temperature") is not None
    await conn.close()
