"""The bridge's controller edge: a connection to each paired device, what its channels carry, commands.

An ordinary :class:`~device_sdk.Controller` user: :meth:`Controller.connections` keeps one connection per
device (found again by its pinned fingerprint when it restarts or moves), :meth:`DeviceConnection.catalog`
tells what it has, ``subscribe`` / ``actuator_states`` / ``input`` follow its channels, ``set`` / ``do``
carry out commands. What happens is reported to a :class:`DeviceEvents` (the bridge's core); nothing here
decides anything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncGenerator, Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol

from device_sdk import (
    ActuatorError,
    Catalog,
    ChannelError,
    Controller,
    DeviceConnection,
    DeviceSDKError,
    FingerprintMismatch,
    NotPaired,
    ReconnectPolicy,
    StateError,
)

from .core import Peer, RunCommand, WatchChannels

log = logging.getLogger(__name__)

CATALOG_TIMEOUT_S = 10.0
"""A device that does not send its catalog within this is dropped and dialled again."""
CATALOG_RETRY_S = 5.0
"""The wait before dialling again a device whose catalog could not be read (doubled each time it fails
again, up to CATALOG_RETRY_MAX_S: a device that no longer trusts this controller refuses every time)."""
CATALOG_RETRY_MAX_S = 60.0
CLOSED_POLL_S = 0.25
"""How often a connection with nothing to watch is checked for having ended."""
COMMAND_TIMEOUT_S = 10.0


class DeviceEvents(Protocol):
    """What the controller edge reports (the bridge feeds each to its core)."""

    def online(self, fingerprint: bytes, catalog: Catalog) -> None: ...
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
        self.watchers: set[asyncio.Task[None]] = set()
        self.lost: asyncio.Event = asyncio.Event()
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
    ) -> None:
        self._controller = controller
        self._events = events
        self._policy = policy
        self._min_interval_ms = min_interval_ms
        self._links: dict[bytes, _Link] = {}
        self._commands: set[asyncio.Task[None]] = set()

    # -- the pin store ---------------------------------------------------------------------------------

    def peers(self) -> list[Peer]:
        """The paired devices as the controller lists them now."""
        return [Peer(p.fingerprint, p.name) for p in self._controller.peers()]

    def pins_signature(self) -> tuple[int, int, int] | None:
        """A value that changes whenever another process rewrites the pin store (None: no file)."""
        try:
            st = os.stat(_pins_path(self._controller))
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def reload_peers(self) -> bool:
        """Read the pin store again after another process changed it; False (logged) if it is unreadable."""
        try:
            _reload_pins(self._controller)
        except StateError as exc:
            log.error("cannot read the paired devices: %s", exc)
            return False
        return True

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

    async def _keep(self, fingerprint: bytes, link: _Link, pinned: Any) -> None:
        # API gap: `pinned` is what Controller.peers() lists, a PinnedDevice, which device_sdk does not
        # export (it lives in device_sdk.pairing.trust); hence Any.
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
        except FingerprintMismatch as exc:
            log.error("%s presented another identity than the paired one (%s): not bridging it", link.name, exc)
        except DeviceSDKError as exc:
            log.error("%s cannot be reached any more: %s", link.name, exc)

    async def _serve(self, fingerprint: bytes, link: _Link, conn: DeviceConnection) -> str | None:
        """Bridge one connection until it ends; why, when its catalog could not be read."""
        link.conn, link.reason = conn, None
        link.lost = asyncio.Event()
        try:
            try:
                async with asyncio.timeout(CATALOG_TIMEOUT_S):
                    catalog = await conn.catalog()
            except (ChannelError, TimeoutError) as exc:
                return str(exc) or "no answer"
            self._events.online(fingerprint, catalog)  # the core answers with WatchChannels -> watch()
            await self._until_lost(conn, link)
            return None
        finally:
            for task in link.watchers:
                task.cancel()
            await asyncio.gather(*link.watchers, return_exceptions=True)
            link.watchers.clear()
            link.conn = None
            if not conn.closed:
                await conn.close()
            self._events.offline(fingerprint, link.reason or "the connection ended")

    async def _until_lost(self, conn: DeviceConnection, link: _Link) -> None:
        # API gap: DeviceConnection has no wait_closed() (nor a callback when the connection ends), so the
        # end is noticed by a watcher's channel ending or by polling `closed`.
        while not conn.closed and not link.lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(CLOSED_POLL_S):
                    await link.lost.wait()

    # -- channels -----------------------------------------------------------------------------------------

    def watch(self, action: WatchChannels) -> None:
        """Follow the channels the core asked for on the device's current connection."""
        link = self._links.get(action.fingerprint)
        if link is None or link.conn is None:
            return
        conn = link.conn
        fp = action.fingerprint
        for name in action.sensors:
            self._follow(
                link, name, conn.subscribe(name, min_interval_ms=self._min_interval_ms), fp, self._events.reading
            )
        for name in action.actuators:
            self._follow_states(link, name, conn, fp)
        for name in action.inputs:
            self._follow(link, name, conn.input(name), fp, self._events.input_reading)

    def _follow(
        self,
        link: _Link,
        name: str,
        readings: AsyncGenerator[Any, None],
        fingerprint: bytes,
        report: Callable[[bytes, str, Any], None],
    ) -> None:
        async def run() -> None:
            try:
                async for reading in readings:
                    report(fingerprint, name, reading.value)
            except ChannelError as exc:
                self._channel_ended(link, name, exc)
            finally:
                await readings.aclose()

        self._spawn(link, run(), name)

    def _follow_states(self, link: _Link, name: str, conn: DeviceConnection, fingerprint: bytes) -> None:
        async def run() -> None:
            states = conn.actuator_states(name)
            try:
                async for state in states:
                    self._events.actuator_state(fingerprint, name, state.value)
            except ChannelError as exc:
                self._channel_ended(link, name, exc)
            finally:
                await states.aclose()

        self._spawn(link, run(), name)

    def _spawn(self, link: _Link, coro: Coroutine[Any, Any, None], name: str) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro, name=f"bridge {link.name} {name}")
        link.watchers.add(task)
        task.add_done_callback(link.watchers.discard)

    def _channel_ended(self, link: _Link, name: str, exc: Exception) -> None:
        conn = link.conn
        if conn is None or conn.closed:
            link.reason = link.reason or str(exc)
            link.lost.set()
        else:
            log.warning(
                "%s: channel %r ended (%s); it is not bridged until the device reconnects", link.name, name, exc
            )

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
            except (ChannelError, TimeoutError) as exc:
                error = f"no answer from the device ({exc or 'timed out'})"
            except DeviceSDKError as exc:
                error = str(exc)
            self._events.command_done(command.fingerprint, command.channel, error)

        task = asyncio.create_task(execute(), name=f"bridge command {command.channel}")
        self._commands.add(task)
        task.add_done_callback(self._commands.discard)


def _pins_path(controller: Controller) -> Path:
    # API gap: the pin store's path is not a public name; Controller.pins.path is the file that
    # another process (`device-sdk pair`, `unpair`) rewrites.
    return controller.pins.path


def _reload_pins(controller: Controller) -> None:
    # API gap: a long-running Controller never reads devices.json again, and writes its own in-memory copy
    # back on the next connect (which would undo another process's pair or unpair). Until the Controller
    # can reload (or merge on write), the bridge flushes what its store still had to write, then replaces
    # the store with a fresh one of the same class read from the file. (A write of this process that lands
    # between another process's change and this reload still wins: the window is one poll interval.)
    old = controller.pins
    old.flush()
    fresh = type(old)(old.path, background_writes=True)
    old.shutdown()
    controller.pins = fresh
