"""The bridge's controller edge: a connection to each paired device, what its channels carry, commands.

An ordinary :class:`~device_sdk.Controller` user: :meth:`Controller.connections` keeps one connection per
device (found again by its pinned fingerprint when it restarts or moves), :meth:`DeviceConnection.catalogs`
tells what it has now and whenever that changes, ``subscribe`` / ``actuator_states`` / ``input`` follow its
channels, ``set`` / ``do`` carry out commands, :meth:`DeviceConnection.wait_closed` says when and why the
connection ended. The pin store's :attr:`~device_sdk.pairing.ControllerPinStore.revision` tells when devices
were paired, unpaired or renamed (by this process or another). What happens is reported to a
:class:`DeviceEvents` (the bridge's core); nothing here decides anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any, Literal, Protocol

from device_sdk import (
    ActuatorError,
    Catalog,
    ChannelError,
    Controller,
    DeviceConnection,
    DeviceSDKError,
    NotPaired,
    PinnedDevice,
    ReconnectPolicy,
)

from .core import Peer, RunCommand, WatchChannels

log = logging.getLogger(__name__)

CATALOG_TIMEOUT_S = 10.0
"""A device that does not send its catalog within this is dropped and dialled again."""
CATALOG_RETRY_S = 5.0
"""The wait before dialling again a device whose catalog could not be read (doubled each time it fails
again, up to CATALOG_RETRY_MAX_S: a device that no longer trusts this controller refuses every time)."""
CATALOG_RETRY_MAX_S = 60.0
CHANNEL_RETRY_S = 0.5
"""The wait before opening again a followed channel that ended while its device stays connected (a channel
removed and declared again; a removed one is dropped by the new catalog meanwhile); doubled each time it
fails again, up to CHANNEL_RETRY_MAX_S."""
CHANNEL_RETRY_MAX_S = 30.0
COMMAND_TIMEOUT_S = 10.0

Describe = Callable[[BaseException, str], str]
"""Turns an error of the library and the name of the device it concerns into the sentence to log."""


def plain(error: BaseException, device: str) -> str:
    """The default :data:`Describe`: the library's own message."""
    return str(error) or type(error).__name__


ChannelKind = Literal["sensor", "actuator", "input"]


class DeviceEvents(Protocol):
    """What the controller edge reports (the bridge feeds each to its core)."""

    def online(self, fingerprint: bytes, catalog: Catalog) -> None: ...
    def catalog_changed(self, fingerprint: bytes, catalog: Catalog) -> None: ...
    def offline(self, fingerprint: bytes, reason: str) -> None: ...
    def reading(self, fingerprint: bytes, channel: str, value: Any) -> None: ...
    def actuator_state(self, fingerprint: bytes, channel: str, value: Any) -> None: ...
    def input_reading(self, fingerprint: bytes, channel: str, value: Any) -> None: ...
    def command_done(self, fingerprint: bytes, channel: str, error: str | None) -> None: ...


class _Link:
    """One device: the task that keeps it connected, and the tasks bound to its current connection."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.task: asyncio.Task[None] | None = None
        self.conn: DeviceConnection | None = None
        self.watchers: dict[tuple[ChannelKind, str], asyncio.Task[None]] = {}
        self.reason: str | None = None


class DeviceLinks:
    """See the module docstring."""

    def __init__(
        self,
        controller: Controller,
        events: DeviceEvents,
        *,
        policy: ReconnectPolicy,
        min_interval_ms: int | None = None,
        describe: Describe = plain,
    ) -> None:
        self._controller = controller
        self._events = events
        self._policy = policy
        self._min_interval_ms = min_interval_ms
        self._describe = describe
        self._links: dict[bytes, _Link] = {}
        self._commands: set[asyncio.Task[None]] = set()

    # -- the paired devices --------------------------------------------------------------------------

    def peers(self) -> list[Peer]:
        """The paired devices as the controller lists them now."""
        return [Peer(p.fingerprint, p.name) for p in self._controller.peers()]

    def peers_revision(self) -> int:
        """Changes whenever devices are paired, unpaired or renamed, by this process or another (one stat)."""
        return self._controller.pins.revision

    # -- devices -----------------------------------------------------------------------------------------

    def start(self, fingerprint: bytes) -> None:
        """Keep a connection to this paired device."""
        if fingerprint in self._links:
            return
        pinned = next((p for p in self._controller.peers() if p.fingerprint == fingerprint), None)
        if pinned is None:
            return
        link = _Link(pinned.name)
        self._links[fingerprint] = link
        link.task = asyncio.create_task(self._keep(fingerprint, link, pinned), name=f"bridge {pinned.name}")

    async def stop(self, fingerprint: bytes) -> None:
        """Stop keeping a connection to this device, closing the current one."""
        link = self._links.pop(fingerprint, None)
        if link is not None and link.task is not None:
            link.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await link.task

    async def close(self) -> None:
        """Stop every device and command."""
        for task in list(self._commands):
            task.cancel()
        await asyncio.gather(*(self.stop(fp) for fp in list(self._links)), *self._commands, return_exceptions=True)

    async def _keep(self, fingerprint: bytes, link: _Link, pinned: PinnedDevice) -> None:
        failures = 0
        try:
            async for conn in self._controller.connections(pinned, self._policy):
                error = await self._serve(fingerprint, link, conn)
                if error is None:
                    failures = 0
                    continue
                failures += 1
                delay = min(CATALOG_RETRY_S * 2 ** (failures - 1), CATALOG_RETRY_MAX_S)
                log.log(
                    logging.WARNING if failures <= 3 else logging.DEBUG,
                    "%s: cannot read its channels (%s); trying again in %.0f s",
                    link.name,
                    error,
                    delay,
                )
                await asyncio.sleep(delay)
        except NotPaired:
            log.info("%s is no longer paired with this controller", link.name)
        except DeviceSDKError as exc:
            log.error("%s is not bridged any more: %s", link.name, self._describe(exc, link.name))

    async def _serve(self, fingerprint: bytes, link: _Link, conn: DeviceConnection) -> str | None:
        """Bridge one connection until it ends; why, when its catalog could not be read."""
        link.conn, link.reason = conn, None
        catalogs = conn.catalogs()  # open while the connection lasts: new catalogs come on it
        follow: asyncio.Task[None] | None = None
        try:
            try:
                async with asyncio.timeout(CATALOG_TIMEOUT_S):
                    catalog = await anext(catalogs)
            except (ChannelError, TimeoutError) as exc:
                if conn.closed:  # why the connection ended says more (the device no longer trusts us, ...)
                    return self._describe(await conn.wait_closed(), link.name)
                return self._describe(exc, link.name) if str(exc) else "no answer"
            self._events.online(fingerprint, catalog)  # the core answers with WatchChannels -> watch()
            follow = asyncio.create_task(self._follow_catalogs(fingerprint, link, conn, catalogs))
            link.reason = self._describe(await conn.wait_closed(), link.name)
            return None
        finally:
            if follow is not None:
                follow.cancel()
                await asyncio.gather(follow, return_exceptions=True)
            await catalogs.aclose()
            watchers = list(link.watchers.values())
            link.watchers.clear()
            for task in watchers:
                task.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
            link.conn = None
            if not conn.closed:
                await conn.close()
            self._events.offline(fingerprint, link.reason or "the connection ended")

    async def _follow_catalogs(
        self, fingerprint: bytes, link: _Link, conn: DeviceConnection, catalogs: AsyncIterator[Catalog]
    ) -> None:
        """Each new catalog of the connected device goes to the core (which answers with WatchChannels)."""
        try:
            async for catalog in catalogs:
                self._events.catalog_changed(fingerprint, catalog)
        except ChannelError as exc:
            if conn.closed:
                return
            log.warning(
                "%s: its channel list ended (%s); connecting again to read it",
                link.name,
                self._describe(exc, link.name),
            )
            await conn.close()

    # -- channels -----------------------------------------------------------------------------------------

    def watch(self, action: WatchChannels) -> None:
        """Follow exactly the channels the core asked for on the device's current connection."""
        link = self._links.get(action.fingerprint)
        if link is None or link.conn is None:
            return
        wanted: set[tuple[ChannelKind, str]] = {("sensor", name) for name in action.sensors}
        wanted |= {("actuator", name) for name in action.actuators}
        wanted |= {("input", name) for name in action.inputs}
        for key in [k for k in link.watchers if k not in wanted]:
            link.watchers.pop(key).cancel()  # the channel went from the catalog (or changed kind)
        for key in sorted(wanted):
            task = link.watchers.get(key)
            if task is None or task.done():
                link.watchers[key] = asyncio.create_task(
                    self._follow(action.fingerprint, link, link.conn, *key), name=f"bridge {link.name} {key[1]}"
                )

    def _values(self, conn: DeviceConnection, kind: ChannelKind, name: str) -> AsyncGenerator[Any, None]:
        if kind == "sensor":
            return conn.subscribe(name, min_interval_ms=self._min_interval_ms)
        if kind == "input":
            return conn.input(name)
        return conn.actuator_states(name)

    async def _follow(
        self, fingerprint: bytes, link: _Link, conn: DeviceConnection, kind: ChannelKind, name: str
    ) -> None:
        """Report what channel ``name`` carries for as long as the connection lasts; a channel that ends while
        the device stays connected is opened again (a wait first: the device's new catalog, sent when it
        removes a channel, cancels this)."""
        report: Callable[[bytes, str, Any], None] = {
            "sensor": self._events.reading,
            "actuator": self._events.actuator_state,
            "input": self._events.input_reading,
        }[kind]
        failures = 0
        while True:
            why: BaseException | None = None
            try:
                async with contextlib.aclosing(self._values(conn, kind, name)) as values:
                    async for item in values:
                        failures = 0
                        report(fingerprint, name, item.value)
            except ChannelError as exc:
                why = exc
            if conn.closed:
                return  # the connection ended: _serve reports it
            failures += 1
            delay = min(CHANNEL_RETRY_S * 2 ** (failures - 1), CHANNEL_RETRY_MAX_S)
            log.log(
                logging.DEBUG if failures == 1 or failures > 4 else logging.WARNING,
                "%s: channel %r ended (%s); opening it again in %.1f s",
                link.name,
                name,
                self._describe(why, link.name) if why is not None else "closed by the device",
                delay,
            )
            await asyncio.sleep(delay)

    # -- commands ----------------------------------------------------------------------------------------

    def run(self, command: RunCommand) -> None:
        """Carry out a command on the device's current connection; the outcome goes to ``command_done``."""
        link = self._links.get(command.fingerprint)
        conn = link.conn if link is not None else None

        async def execute() -> None:
            error: str | None = None
            try:
                if conn is None or conn.closed:
                    error = "the device is offline"
                elif command.action is not None:
                    await conn.do(command.channel, command.action, timeout=COMMAND_TIMEOUT_S)
                else:
                    await conn.set(command.channel, command.value, timeout=COMMAND_TIMEOUT_S)
            except ActuatorError as exc:
                error = f"the device refused: {exc.message or exc.code}" + (f" ({exc.code})" if exc.message else "")
            except TimeoutError:
                error = "no answer from the device (timed out)"
            except DeviceSDKError as exc:
                error = self._describe(exc, link.name if link is not None else "the device")
            self._events.command_done(command.fingerprint, command.channel, error)

        task = asyncio.create_task(execute(), name=f"bridge command {command.channel}")
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)
