"""The controller side: discover devices, pair by setup code, connect to paired devices.

::

    async with Controller(ControllerConfig(state_dir=Path("~/.local/share/me").expanduser())) as ctl:
        device = await ctl.find("Thermo")
        conn = await ctl.pair(device, "MT:Y.K90AFN00KA0648G00")
        async for reading in conn.subscribe("temperature"):
            ...
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable

from zeroconf.asyncio import AsyncZeroconf

from ..discovery import Browser, DiscoveredDevice
from ..errors import (
    ActuatorError,
    ChannelError,
    ChannelOpenFailed,
    ConnectionClosed,
    DeviceNotFound,
    DeviceUnreachable,
    FingerprintMismatch,
    NotPaired,
    PairingAborted,
    PairingError,
    PairingTimeout,
    TransportError,
)
from ..identity import AgentIdentity, fingerprint_from_text, fingerprint_text
from ..pairing.auth import AuthFailed, failure_to_error
from ..pairing.auth_controller import ControllerAuth
from ..pairing.setup_code import parse_setup_code
from ..pairing.trust import ControllerPinStore, PinnedDevice
from ..storage.statefile import StateWriterThread, ensure_dir
from ..transport import AgentConnection, Credentials, connect
from ..wire import (
    CAP_DATA_CHANNELS,
    AgentInfo,
    AuthResult,
    CloseCode,
)
from .config import ControllerConfig
from .connection import DeviceConnection
from .pairing import PairingAttempt, PinCallback
from .reconnect import ReconnectPolicy, connections
from .targets import DeviceFinder, DeviceTarget

log = logging.getLogger(__name__)

NEW_TOKEN_WAIT_S = 3.0
"""After a pairing failed on a replaced token, how long :meth:`Controller.pair` waits for the
device to announce its next one before it gives up (the device announces it within milliseconds)."""
NEW_TOKEN_SETTLE_S = 0.2
"""And once the token has changed, how long it waits for a newer change before it tries again."""

PINS_FILE = "devices.json"
CONTROLLER_MODEL = "device_sdk controller"


class Controller:
    """A controller: its own identity and pinned devices live in ``config.state_dir``."""

    def __init__(
        self,
        config: ControllerConfig,
        *,
        zeroconf: AsyncZeroconf | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.clock = clock
        ensure_dir(config.state_dir)
        self.identity = AgentIdentity.load_or_create(
            config.state_dir, model_name=CONTROLLER_MODEL, instance_name=config.name
        )
        # Written on the controller's own thread: pair() need not wait for fsync; close() flushes and
        # stops it.
        self.state_writer = StateWriterThread()
        self.pins = ControllerPinStore(config.state_dir / PINS_FILE, background=self.state_writer)
        self._credentials = Credentials.from_identity(self.identity)
        """The identity's files, and their certificate and key once loaded (for every dial)."""
        self.finder = DeviceFinder(zeroconf=zeroconf, interfaces=config.interfaces)
        """Finds devices over mDNS (discovery, queries, pinned devices found again)."""
        self._open_connections: set[DeviceConnection] = set()
        """The connections this controller made that have not ended: :meth:`close` closes them."""

    async def __aenter__(self) -> Controller:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connections this controller opened that are still open (normally, 5139), stop
        discovery and make sure the pinned devices are on disk."""
        open_connections = list(self._open_connections)
        if open_connections:
            await asyncio.gather(*(conn.close() for conn in open_connections))
        await self.finder.close()
        await asyncio.to_thread(self._close_writer)

    def _close_writer(self) -> None:
        self.pins.flush()
        self.state_writer.close()

    def agent_info(self) -> AgentInfo:
        return AgentInfo(self.config.name, CONTROLLER_MODEL, (CAP_DATA_CHANNELS,), "c0ntr011", ())

    # -- discovery ------------------------------------------------------------------------------

    async def browser(self) -> Browser:
        """The controller's mDNS browser, started on first use."""
        return await self.finder.browser()

    async def discover(self, timeout: float = 3.0, *, pairable_only: bool = False) -> list[DiscoveredDevice]:
        """Devices seen within ``timeout`` seconds (only those with an open window if asked)."""
        return await self.finder.discover(timeout, pairable_only=pairable_only)

    async def find(self, query: str, timeout: float = 5.0) -> DiscoveredDevice:
        """A device by name, fingerprint prefix (>= 4 characters) or discriminator.

        Raises :class:`~device_sdk.errors.AmbiguousDevice` when the query matches more than one device
        (a shared discriminator, a short fingerprint prefix, two devices showing the same name).
        """
        return await self.finder.find(query, timeout)

    async def find_for_code(self, code: str, timeout: float = 5.0) -> DiscoveredDevice:
        """The device with an open pairing window whose discriminator matches a setup code.

        Raises :class:`~device_sdk.errors.AmbiguousDevice` when two or more such devices are on the
        network, rather than pairing with whichever answered first: one of them may be an impostor.
        """
        return await self.finder.find_for_code(code, timeout)

    # -- connecting -----------------------------------------------------------------------------

    async def _open(
        self, target: DeviceTarget, *, pairing: PairingAttempt | None = None, trusted: bool = False
    ) -> DeviceConnection:
        """Dial the device at each of its addresses in turn; the connection's handler is a
        :class:`DeviceConnection` (with ``pairing`` taking the auth messages while it runs;
        ``trusted``: a pinned device, authenticated once its fingerprint matched)."""

        def handler(agent: AgentConnection) -> DeviceConnection:
            agent.peer_name = target.name  # named in errors (lost contact) before its agent-info arrives
            conn = DeviceConnection(
                agent,
                name=target.name,
                fingerprint=target.fingerprint,
                on_device_info=lambda info: self._device_renamed(target.fingerprint, info),
            )
            conn.auth_handler = pairing
            conn.trusted = trusted
            return conn

        last: Exception | None = None
        for host in target.addresses:
            try:
                agent = await connect(
                    host,
                    target.port,
                    credentials=self._credentials,
                    expected_fingerprint=target.fingerprint,
                    server_name=target.server_name,
                    local_info=self.agent_info,
                    on_connection=handler,
                    config=self.config.transport,
                )
            except TransportError as exc:
                last = exc
                continue
            conn = agent.handler
            assert isinstance(conn, DeviceConnection)
            self._track(conn)
            return conn
        raise last or DeviceNotFound(f"{target.name} has no address")

    def _track(self, conn: DeviceConnection) -> None:
        """Keep ``conn`` among the open connections until it ends."""
        self._open_connections.add(conn)
        conn.agent.closed.add_done_callback(lambda _f: self._open_connections.discard(conn))

    def _attempt(self, target: DeviceTarget, passcode: int | None, ask_pin: PinCallback | None) -> PairingAttempt:
        auth = ControllerAuth(
            controller_fp=self.identity.fingerprint, device_fp=target.fingerprint, token=target.token, passcode=passcode
        )
        return PairingAttempt(auth, ask_pin=ask_pin, clock=self.clock)

    async def _authenticate(self, target: DeviceTarget, pairing: PairingAttempt) -> DeviceConnection:
        """Dial ``target`` and run ``pairing`` until the device is authenticated."""
        # pA is computed while the dial waits (for the address lookup or the device's first flight);
        # if the handshake completes first, start() computes it then.
        asyncio.get_running_loop().call_soon(pairing.auth.prepare)
        try:
            conn = await self._open(target, pairing=pairing)
        except BaseException:
            pairing.stop()  # the exchange may have started as the handshake completed
            raise
        agent = conn.agent
        try:
            async with asyncio.timeout(self.config.pair_timeout):
                await pairing.run(agent)
        except TimeoutError:
            agent.close(CloseCode.UNAUTHORIZED, "pairing timed out")
            raise PairingTimeout("the device did not complete the pairing in time") from None
        except BaseException:
            agent.close(CloseCode.UNAUTHORIZED, "pairing failed")
            raise
        finally:
            conn.auth_handler = None
            pairing.stop()
        return conn

    async def _with_new_token(self, target: DeviceTarget, error: PairingAborted) -> DeviceTarget:
        """``target`` as the device announces it once its token is no longer the one that failed
        (raises ``error`` when no such record arrives within :data:`NEW_TOKEN_WAIT_S`)."""
        fp = fingerprint_text(target.fingerprint)
        browser = await self.finder.browser()
        try:
            found = await browser.find(lambda d: d.txt.fp == fp and d.txt.at != target.token, NEW_TOKEN_WAIT_S)
        except DeviceNotFound:
            raise error from None
        # What changed may be an update older than the failure, overtaken by the one it caused:
        # give that one a moment, then take the newest.
        await asyncio.sleep(NEW_TOKEN_SETTLE_S)
        return self.finder.target(found)

    async def pair(
        self,
        device: DiscoveredDevice | DeviceTarget,
        code: str | int | None,
        *,
        ask_pin: PinCallback | None = None,
    ) -> DeviceConnection:
        """Pair with ``device`` using its setup code (QR text, manual code or passcode; 0 for button
        mode; None for display mode, where ``ask_pin`` returns what the device shows).

        Returns the authenticated connection; the device's fingerprint is pinned. Pairing a device
        that already trusts this controller runs the exchange again (the code is proven again, in or
        out of its pairing window): the device refreshes this controller's name and keeps its role.
        Raises :class:`~device_sdk.errors.WrongSetupCode`, :class:`~device_sdk.errors.PairingWindowClosed`,
        :class:`~device_sdk.errors.LockedOut`, :class:`~device_sdk.errors.PairingTimeout`, ...
        """
        target = device if isinstance(device, DeviceTarget) else self.finder.target(device)
        passcode: int | None
        if code is None:
            passcode = None
        elif isinstance(code, int):
            passcode = code
        else:
            passcode = parse_setup_code(code).passcode if code.strip() != "0" else 0
        pairing = self._attempt(target, passcode, ask_pin)
        try:
            conn = await self._authenticate(target, pairing)
        except PairingAborted as exc:
            failure = pairing.failure
            if isinstance(device, DeviceTarget) or failure is None or failure.result != AuthResult.SECRET_UNKNOWN:
                raise
            # The record we paired from carried a token the device had already replaced (an mDNS
            # update lost or overtaken on the way). The device draws a new one for the failure and
            # announces it: wait for that, and try once more (docs/protocol.md, "A replaced token").
            target = await self._with_new_token(target, exc)
            log.info("%s had replaced its pairing token; trying again with the new one", target.name)
            pairing = self._attempt(target, passcode, ask_pin)
            conn = await self._authenticate(target, pairing)
        agent = conn.agent
        agent.set_authenticated()
        # The device commits when our auth-status arrives. A request sent after it is answered
        # after it (one flight, processed in order), so once the answer is here the device has
        # committed, or has closed the connection because it did not (a button-mode conflict).
        assert pairing.confirmed is not None
        try:
            async with asyncio.timeout(self.config.pair_timeout):
                await pairing.confirmed
        except ConnectionClosed as exc:
            if exc.code in (CloseCode.UNAUTHORIZED, CloseCode.FORBIDDEN):
                # The device did not commit: its window closed meanwhile, or this controller was removed.
                refused = AuthFailed(exc.code, exc.reason, AuthResult.UNKNOWN_ERROR)
                raise failure_to_error(refused, close_code=exc.code, close_reason=exc.reason) from None
            raise PairingError(f"the device closed the connection instead of committing the pairing: {exc}") from None
        except TimeoutError:
            agent.close(CloseCode.UNAUTHORIZED, "pairing not confirmed")
            raise PairingTimeout("the device did not confirm the pairing in time") from None
        self.pins.add(
            target.fingerprint,
            target.name,
            now=self.clock(),
            discriminator=target.discriminator,
            addresses=target.addresses,
            port=target.port,
        )
        log.info("paired with %s", target.name)
        return conn

    async def connect(self, device: str | DiscoveredDevice | DeviceTarget | PinnedDevice) -> DeviceConnection:
        """Connect to a paired device: by name, fingerprint prefix or discriminator (found over
        mDNS by its pinned fingerprint), or at a discovery result or target given directly.

        Raises :class:`~device_sdk.errors.NotPaired` for a device this controller has not paired with.
        """
        if isinstance(device, DiscoveredDevice):
            target = DeviceTarget.from_discovered(device)
        elif isinstance(device, DeviceTarget):
            target = device
        else:
            pinned = device if isinstance(device, PinnedDevice) else self.pins.find(device)
            target = await self.finder.locate(pinned)
        if self.pins.get(target.fingerprint) is None:
            raise NotPaired(f"{target.name} is not paired with this controller")
        conn = await self._open(target, trusted=True)
        self.pins.update(target.fingerprint, addresses=target.addresses, port=target.port, now=self.clock())
        return conn

    def connections(
        self,
        device: str | DiscoveredDevice | DeviceTarget | PinnedDevice,
        policy: ReconnectPolicy | None = None,
    ) -> AsyncGenerator[DeviceConnection, None]:
        """Connections to a paired device, a new one whenever the last was lost: the device is found
        again by its pinned fingerprint and dialled with backoff (:mod:`device_sdk.controller.reconnect`)."""
        if isinstance(device, str):
            device = self.pins.find(device)
        elif isinstance(device, DiscoveredDevice):
            pinned = self.pins.get(fingerprint_from_text(device.fingerprint))
            device = pinned if pinned is not None else device  # pinned: found again by fingerprint later
        return connections(self.connect, device, policy or ReconnectPolicy())

    async def probe(self, device: DiscoveredDevice | DeviceTarget) -> AgentInfo:
        """The agent-info of a device, paired or not (the profile lets any peer ask): its full name and
        model, before pairing. The device is checked against its advertised fingerprint; the
        connection is closed at once."""
        target = device if isinstance(device, DeviceTarget) else self.finder.target(device)
        conn = await self._open(target)
        try:
            return await conn.agent_info()
        finally:
            await conn.close()

    def _device_renamed(self, fingerprint: bytes, info: AgentInfo) -> None:
        """A paired device announced new agent-info: keep its pinned name current."""
        pinned = self.pins.get(fingerprint)
        if pinned is not None and pinned.name != info.display_name:
            self.pins.update(fingerprint, name=info.display_name, now=self.clock())

    def peers(self) -> list[PinnedDevice]:
        """The paired devices."""
        return self.pins.list()

    async def unpair(
        self, device: str | DiscoveredDevice | DeviceTarget | PinnedDevice, *, local_only: bool = False
    ) -> PinnedDevice:
        """Unpair from a paired device (by name, fingerprint prefix or discriminator, or given directly):
        ask it to forget this controller ("leave", profile v1.1), wait for its answer (the removal is
        then on its disk), then forget it here. Returns the device as it was pinned.

        Raises :class:`~device_sdk.errors.NotPaired` (or :class:`~device_sdk.errors.DeviceNotFound`)
        for a device this controller has not paired with, and
        :class:`~device_sdk.errors.DeviceUnreachable` when the device cannot be reached or does not
        answer: then nothing is forgotten. ``local_only`` forgets the device here without asking it (it
        keeps trusting this controller until an admin removes it). A device that no longer trusts
        this controller counts as done.
        """
        pinned = self._pinned(device)
        if not local_only:
            await self._leave(pinned if isinstance(device, str) else device, pinned)
        self.pins.remove(pinned.fingerprint)  # on disk when it returns
        log.info("unpaired from %s", pinned.name)
        return pinned

    def _pinned(self, device: str | DiscoveredDevice | DeviceTarget | PinnedDevice) -> PinnedDevice:
        if isinstance(device, str):
            return self.pins.find(device)
        if isinstance(device, DiscoveredDevice):
            fingerprint, name = fingerprint_from_text(device.txt.fp), device.display_name
        else:
            fingerprint, name = device.fingerprint, device.name
        pinned = self.pins.get(fingerprint)
        if pinned is None:
            raise NotPaired(f"{name} is not paired with this controller")
        return pinned

    async def _leave(self, device: DiscoveredDevice | DeviceTarget | PinnedDevice, pinned: PinnedDevice) -> None:
        """Ask ``device`` to forget this controller; :class:`DeviceUnreachable` when it cannot."""
        try:
            conn = await self.connect(device)
        except (FingerprintMismatch, DeviceNotFound, TransportError) as exc:
            log.info("unpair: %s is not reachable: %s", pinned.name, exc)
            raise DeviceUnreachable(pinned.name) from exc
        try:
            await conn.leave()
        except ChannelOpenFailed:
            raise PairingError(
                f"{pinned.name} does not let this controller remove itself; "
                "ask one of its admins to remove it, or unpair with --local-only"
            ) from None
        except ActuatorError as exc:
            raise PairingError(f"{pinned.name} refused to forget this controller: {exc.message or exc.code}") from None
        except (ChannelError, TimeoutError) as exc:
            closed = conn.agent.closed
            error = closed.result() if closed.done() else None
            if error is None or error.code != CloseCode.UNAUTHORIZED:
                raise DeviceUnreachable(pinned.name) from exc
            log.info("unpair: %s no longer trusts this controller", pinned.name)  # forgotten already
        finally:
            await conn.close()
