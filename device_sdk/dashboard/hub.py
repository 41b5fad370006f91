"""The dashboard's engine: an ordinary :class:`~device_sdk.Controller` user between the pages and the devices.

It follows the controller's mDNS browser and paired devices into a :class:`~.directory.Directory`, reads
the model and full name of each device that is not paired (:meth:`Controller.probe`, once per device and
metadata version, a few at a time), keeps a :class:`~.link.DeviceLink` to every paired device, runs the
pages' commands with the Controller and DeviceConnection API, and sends each page what it watches.
Pages are anything with a :class:`~.page.PageSession` and two send methods (:class:`PageOut`); the HTTP
edge is :mod:`device_sdk.dashboard.server`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Final, Protocol

from device_sdk import Controller, DeviceConnection, DeviceSDKError, NotPaired, PairingError, __version__
from device_sdk.discovery import Browser, DeviceRemoved, DiscoveredDevice, DiscoveryEvent

from .directory import Directory
from .link import DeviceLink, LinkEvents
from .page import PageSession
from .protocol import (
    PROTOCOL_VERSION,
    Cancel,
    Command,
    DoAction,
    Listen,
    ListPeers,
    OpenWindow,
    Pair,
    Pin,
    RemovePeer,
    Rename,
    SetValue,
    Unlisten,
    Unpair,
    Unwatch,
    Watch,
)
from .views import (
    catalog_message,
    error_message,
    error_text,
    pairing_error_text,
    result_message,
    unpair_error_text,
)

log = logging.getLogger(__name__)

MAX_PROBES: Final = 2
"""Unpaired devices whose agent-info is read at once (each probe is a short QUIC connection)."""
PROBE_TIMEOUT_S: Final = 10.0
"""A probe that takes longer is given up (the device is tried again when its metadata version changes)."""


class PageOut(Protocol):
    """An open page as the hub sees it."""

    session: PageSession

    def send_text(self, text: str, *, droppable: bool = False) -> None:
        """Queue a text message; ``droppable`` ones (readings) may be dropped for a page that lags."""

    def send_bytes(self, data: bytes) -> None:
        """Queue a binary message (a stream chunk; dropped for a page that lags)."""


class Refused(DeviceSDKError):
    """A page's request that cannot be run now; the text is for the page, ``offer`` names what the page
    may offer instead (``"forget-here"``: unpair on this side only), if anything."""

    def __init__(self, text: str, *, offer: str | None = None) -> None:
        super().__init__(text)
        self.offer = offer


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


class Hub(LinkEvents):
    """See the module docstring."""

    def __init__(self, controller: Controller, *, clock: Callable[[], float] = time.time) -> None:
        self.controller = controller
        self.clock = clock
        self.directory = Directory()
        self.links: dict[str, DeviceLink] = {}
        self.pages: set[PageOut] = set()
        self._tasks: dict[PageOut, set[asyncio.Task[None]]] = {}
        self._pairings: dict[tuple[PageOut, int], asyncio.Task[None]] = {}
        self._pins: dict[tuple[PageOut, int], asyncio.Future[str]] = {}
        self._refreshes: set[asyncio.Task[None]] = set()
        self._probed: dict[str, int] = {}
        """The metadata version at which each unpaired device was probed (or tried)."""
        self._probe_slots = asyncio.Semaphore(MAX_PROBES)
        self._stream_ids = itertools.count(1)
        self._remove_listener: Callable[[], None] | None = None
        self._browser: Browser | None = None
        self._own_fp = controller.identity.fingerprint_text

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Follow mDNS and connect to every paired device."""
        browser = self._browser = await self.controller.browser()
        now = self.clock()
        for pinned in self.controller.peers():
            self.directory.set_paired(pinned.fingerprint_text, pinned.name, now)
        for device in browser.devices.values():
            self.directory.seen(device, now)
        self._remove_listener = browser.add_listener(self._on_discovery)
        for pinned in self.controller.peers():
            self._add_link(pinned.fingerprint_text)
        for device in browser.devices.values():
            self._probe_if_new(device)

    async def close(self) -> None:
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        for page in list(self.pages):
            self.detach(page)
        tasks = [t for ts in self._tasks.values() for t in ts] + list(self._refreshes)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        links, self.links = list(self.links.values()), {}
        await asyncio.gather(*(link.stop() for link in links), return_exceptions=True)

    def _add_link(self, fp: str, first: DeviceConnection | None = None) -> None:
        if fp in self.links:
            return
        pinned = next((p for p in self.controller.peers() if p.fingerprint_text == fp), None)
        if pinned is None:
            return
        link = self.links[fp] = DeviceLink(self.controller, pinned, self, new_stream_id=lambda: next(self._stream_ids))
        link.start(first)

    # -- pages --------------------------------------------------------------------------------------

    def attach(self, page: PageOut) -> None:
        """A page opened: it gets the devices and the event log."""
        self.pages.add(page)
        self._tasks[page] = set()
        page.send_text(
            _dumps(
                {
                    "type": "hello",
                    "version": PROTOCOL_VERSION,
                    "sdk": __version__,
                    "controller": {"name": self.controller.config.name, "fp": self._own_fp},
                    "devices": self.directory.records(),
                    "log": self.directory.log,
                }
            )
        )

    def detach(self, page: PageOut) -> None:
        """The page closed: stop everything it asked for."""
        self.pages.discard(page)
        watched = set(page.session.watched) | {d for d, _ in page.session.listening}
        page.session.closed()
        for key in [k for k in self._pins if k[0] is page]:
            self._pins.pop(key).cancel()
        for task in self._tasks.pop(page, set()):
            task.cancel()
        for fp in watched:
            self._update_wanted(fp)

    def receive(self, page: PageOut, text: str | bytes) -> None:
        """One message from the page."""
        step = page.session.receive(text)
        for reply in step.replies:
            page.send_text(_dumps(reply))
        for command in step.commands:
            self._run(page, command)

    def _run(self, page: PageOut, command: Command) -> None:
        if isinstance(command, Watch | Unwatch):
            if isinstance(command, Watch):
                self._send_snapshot(page, command.device)
            self._update_wanted(command.device)
            self._answer(page, command.id, None)
        elif isinstance(command, Listen | Unlisten):
            if isinstance(command, Listen):
                self._start_listening(page, command)
            self._update_wanted(command.device)
        elif isinstance(command, Pin):
            assert command.id is not None
            waiting = self._pins.pop((page, command.id), None)
            if waiting is None or waiting.done():
                page.send_text(_dumps(error_message(command.id, "The device is not asking for a PIN now.")))
            else:
                waiting.set_result(command.pin)
        elif isinstance(command, Cancel):
            assert command.id is not None
            task = self._pairings.get((page, command.id))
            if task is not None:
                task.cancel()
        elif isinstance(command, Pair):
            assert command.id is not None
            task = self._spawn(page, self._pair(page, command))
            self._pairings[(page, command.id)] = task
        else:
            self._spawn(page, self._request(page, command))

    def _spawn(self, page: PageOut, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        tasks = self._tasks.setdefault(page, set())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        return task

    def _answer(self, page: PageOut, request_id: int | None, value: Any) -> None:
        if request_id is not None:
            page.send_text(_dumps(result_message(request_id, value)))

    def _send_snapshot(self, page: PageOut, fp: str) -> None:
        """What a page that starts watching ``fp`` needs at once: the catalog and the newest values."""
        link = self.links.get(fp)
        if link is None or link.catalog is None:
            return
        page.send_text(_dumps(catalog_message(fp, link.catalog, link.info)))
        for message in list(link.last.values()):
            page.send_text(_dumps(message))

    def _start_listening(self, page: PageOut, command: Listen) -> None:
        link = self.links.get(command.device)
        descriptor = link.catalog.get(command.channel) if link is not None and link.catalog is not None else None
        if descriptor is None or descriptor.kind != "stream":
            page.session.listening.discard((command.device, command.channel))
            text = f"{self.directory.name_of(command.device)} has no byte stream {command.channel!r} right now."
            page.send_text(_dumps(error_message(command.id, text)))
            return
        assert link is not None
        if command.channel in link.formats:
            page.send_text(_dumps(link.formats[command.channel]))
        self._answer(page, command.id, None)

    def _update_wanted(self, fp: str) -> None:
        link = self.links.get(fp)
        if link is None:
            return
        wanted: set[str] = set()
        catalog = link.catalog
        for page in self.pages:
            if page.session.wants(fp) and catalog is not None:
                wanted |= {c.name for c in catalog.channels if c.kind != "stream"}
            wanted |= {channel for device, channel in page.session.listening if device == fp}
        link.wanted = wanted
        link.sync()

    def _broadcast(self, messages: Iterable[dict[str, Any]]) -> None:
        for message in messages:
            text = _dumps(message)
            for page in self.pages:
                page.send_text(text)

    def _note(self, kind: str, text: str, fp: str | None = None) -> None:
        """A line in every page's event log."""
        self._broadcast([self.directory.note(self.clock(), kind, text, fp)])

    def _to_watchers(self, fp: str, message: dict[str, Any], *, droppable: bool) -> None:
        text: str | None = None
        for page in self.pages:
            if page.session.wants(fp):
                text = text or _dumps(message)
                page.send_text(text, droppable=droppable)

    # -- discovery ----------------------------------------------------------------------------------

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        """Work that no page waits for (refreshes, probes): cancelled when the hub closes."""
        task = asyncio.create_task(work)
        self._refreshes.add(task)
        task.add_done_callback(self._background_done)

    def _background_done(self, task: asyncio.Task[None]) -> None:
        self._refreshes.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background work of the dashboard failed", exc_info=exc)  # a bug: the hub goes on

    def _probe_if_new(self, device: DiscoveredDevice) -> None:
        """Read the agent-info of a device that is not paired, once per metadata version."""
        fp = device.fingerprint
        entry = self.directory.entries.get(fp)
        if entry is None or entry.paired or self._probed.get(fp) == device.txt.mv:
            return
        self._probed[fp] = device.txt.mv
        self._background(self._probe(fp))

    async def _probe(self, fp: str) -> None:
        async with self._probe_slots:
            entry = self.directory.entries.get(fp)
            if entry is None or entry.paired or entry.discovered is None:
                return  # gone, or paired, while it waited for a slot
            device = entry.discovered
            try:
                async with asyncio.timeout(PROBE_TIMEOUT_S):
                    info = await self.controller.probe(device)
            except (DeviceSDKError, TimeoutError) as exc:
                log.info("cannot read the agent-info of %s: %s", device.display_name, exc or "no answer")
                return
        self._broadcast(self.directory.probed(fp, device.txt.mv, name=info.display_name, model=info.model_name))

    def _on_discovery(self, event: DiscoveryEvent) -> None:
        now = self.clock()
        fp = event.device.fingerprint
        if isinstance(event, DeviceRemoved):
            # A rename withdraws the old record after the new one may have appeared: same fingerprint.
            others = [d for d in self._browser.devices.values() if d.fingerprint == fp] if self._browser else []
            self._broadcast(self.directory.seen(others[0], now) if others else self.directory.vanished(fp, now))
            return
        entry = self.directory.entries.get(fp)
        before = entry.discovered if entry is not None else None
        self._broadcast(self.directory.seen(event.device, now))
        self._probe_if_new(event.device)
        # A new metadata version (a changed catalog, a rename), or a record published again under
        # another name (a rename withdraws the old one): read the device's info and catalog again.
        if before is None or before.txt.mv != event.device.txt.mv or before.instance_name != event.instance_name:
            link = self.links.get(fp)
            if link is not None and link.conn is not None:
                self._background(link.refresh())

    # -- LinkEvents -----------------------------------------------------------------------------------

    def link_up(self, link: DeviceLink) -> None:
        now = self.clock()
        model = link.info.get("model")
        self._broadcast(
            self.directory.connected(
                link.fp, now, name=link.name, model=model if isinstance(model, str) else None, role=link.role
            )
        )
        if link.catalog is not None:
            self._to_watchers(link.fp, catalog_message(link.fp, link.catalog, link.info), droppable=False)
        self._update_wanted(link.fp)

    def link_down(self, link: DeviceLink, why: str | None) -> None:
        self._broadcast(self.directory.disconnected(link.fp, self.clock(), why=why))

    def link_failed(self, link: DeviceLink, error: DeviceSDKError) -> None:
        self._note("error", f"The dashboard stopped connecting to {link.name}: {error_text(error, link.name)}", link.fp)

    def info_changed(self, link: DeviceLink) -> None:
        model = link.info.get("model")
        self._broadcast(self.directory.renamed(link.fp, link.name, model=model if isinstance(model, str) else None))
        if link.catalog is not None:
            self._to_watchers(link.fp, catalog_message(link.fp, link.catalog, link.info), droppable=False)

    def reading(self, link: DeviceLink, message: dict[str, Any]) -> None:
        self._to_watchers(link.fp, message, droppable=True)

    def state(self, link: DeviceLink, message: dict[str, Any]) -> None:
        self._to_watchers(link.fp, message, droppable=False)

    def stream_format(self, link: DeviceLink, channel: str, message: dict[str, Any]) -> None:
        text = _dumps(message)
        for page in self.pages:
            if page.session.hears(link.fp, channel):
                page.send_text(text)

    def chunk(self, link: DeviceLink, channel: str, data: bytes) -> None:
        for page in self.pages:
            if page.session.hears(link.fp, channel):
                page.send_bytes(data)

    def channel_ended(self, link: DeviceLink, channel: str, error: BaseException) -> None:
        text = error_text(error, link.name, channel)
        message = {"type": "channel-ended", "device": link.fp, "channel": channel, "text": text}
        self._to_watchers(link.fp, message, droppable=False)

    # -- requests -------------------------------------------------------------------------------------

    async def _pair(self, page: PageOut, command: Pair) -> None:
        assert command.id is not None
        name = "the device"
        try:
            target: DiscoveredDevice
            if command.device is not None:
                entry = self.directory.entries.get(command.device)
                name = entry.name if entry is not None else name
                if entry is None or entry.discovered is None:
                    raise Refused(f"{name} is not on the network right now: check that it is on, then try again.")
                target = entry.discovered
            else:
                assert command.code is not None
                target = await self.controller.find_for_code(command.code)
                name = target.display_name
            code: str | int | None = (
                command.code if command.method == "code" else 0 if command.method == "button" else None
            )
            ask = self._pin_asker(page, command.id, target.fingerprint, name) if command.method == "pin" else None
            conn = await self.controller.pair(target, code, ask_pin=ask)
        except asyncio.CancelledError:
            page.send_text(_dumps(error_message(command.id, f"Pairing with {name} was cancelled.")))
            raise
        except Exception as exc:  # every failure becomes a sentence for the page
            text = str(exc) if isinstance(exc, Refused) else pairing_error_text(exc, name)
            if not isinstance(exc, DeviceSDKError | TimeoutError):
                log.exception("pairing with %s failed", name)
            page.send_text(_dumps(error_message(command.id, text)))
            self._note("error", f"Pairing with {name} failed: {text}")
        else:
            fp = target.fingerprint
            self._broadcast(self.directory.set_paired(fp, name, self.clock()))
            self._note("paired", f"Paired with {name}", fp)
            if fp in self.links:
                await conn.close()  # paired again: the link has its own connection
            else:
                self._add_link(fp, first=conn)  # the pairing's connection becomes the link's first
            page.send_text(_dumps(result_message(command.id, {"device": fp, "name": name})))
        finally:
            page.session.pairing_done(command.id)
            self._pairings.pop((page, command.id), None)
            self._pins.pop((page, command.id), None)

    def _pin_asker(self, page: PageOut, request_id: int, fp: str, name: str) -> Callable[[], Coroutine[Any, Any, str]]:
        async def ask() -> str:
            waiting: asyncio.Future[str] = asyncio.get_running_loop().create_future()
            self._pins[(page, request_id)] = waiting
            page.send_text(_dumps({"type": "pin-needed", "id": request_id, "device": fp, "name": name}))
            return await waiting

        return ask

    async def _request(self, page: PageOut, command: Command) -> None:
        fp = getattr(command, "device", "")
        name = self.directory.name_of(fp)
        try:
            value = await self._perform(command, name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure becomes a sentence for the page
            offer = None
            if isinstance(exc, Refused):
                text, offer = str(exc), exc.offer
            else:
                if not isinstance(exc, DeviceSDKError | TimeoutError):
                    log.exception("%s on %s failed", type(command).__name__, name)
                text = error_text(exc, name, getattr(command, "channel", None))
            page.send_text(_dumps(error_message(command.id, text, offer=offer)))
            return
        self._answer(page, command.id, value)

    def _connection(self, fp: str, name: str) -> tuple[DeviceLink, DeviceConnection]:
        link = self.links.get(fp)
        if link is None:
            raise Refused(f"{name} is not paired with this dashboard: pair it first.")
        if link.conn is None or link.conn.closed:
            raise Refused(f"{name} is not connected right now: wait until it is back online.")
        return link, link.conn

    async def _perform(self, command: Command, name: str) -> Any:
        if isinstance(command, SetValue):
            _, conn = self._connection(command.device, name)
            return await conn.set(command.channel, command.value)
        if isinstance(command, DoAction):
            _, conn = self._connection(command.device, name)
            return await conn.do(command.channel, command.action)
        if isinstance(command, ListPeers):
            link, _ = self._connection(command.device, name)
            return await self._peers(link)
        if isinstance(command, RemovePeer):
            link, conn = self._connection(command.device, name)
            await conn.remove_peer(command.fp)
            self._note("peers", f"Removed a controller from {name}", command.device)
            return await self._peers(link)
        if isinstance(command, OpenWindow):
            _, conn = self._connection(command.device, name)
            await conn.open_pairing_window(None if command.minutes is None else command.minutes * 60)
            how_long = f" for {command.minutes} min" if command.minutes else ""
            self._note("window", f"Opened {name}'s pairing window{how_long}", command.device)
            return None
        if isinstance(command, Rename):
            _, conn = self._connection(command.device, name)
            new_name = await conn.rename(command.name)  # the device's agent-info event updates the link
            self._broadcast(self.directory.renamed(command.device, new_name))
            self._note("renamed", f"Renamed {name} to {new_name}", command.device)
            return new_name
        if isinstance(command, Unpair):
            return await self._unpair(command.device, name, local_only=command.local_only)
        raise Refused("the dashboard cannot do that")

    async def _peers(self, link: DeviceLink) -> dict[str, Any]:
        peers = await link.refresh_peers()
        self._broadcast(self.directory.set_role(link.fp, link.role))
        if peers is None and link.role == "user":
            raise Refused(f"Only an admin controller of {link.name} can see its controllers.")
        if peers is None:
            raise Refused(f"{link.name} did not list its controllers: try again.")
        return {"peers": peers, "role": link.role}

    async def _unpair(self, fp: str, name: str, *, local_only: bool) -> dict[str, Any]:
        """Remove this controller on the device (``leave``) and forget the device; ``local_only`` forgets
        it here only. The link stops first, so that the device closing it is no loss; it starts again
        when the device is still paired afterwards."""
        link = self.links.pop(fp, None)
        if link is None:
            raise Refused(f"{name} is not paired with this dashboard.")
        await link.stop()
        try:
            await self.controller.unpair(link.pinned, local_only=local_only)
        except NotPaired:
            pass  # forgotten here already (by another command meanwhile)
        except BaseException as exc:
            self._add_link(fp)  # still paired: connect again
            if isinstance(exc, PairingError):  # unreachable, or the device would not forget this controller
                raise Refused(unpair_error_text(exc, name), offer="forget-here") from None
            raise
        self._broadcast(self.directory.set_unpaired(fp, self.clock()))
        text = f"Unpaired {name}" + (" on this side only (it still lists this dashboard)" if local_only else "")
        self._note("unpaired", text, fp)
        return {"removed_on_device": not local_only}
