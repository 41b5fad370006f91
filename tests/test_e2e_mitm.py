"""Channel binding: a man in the middle that terminates TLS with its own certificates on both sides
and relays every SPAKE2 message verbatim cannot complete a pairing, even knowing nothing it should not."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from device_sdk.controller import Controller, ControllerConfig, DeviceTarget
from device_sdk.device import Device, DeviceConfig
from device_sdk.errors import PairingError, WrongSetupCode
from device_sdk.identity import AgentIdentity
from device_sdk.transport import AgentConnection, ConnectionHandler, Credentials, Server, connect, serve
from device_sdk.wire import (
    AgentInfo,
    AuthCapabilities,
    AuthSpake2Confirmation,
    AuthSpake2Handshake,
    AuthStatus,
    Message,
)

from .test_e2e_pairing import target

pytestmark = pytest.mark.timeout(60)

AUTH = (AuthCapabilities, AuthSpake2Handshake, AuthSpake2Confirmation, AuthStatus)
INFO = AgentInfo("Thermo", "mitm", (1100, 1300), "Mitm0001", ())


class Relay(ConnectionHandler):
    """Forwards auth messages from one TLS session to the other, unchanged."""

    def __init__(self) -> None:
        self.peer: AgentConnection | None = None
        self.pending: list[Message] = []
        self.relayed: list[str] = []

    def control_message(self, conn: AgentConnection, msg: Message) -> None:
        if not isinstance(msg, AUTH):
            return
        self.relayed.append(type(msg).__name__)
        if self.peer is None:
            self.pending.append(msg)
        else:
            self.peer.send_control(msg)

    def attach(self, peer: AgentConnection) -> None:
        self.peer = peer
        for msg in self.pending:
            peer.send_control(msg)
        self.pending.clear()


@pytest.fixture
async def device(tmp_path: Path) -> AsyncIterator[Device]:
    dev = Device(DeviceConfig(state_dir=tmp_path / "device", name="Thermo", advertise=False, host="127.0.0.1"))
    await dev.start()
    yield dev
    await dev.stop()


async def test_relaying_spake2_through_other_tls_sessions_fails(tmp_path: Path, device: Device) -> None:
    mitm = AgentIdentity.load_or_create(tmp_path / "mitm", model_name="mitm", instance_name="Thermo")
    real = target(device)
    to_controller = Relay()  # messages from the device side, sent on to the controller
    to_device = Relay()  # messages from the controller side, sent on to the device
    links: list[AgentConnection] = []

    def on_controller(conn: AgentConnection) -> ConnectionHandler:
        async def dial_device() -> None:
            upstream = await connect(
                "127.0.0.1",
                real.port,
                credentials=Credentials.from_identity(mitm),
                expected_fingerprint=real.fingerprint,
                server_name=real.server_name,
                local_info=lambda: INFO,
                on_connection=lambda _c: to_controller,
            )
            links.append(upstream)
            to_device.attach(upstream)
            to_controller.attach(conn)

        asyncio.get_running_loop().create_task(dial_device())
        return to_device

    server: Server = await serve(
        credentials=Credentials.from_identity(mitm),
        local_info=lambda: INFO,
        on_connection=on_controller,
        host="127.0.0.1",
    )
    try:
        ctl = Controller(ControllerConfig(state_dir=tmp_path / "ctl", name="Victim"))
        # The controller was led to the impostor: its advertised fp is the MITM's, its `at` the device's.
        fake = DeviceTarget(
            name=real.name,
            addresses=("127.0.0.1",),
            port=server.port,
            fingerprint=mitm.fingerprint,
            sn=mitm.sn,
            token=real.token,
            discriminator=real.discriminator,
        )
        with pytest.raises(PairingError) as failure:
            await ctl.pair(fake, device.factory.passcode)  # even with the right setup code
        # The device's check of cA fails (the identities differ): it reports proof-invalid.
        assert isinstance(failure.value, WrongSetupCode)
        assert "AuthSpake2Handshake" in to_device.relayed and "AuthSpake2Handshake" in to_controller.relayed
        assert not device.trust.list()
        assert ctl.pins.get(device.identity.fingerprint) is None
        assert ctl.pins.get(mitm.fingerprint) is None
        assert device.window.consecutive_failures == 1  # the relayed attempt was spent and counted
    finally:
        for link in links:
            link.close()
        server.close()
