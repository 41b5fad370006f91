"""The dashboard's connection to one paired device, kept up with :meth:`Controller.connections`.

While connected, a link knows the device's agent-info (kept current by the device's agent-info events),
catalog and this controller's role on it, and runs one *pump* per channel that an open page wants:
sensor and input readings, actuator states (``actuator_states``), byte-stream chunks. Each pump hands
what it reads to the hub, which sends it to the pages. The connection's end
(:meth:`DeviceConnection.wait_closed`: the device closed it, or the SDK's keep-alive found it silent,
:class:`ConnectionLost`) is reported to the hub (lost, unless the dashboard closed it), and the next
connection starts the same pumps again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final

from device_sdk import (
    ActuatorError,
    Catalog,
    ChannelDescriptor,
    ChannelError,
    ChannelOpenFailed,
    ConnectionClosed,
    ConnectionLost,
    Controller,
    DeviceConnection,
    DeviceSDKError,
    ReconnectPolicy,
)
from device_sdk.wire import AgentInfo, CloseCode

from .views import chunk_message, format_message, peers_value, reading_message, state_message

if TYPE_CHECKING:
    from device_sdk.pairing import PinnedDevice

log = logging.getLogger(__name__)

RECONNECT: Final = ReconnectPolicy(first_delay_s=0.5, max_delay_s=4.0)
"""A dashboard shows a device coming back within seconds, so it tries again at most every 4 s."""

READ_TIMEOUT_S: Final = 10.0
"""A device that takes longer to send its agent-info and catalog (or its controllers) is not answering.
(A device that vanished ends the connection sooner, by the SDK's keep-alive.)"""


def ended_because(closed: ConnectionClosed) -> str:
    """Why a connection ended, for the event log's "Lost contact with NAME: ..."."""
    if isinstance(closed, ConnectionLost):
        return "it stopped answering"
    if closed.by_peer and closed.code == CloseCode.UNAUTHORIZED:
        return "it no longer trusts this dashboard (it was reset, or an admin removed this dashboard): pair it again"
    if closed.by_peer and closed.code == CloseCode.TOO_MANY_ATTEMPTS:
        return "it turned this dashboard away for now (too many connections or unread answers)"
    if closed.by_peer:
        return "it closed the connection (it may be restarting)"
    return "the connection ended"


class LinkEvents:
    """What a link tells the hub (the hub implements these; the link holds nothing else of it)."""

    def link_up(self, link: DeviceLink) -> None: ...

    def link_down(self, link: DeviceLink, why: str | None) -> None: ...

    def link_failed(self, link: DeviceLink, error: DeviceSDKError) -> None: ...

    def info_changed(self, link: DeviceLink) -> None: ...

    def reading(self, link: DeviceLink, message: dict[str, Any]) -> None: ...

    def state(self, link: DeviceLink, message: dict[str, Any]) -> None: ...

    def stream_format(self, link: DeviceLink, channel: str, message: dict[str, Any]) -> None: ...

    def chunk(self, link: DeviceLink, channel: str, data: bytes) -> None: ...

    def channel_ended(self, link: DeviceLink, channel: str, error: BaseException) -> None: ...


class DeviceLink:
    """See the module docstring. ``fp`` is the device's fingerprint text."""

    def __init__(
        self,
        controller: Controller,
        pinned: PinnedDevice,
        events: LinkEvents,
        *,
        new_stream_id: Callable[[], int],
        policy: ReconnectPolicy = RECONNECT,
    ) -> None:
        self.controller = controller
        self.pinned = pinned
        self.fp = pinned.fingerprint_text
        self.name = pinned.name
        self.events = events
        self.policy = policy
        self._new_stream_id = new_stream_id
        self.conn: DeviceConnection | None = None
        self.catalog: Catalog | None = None
        self.info: dict[str, Any] = {}
        self.role: str | None = None
        self.peers: list[dict[str, Any]] | None = None
        self.last: dict[str, dict[str, Any]] = {}
        """The newest reading or state message of each channel, for pages that start watching later."""
        self.formats: dict[str, dict[str, Any]] = {}
        """The format message of each byte stream being received."""
        self.wanted: set[str] = set()
        """The channels some page wants now (set by the hub; :meth:`sync` starts and stops pumps)."""
        self._pumps: dict[str, asyncio.Task[None]] = {}
        self._task: asyncio.Task[None] | None = None
        self.closing = False
        """Set when the dashboard ends the connection on purpose: its end is then no loss."""

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, first: DeviceConnection | None = None) -> None:
        """Connect and stay connected; ``first`` is a connection already open (the pairing's)."""
        self._task = asyncio.create_task(self._run(first), name=f"dashboard link {self.name}")

    async def stop(self) -> None:
        """Close the connection on purpose (not reported as lost) and stop reconnecting."""
        self.closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, first: DeviceConnection | None) -> None:
        try:
            if first is not None:
                await self._use(first)
            async for conn in self.controller.connections(self.pinned, self.policy):
                await self._use(conn)
        except DeviceSDKError as exc:  # the controller gives up on the device (not the one it paired)
            log.warning("%s: no longer connecting: %s", self.name, exc)
            self.events.link_failed(self, exc)

    async def _use(self, conn: DeviceConnection) -> None:
        why: str | None = "the connection ended"
        try:
            why = await self._serve(conn)
        except asyncio.CancelledError:
            why = None
            raise
        except (DeviceSDKError, TimeoutError) as exc:
            log.info("%s: %s", self.name, exc)
            why = "it stopped answering"
        finally:
            conn.on_agent_info = None
            await self._stop_pumps()
            was_up = self.conn is not None
            self.conn = None
            if was_up:
                self.events.link_down(self, None if self.closing else why)
            if not conn.closed:
                await conn.close()

    async def _serve(self, conn: DeviceConnection) -> str:
        """Use one connection until it ends; returns why it ended."""
        conn.on_agent_info = self._agent_info_changed
        async with asyncio.timeout(READ_TIMEOUT_S):
            agent = await conn.agent_info()
            catalog = await conn.catalog()
        self._take_agent_info(agent)
        self.catalog = catalog
        self.last = {k: v for k, v in self.last.items() if catalog.get(k) is not None}
        await self.refresh_peers(conn)
        self.conn = conn
        self.events.link_up(self)
        self.sync()
        return ended_because(await conn.wait_closed())

    def _take_agent_info(self, agent: AgentInfo) -> None:
        self.name = agent.display_name
        self.info = {
            "name": agent.display_name,
            "model": agent.model_name,
            "capabilities": list(agent.capabilities),
            "locales": list(agent.locales),
        }

    def _agent_info_changed(self, agent: AgentInfo) -> None:
        """The device announced new agent-info (a rename) on the connection."""
        self._take_agent_info(agent)
        if self.conn is not None:
            self.events.info_changed(self)

    async def refresh(self) -> None:
        """The device announced a change (a new metadata version): read its info and catalog again."""
        conn = self.conn
        if conn is None:
            return
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                agent = await conn.agent_info()
                catalog = await conn.catalog()
        except (DeviceSDKError, TimeoutError) as exc:
            log.info("%s: cannot read its catalog again: %s", self.name, exc)
            return
        self._take_agent_info(agent)
        self.catalog = catalog
        self.events.link_up(self)
        self.sync()

    async def refresh_peers(self, conn: DeviceConnection | None = None) -> list[dict[str, Any]] | None:
        """The device's controllers and this controller's role (None while unknown)."""
        conn = conn or self.conn
        if conn is None:
            return self.peers
        own = self.controller.identity.fingerprint_text
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                peers = peers_value(await conn.list_peers(), own)
        except ChannelOpenFailed:
            self.role, self.peers = "user", None  # the device opens its admin channel to admins only
            return None
        except ActuatorError as exc:
            if exc.code == "forbidden":
                self.role, self.peers = "user", None
            return None
        except (ChannelError, TimeoutError) as exc:
            log.info("%s: cannot list its controllers: %s", self.name, exc)
            return None
        self.peers = peers
        mine = [p for p in peers if p["you"]]
        self.role = str(mine[0]["role"]) if mine else None
        return peers

    # -- pumps ----------------------------------------------------------------------------------

    def sync(self) -> None:
        """Start a pump for every wanted channel of the catalog, stop the others."""
        conn, catalog = self.conn, self.catalog
        wanted = set()
        if conn is not None and catalog is not None and not conn.closed:
            wanted = {name for name in self.wanted if catalog.get(name) is not None}
        for name in list(self._pumps):
            if name not in wanted:
                self._pumps.pop(name).cancel()
                if catalog is not None and (d := catalog.get(name)) is not None and d.kind == "stream":
                    self.formats.pop(name, None)
        for name in wanted - set(self._pumps):
            assert conn is not None and catalog is not None
            pump = self._pump(conn, catalog[name])
            if pump is not None:
                self._pumps[name] = asyncio.create_task(self._guard(name, pump), name=f"dashboard pump {name}")

    def _pump(self, conn: DeviceConnection, descriptor: ChannelDescriptor) -> Coroutine[Any, Any, None] | None:
        if descriptor.kind in ("sensor", "input"):
            return self._readings(conn, descriptor)
        if descriptor.kind == "actuator":
            return self._states(conn, descriptor.name)  # a stateless one (actions only) just never yields
        if descriptor.kind == "stream":
            return self._chunks(conn, descriptor.name)
        return None

    async def _guard(self, name: str, pump: Coroutine[Any, Any, None]) -> None:
        try:
            await pump
        except asyncio.CancelledError:
            raise
        except (DeviceSDKError, TimeoutError) as exc:
            if self.conn is None or self.conn.closed:
                return  # the connection is gone: its end is reported by _serve
            log.info("%s: channel %s ended: %s", self.name, name, exc)
            self.events.channel_ended(self, name, exc)
        finally:
            if self._pumps.get(name) is asyncio.current_task():
                del self._pumps[name]

    async def _readings(self, conn: DeviceConnection, descriptor: ChannelDescriptor) -> None:
        name = descriptor.name
        source = conn.input(name) if descriptor.kind == "input" else conn.subscribe(name)
        async with contextlib.aclosing(source) as readings:
            async for reading in readings:
                message = reading_message(self.fp, name, reading)
                self.last[name] = message
                self.events.reading(self, message)

    async def _states(self, conn: DeviceConnection, name: str) -> None:
        async with contextlib.aclosing(conn.actuator_states(name)) as states:
            async for state in states:
                message = state_message(self.fp, name, state)
                self.last[name] = message
                self.events.state(self, message)

    async def _chunks(self, conn: DeviceConnection, name: str) -> None:
        stream_id = self._new_stream_id()
        async with contextlib.aclosing(conn.stream(name)) as chunks:
            async for chunk in chunks:
                if name not in self.formats:
                    fmt = conn.stream_format(name)
                    if fmt is None:
                        continue
                    self.formats[name] = format_message(self.fp, name, stream_id, fmt)
                    self.events.stream_format(self, name, self.formats[name])
                self.events.chunk(self, name, chunk_message(stream_id, chunk.seq, chunk.data))

    async def _stop_pumps(self) -> None:
        pumps = list(self._pumps.values())
        self._pumps.clear()
        self.formats.clear()
        for task in pumps:
            task.cancel()
        await asyncio.gather(*pumps, return_exceptions=True)
