"""The device: its lifecycle and its declarations. Joins identity, pairing, discovery, the transport,
channels and hardware, each part given what it needs (see docs/architecture.md).

Application authors declare channels and run the device::

    device = Device(DeviceConfig(state_dir=Path("/var/lib/thermo"), name="Thermo"))
    temp = device.sensor("temperature", type="float", unit="C")
    async with device:
        temp.publish(21.5)
        await device.wait_closed()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..channels import Actuator, ByteStream, CatalogChanged, ChannelRegistry, Input, Sensor
from ..discovery.txt import DeviceRecord
from ..errors import DeviceSDKError, NotRunning
from ..identity import AgentIdentity, stored_names
from ..pairing.auth import PskProvider
from ..pairing.spake2 import Spake2SharePool
from ..pairing.trust import DeviceTrustStore
from ..pairing.window import OpenReason, PairingMode, PairingWindow
from ..pairing.window_store import WindowStore
from ..storage.statefile import StateWriterThread, ensure_dir, remove_stale_temporaries
from ..transport import AgentConnection, Credentials, Server, serve
from ..wire import AgentInfo, AgentInfoEvent, CloseCode
from .admin import DeviceAdmin
from .config import DEFAULT_DEVICE_NAME, DeviceConfig
from .events import ControllerRemoved, DeviceEvent
from .factory import FactoryData
from .metadata import DeviceMetadata, Published
from .pairing import PairingRunner
from .session import DeviceSession, SessionContext, SessionHub

if TYPE_CHECKING:  # imported when used: a device without a board loads no gpiozero, one that does not
    # advertise no zeroconf
    from zeroconf.asyncio import AsyncZeroconf

    from ..discovery.advertiser import Advertiser
    from .hardware_binding import HardwareBinding, PairingStatus

log = logging.getLogger(__name__)

TRUST_FILE = "trust.json"
WINDOW_FILE = "pairing-window.json"
METADATA_FILE = "metadata.json"
"""The highest TXT ``mv`` reserved so far (``mv`` never goes down, across restarts too)."""


class Device:
    """A device built with device_sdk (see the module docstring)."""

    def __init__(
        self,
        config: DeviceConfig,
        *,
        zeroconf: AsyncZeroconf | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self._zeroconf = zeroconf
        state_dir = ensure_dir(config.state_dir)
        remove_stale_temporaries(state_dir)
        stored_name, stored_model = stored_names(state_dir)
        self.name: str = config.name or stored_name or DEFAULT_DEVICE_NAME
        """The display name (``config.name``, else the stored one)."""
        self.model: str = config.model or stored_model or DEFAULT_DEVICE_NAME
        self.config = config = replace(config, name=self.name, model=self.model)
        self.identity = AgentIdentity.load_or_create(state_dir, model_name=self.model, instance_name=self.name)
        # setup_code/discriminator: stored when the device has no factory data yet, else for this run only
        # (the provisioned values are what the sticker shows; they survive resets and are never rewritten).
        stored = FactoryData.load(state_dir)
        if stored is None:
            stored = FactoryData.load_or_create(
                state_dir, passcode=config.setup_code, discriminator=config.discriminator
            )
        self.factory = stored.for_this_run(passcode=config.setup_code, discriminator=config.discriminator)
        # The stores write on the device's own thread: a pairing's fsyncs (tens of ms on an SD card)
        # must not stall the event loop that serves every other controller. Failures and revocations
        # are still written at once. The thread starts with the device and stops with it.
        self.state_writer = StateWriterThread()
        self.trust = DeviceTrustStore(state_dir / TRUST_FILE, background=self.state_writer)
        self.window_store = WindowStore(state_dir / WINDOW_FILE, background=self.state_writer)
        self.window = PairingWindow(
            mode=config.pairing_mode, duration_s=config.window_s, state=self.window_store.load()
        )
        """The pairing window (pure policy: read it; change it through :meth:`open_pairing_window`)."""
        self.spake2_shares = Spake2SharePool("B")
        """The next pairing attempt's SPAKE2 share, computed ahead between attempts."""
        self.channels = ChannelRegistry(
            device_name=self.name,
            model=self.model,
            board=config.board or "",
            sdk=f"device_sdk {__version__}",
            clock=clock,
        )
        self.metadata = DeviceMetadata(
            locales=config.locales, ready_file=config.ready_file, version_file=state_dir / METADATA_FILE
        )
        """What the device publishes: agent-info's state token, TXT ``mv``, the ready file."""
        self._subscribers: list[Callable[[DeviceEvent], None]] = []
        self._server: Server | None = None
        self._advertiser: Advertiser | None = None
        self._readvertise: asyncio.Task[None] | None = None
        self._closed: asyncio.Event | None = None
        self._hub: SessionHub | None = None
        self.pairing = PairingRunner(
            window=self.window,
            store=self.window_store,
            trust=self.trust,
            psk=self.psk_provider(),
            shares=self.spake2_shares,
            device_fp=self.identity.fingerprint,
            clock=clock,
            emit=self.emit,
            publish=self._publish,
        )
        """The pairing runner: each connection's authentication, the window's decisions, the commits."""
        self.channels.add_listener(self._registry_event)
        self.channels.set_admin_backend(
            DeviceAdmin(
                trust=self.trust,
                open_window=lambda seconds: self.open_pairing_window("admin", seconds),
                remove_peer=self.remove_peer,
                role_changed=self.channels.update_peer_role,
                rename=self._rename_for_admin,
            )
        )
        self.hardware: HardwareBinding | None = None
        if config.board is not None:
            from .hardware_binding import ChannelDeclarations, HardwareBinding

            registry = self.channels
            self.hardware = HardwareBinding(
                config.board,
                declare=ChannelDeclarations(sensor=registry.sensor, actuator=registry.actuator, input=registry.input),
                status=self._pairing_status,
                on_short_press=lambda: self.open_pairing_window("button"),
                on_long_press=self.factory_reset,
                state_dir=config.state_dir,
                pin_factory=config.pin_factory,
            )
            self.subscribe(self.hardware.device_event)

    # -- channel declarations (delegated to the registry) -----------------------------------------

    def sensor(self, name: str, **kw: Any) -> Sensor:
        """Declare a sensor channel; see :meth:`ChannelRegistry.sensor`."""
        return self.channels.sensor(name, **kw)

    def actuator(self, name: str, **kw: Any) -> Actuator:
        """Declare an actuator channel; see :meth:`ChannelRegistry.actuator`."""
        return self.channels.actuator(name, **kw)

    def stream(self, name: str, **kw: Any) -> ByteStream:
        """Declare a byte-stream channel; see :meth:`ChannelRegistry.stream`."""
        return self.channels.stream(name, **kw)

    def input(self, name: str, **kw: Any) -> Input:
        """Declare a low-latency input channel; see :meth:`ChannelRegistry.input`."""
        return self.channels.input(name, **kw)

    def psk_provider(self) -> PskProvider:
        """The PSK of this device's pairing mode: the setup code, a fresh PIN, or 0 (button)."""
        if self.window.mode is PairingMode.STICKER:
            return PskProvider(mode=self.window.mode, passcode=self.factory.passcode)
        return PskProvider(mode=self.window.mode)

    # -- observable state ---------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[DeviceEvent], None]) -> Callable[[], None]:
        """Call ``callback`` with every :data:`DeviceEvent`; returns the unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def emit(self, event: DeviceEvent) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("device event subscriber failed")

    @property
    def port(self) -> int:
        if self._server is None:
            raise NotRunning("the device is not started: start it first (async with device, or await device.start())")
        return self._server.port

    @property
    def instance_name(self) -> str:
        return self._advertiser.instance_name if self._advertiser else self.identity.instance_name

    @property
    def fingerprint(self) -> str:
        return self.identity.fingerprint_text

    @property
    def connections(self) -> set[AgentConnection]:
        return self._server.connections if self._server else set()

    def agent_info(self) -> AgentInfo:
        return self.metadata.agent_info(name=self.name, model=self.model)

    def txt_record(self) -> DeviceRecord:
        return self.metadata.txt_record(self._published())

    def _published(self) -> Published:
        """The values the device publishes now (TXT and the ready file)."""
        return Published(
            fp=self.identity.fingerprint_text,
            sn=self.identity.sn,
            instance_name=self.instance_name,
            at=self.window.token,
            cm=self.window.is_open_at(self.clock()),
            discriminator=self.factory.discriminator,
            advertise_discriminator=self.config.pairing_mode is PairingMode.STICKER,
            port=self._server.port if self._server is not None else None,
        )

    def _pairing_status(self) -> PairingStatus:
        from .hardware_binding import PairingStatus

        return PairingStatus(
            window_open=self.window.is_open_at(self.clock()),
            reason=self.window.opened_reason,
            expires_at=self.window.expires_at,
            mode=self.window.mode.value,
            paired=len(self.trust.list()),
        )

    # -- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve on QUIC, advertise over mDNS, open the pairing window if unpaired."""
        self._closed = asyncio.Event()
        self.state_writer.start()  # before any pairing, so that none waits for the thread
        self.identity.renew_if_needed()
        self.pairing.start(open_window=self.config.open_window)
        self._hub = SessionHub(
            SessionContext(registry=self.channels, trust=self.trust, pairing=self.pairing, clock=self.clock)
        )
        hub = self._hub
        self._server = await serve(
            credentials=Credentials.from_identity(self.identity),
            local_info=self.agent_info,
            on_connection=lambda conn: DeviceSession(hub, conn),
            host=self.config.host,
            port=self.config.port,
            config=self.config.transport,
        )
        if self.config.advertise:
            from ..discovery.advertiser import Advertiser, AdvertiserConfig

            self._advertiser = Advertiser(
                config=AdvertiserConfig(
                    instance_name=self.name, port=self._server.port, interfaces=self.config.interfaces
                ),
                zeroconf=self._zeroconf,
                on_rename=self._renamed,
            )
            await self._advertiser.start(self.txt_record())
        if self.hardware is not None:
            await self.hardware.start()
        self.metadata.write_ready_file(self._published())
        log.info("device %r serving on UDP port %d", self.instance_name, self._server.port)

    async def stop(self) -> None:
        """Close connections with 5139, send mDNS goodbyes, stop."""
        self.pairing.stop()
        if self.hardware is not None:
            await self.hardware.stop()
        if self._hub is not None:
            await self._hub.stop()
        if self._server is not None:
            self._server.close(CloseCode.NORMAL, "device shutting down")
            await asyncio.sleep(0.05)  # let the close frames leave
        if self._readvertise is not None:
            self._readvertise.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._readvertise
        if self._advertiser is not None:
            await self._advertiser.stop()
            self._advertiser = None
        await asyncio.to_thread(self._stop_writers)
        if self._closed is not None:
            self._closed.set()

    def _stop_writers(self) -> None:
        self.window_store.shutdown()
        self.trust.shutdown()
        self.state_writer.close()

    async def wait_closed(self) -> None:
        """Wait until :meth:`stop` is called."""
        assert self._closed is not None, "the device is not started"
        await self._closed.wait()

    async def __aenter__(self) -> Device:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- pairing window and trust ---------------------------------------------------------------------

    def open_pairing_window(self, reason: OpenReason = "admin", seconds: float | None = None) -> None:
        """Open the pairing window (``button`` or ``admin`` also clear the failure counters)."""
        self.pairing.open_window(reason, seconds)

    def factory_reset(self) -> None:
        """Erase the trust store (on disk before anything else happens), keep identity and setup
        code, close every connection, open the pairing window."""
        log.warning("factory reset: erasing the trust store")
        self.pairing.abort_all("factory reset")
        self.trust.clear()
        for conn in list(self.connections):
            conn.close(CloseCode.UNAUTHORIZED, "factory reset")
        self.open_pairing_window("button")

    def remove_peer(self, fingerprint: bytes) -> bool:
        """Forget a controller (on disk when this returns), then close its connections once what
        they were sent has left (a controller that leaves gets its answer first)."""
        record = self.trust.get(fingerprint)
        removed = self.trust.remove(fingerprint)
        if self._hub is not None:
            self._hub.revoke(fingerprint, "peer removed")
        if removed and record is not None:
            self.emit(ControllerRemoved(record.fingerprint_text, record.name))
        return removed

    # -- metadata: TXT, agent-info-event, ready file -----------------------------------------------------

    def _registry_event(self, event: object) -> None:
        if isinstance(event, CatalogChanged):
            self.metadata.changed()
            self._publish()
        if self._hub is not None:
            self._hub.registry_event(event)

    def _renamed(self, new_name: str) -> None:
        log.warning("mDNS name conflict: renamed to %r", new_name)
        self.identity.rename(new_name)
        self.metadata.changed()
        self._publish()

    def _publish(self) -> None:
        """Push the current TXT values and rewrite the ready file."""
        published = self._published()
        if self._advertiser is not None and self._advertiser.running:
            asyncio.get_running_loop().create_task(self._advertiser.update(self.metadata.txt_record(published)))
        self.metadata.write_ready_file(published)

    def rename(self, name: str) -> None:
        """Change the display name: agent-info, catalog, certificate label and mDNS name follow
        (the mDNS record is withdrawn and published again under the new name, ~1 s of probing)."""
        self.name = name
        self.config = replace(self.config, name=name)
        self.channels.set_device_name(name)
        self.identity.rename(name)
        self.info_changed()
        if self._advertiser is not None and self._advertiser.running:
            self._readvertise = asyncio.get_running_loop().create_task(self._advertise_as(name))

    def _rename_for_admin(self, name: str) -> str:
        self.rename(name)
        return self.name

    async def _advertise_as(self, name: str) -> None:
        advertiser = self._advertiser
        if advertiser is None:
            return
        try:
            published = await advertiser.rename(name)
        except DeviceSDKError as exc:
            log.error("could not publish the new name over mDNS: %s", exc)
            return
        if published != self.identity.instance_name:
            self.identity.rename(published)  # numbered after a conflict
        self._publish()  # TXT changes made while the name was being probed

    def info_changed(self) -> None:
        """agent-info changed (for example a rename): bump ``mv`` and tell authenticated peers."""
        self.metadata.changed()
        event = AgentInfoEvent(self.agent_info())
        for conn in list(self.connections):
            if conn.authenticated:
                conn.send_control(event)
        self._publish()
