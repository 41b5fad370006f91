"""Discover ``_openscreen._udp.local.`` devices with python-zeroconf (the asyncio edge).

Questions are multicast (QM): another mDNS stack on the same host shares UDP port 5353 and could
swallow unicast replies.

TXT values are read from the most recently received TXT record. RFC 6762 section 10.2 only flushes
cached records older than one second, so a device that changes its TXT twice within a second leaves
two TXT records in a receiver's cache; and a value that returns to one still cached (``cm`` 1 -> 0
-> 1) is no "new" record for python-zeroconf's browser. A record listener catches those.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from zeroconf import (
    DNSQuestionType,
    RecordUpdate,
    RecordUpdateListener,
    ServiceInfo,
    ServiceStateChange,
    Zeroconf,
    current_time_millis,
)
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from device_sdk.errors import DeviceNotFound, DiscoveryError

from ._zeroconf_compat import CLASS_IN, TYPE_TXT, DNSText
from .events import DeviceAdded, DeviceRemoved, DeviceUpdated, DiscoveredDevice, DiscoveryEvent
from .interfaces import resolve_interfaces
from .txt import SERVICE_TYPE, InvalidTxt, parse_txt, sanitize_display_name

__all__ = ["Browser"]

_log = logging.getLogger(__name__)

_MAX_WARNED_NAMES = 1024

Predicate = Callable[[DiscoveredDevice], bool]
Listener = Callable[[DiscoveryEvent], None]


def _match_all(_device: DiscoveredDevice) -> bool:
    return True


class Browser:
    """Finds and follows devices on the local network.

    Report changes as :class:`DiscoveryEvent` objects through :meth:`events` (an async iterator)
    and :meth:`add_listener` callbacks; :attr:`devices` is the current view. Only devices that pass
    ``device_filter`` are reported; a device that stops passing it is reported as removed.
    Devices whose TXT record breaks the profile are skipped (logged once per instance name).
    """

    def __init__(
        self,
        *,
        zeroconf: AsyncZeroconf | None = None,
        interfaces: Sequence[str] | None = None,
        device_filter: Predicate | None = None,
        resolve_timeout: float = 3.0,
        settle_delay: float = 1.2,
    ) -> None:
        """``zeroconf``: the process's shared instance (else one is created on ``interfaces``, None
        for all, and closed by :meth:`stop`). ``device_filter``: e.g. a
        :class:`~device_sdk.discovery.DeviceFilter`. ``resolve_timeout``: seconds to wait for SRV, TXT
        and addresses. ``settle_delay``: after a change, re-read the cache this much later, when
        superseded addresses have expired (mDNS cache flush waits 1 s)."""
        self._zc = zeroconf
        self._owns_zc = zeroconf is None
        self._interfaces = interfaces
        self._filter: Predicate = device_filter or _match_all
        self._resolve_timeout = resolve_timeout
        self._settle_delay = settle_delay
        self._browser: AsyncServiceBrowser | None = None
        self._txt_watcher = _TxtWatcher(self)
        self._raw_txt: dict[str, bytes] = {}
        self._all: dict[str, DiscoveredDevice] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._dirty: set[str] = set()
        self._settle: dict[str, asyncio.TimerHandle] = {}
        self._warned: set[str] = set()
        self._listeners: list[Listener] = []
        self._queues: set[asyncio.Queue[DiscoveryEvent | None]] = set()
        self._started = False
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start browsing (creating the ``AsyncZeroconf`` if none was given)."""
        if self._started:
            raise DiscoveryError("browser already started")
        if self._closed:
            raise DiscoveryError("browser was stopped; create a new one")
        if self._zc is None:
            resolved = resolve_interfaces(self._interfaces)
            self._zc = AsyncZeroconf(interfaces=list(resolved.zeroconf_interfaces), ip_version=resolved.ip_version)
        self._started = True
        self._zc.zeroconf.async_add_listener(self._txt_watcher, None)
        self._browser = AsyncServiceBrowser(
            self._zc.zeroconf,
            SERVICE_TYPE,
            handlers=[self._on_state_change],
            question_type=DNSQuestionType.QM,
        )

    async def stop(self) -> None:
        """Stop browsing, end every :meth:`events` iterator, close an ``AsyncZeroconf`` we created."""
        if self._closed:
            return
        self._closed = True
        if self._browser is not None:
            await self._browser.async_cancel()
            self._browser = None
        if self._zc is not None and self._started:
            self._zc.zeroconf.async_remove_listener(self._txt_watcher)
        for handle in self._settle.values():
            handle.cancel()
        self._settle.clear()
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for queue in self._queues:
            queue.put_nowait(None)
        if self._owns_zc and self._zc is not None:
            zc, self._zc = self._zc, None
            await zc.async_close()

    async def __aenter__(self) -> Browser:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- what we know ------------------------------------------------------------------------------

    @property
    def devices(self) -> dict[str, DiscoveredDevice]:
        """A snapshot of the matching devices, by instance name."""
        return {d.instance_name: d for d in self._all.values() if self._filter(d)}

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` in the event loop for every event; returns a function removing it."""
        self._listeners.append(listener)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return remove

    async def events(self) -> AsyncIterator[DiscoveryEvent]:
        """Iterate over events, starting with a :class:`DeviceAdded` for each device already known.

        Ends when the browser stops.
        """
        queue: asyncio.Queue[DiscoveryEvent | None] = asyncio.Queue()
        for device in self.devices.values():
            queue.put_nowait(DeviceAdded(device))
        if self._closed:
            queue.put_nowait(None)
        self._queues.add(queue)
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self._queues.discard(queue)

    async def find(
        self,
        predicate: Predicate | None = None,
        timeout: float = 5.0,
    ) -> DiscoveredDevice:
        """The first matching device (already known, or appearing within ``timeout`` seconds).

        Raises :class:`~device_sdk.errors.DeviceNotFound` when none shows up in time.
        """
        if not self._started or self._closed:
            raise DiscoveryError("browser is not running")
        match = predicate or _match_all
        for device in self.devices.values():
            if match(device):
                return device
        found: asyncio.Future[DiscoveredDevice] = asyncio.get_running_loop().create_future()

        def on_event(event: DiscoveryEvent) -> None:
            if not found.done() and isinstance(event, DeviceAdded | DeviceUpdated) and match(event.device):
                found.set_result(event.device)

        remove = self.add_listener(on_event)
        try:
            return await asyncio.wait_for(found, timeout)
        except TimeoutError:
            raise DeviceNotFound(f"no matching device appeared within {timeout:g} s") from None
        finally:
            remove()

    # -- zeroconf callbacks and resolution ----------------------------------------------------------

    def _on_state_change(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        if self._closed:
            return
        key = name.lower()
        if state_change is ServiceStateChange.Removed:
            task = self._tasks.pop(key, None)
            if task is not None:
                task.cancel()
            self._dirty.discard(key)
            handle = self._settle.pop(key, None)
            if handle is not None:
                handle.cancel()
            self._raw_txt.pop(key, None)
            self._set(key, None)
        else:
            self._schedule_resolve(name)

    def _schedule_resolve(self, name: str) -> None:
        key = name.lower()
        self._settle.pop(key, None)
        if self._closed:
            return
        if key in self._tasks:
            self._dirty.add(key)
            return
        self._tasks[key] = asyncio.create_task(self._resolve_loop(name), name=f"resolve {name}")

    async def _resolve_loop(self, name: str) -> None:
        key = name.lower()
        changed = False
        try:
            while True:
                self._dirty.discard(key)
                changed |= await self._resolve_once(name)
                if key not in self._dirty:
                    break
        except Exception:
            _log.exception("resolving %r failed", name)
        finally:
            if self._tasks.get(key) is asyncio.current_task():
                del self._tasks[key]
        if changed and not self._closed and key in self._all:
            old = self._settle.pop(key, None)
            if old is not None:
                old.cancel()
            loop = asyncio.get_running_loop()
            self._settle[key] = loop.call_later(self._settle_delay, self._schedule_resolve, name)

    async def _resolve_once(self, name: str) -> bool:
        """Resolve ``name`` (from the cache when it is complete); True when our view changed."""
        assert self._zc is not None
        key = name.lower()
        info = AsyncServiceInfo(SERVICE_TYPE, name)
        ok = await info.async_request(self._zc.zeroconf, self._resolve_timeout * 1000, question_type=DNSQuestionType.QM)
        if not ok or not info.port or info.server is None:
            _log.debug("could not resolve %r", name)
            return False
        addresses = tuple(info.parsed_scoped_addresses())
        if not addresses:
            return False
        instance = _instance_name(name)
        raw_txt = self._newest_txt(name)
        properties = info.properties if raw_txt is None else _decode_txt(raw_txt)
        if raw_txt is not None:
            self._raw_txt[key] = raw_txt
        try:
            txt = parse_txt(properties)
        except InvalidTxt as exc:
            if key not in self._warned:
                if len(self._warned) >= _MAX_WARNED_NAMES:
                    self._warned.clear()
                self._warned.add(key)
                _log.info("ignoring %r: %s", sanitize_display_name(instance), exc)  # not ours to fix
            return self._set(key, None)
        device = DiscoveredDevice(
            instance_name=instance,
            display_name=sanitize_display_name(instance),
            addresses=addresses,
            port=info.port,
            txt=txt,
            host=info.server,
        )
        return self._set(key, device)

    def _newest_txt(self, name: str) -> bytes | None:
        """The text of the newest unexpired TXT record cached for ``name``."""
        assert self._zc is not None
        now = current_time_millis()
        records = [
            r
            for r in self._zc.zeroconf.cache.async_all_by_details(name, TYPE_TXT, CLASS_IN)
            if isinstance(r, DNSText) and not r.is_expired(now)
        ]
        if not records:
            return None
        # A record superseded by a cache flush is set to expire in 1 s: the one that lives longest
        # is the newest (equal TTLs otherwise, so the later arrival).
        return max(records, key=lambda r: r.get_expiration_time(100)).text

    def _on_txt_record(self, name: str, text: bytes) -> None:
        """A TXT record arrived: re-resolve when it differs from the one our view is built on."""
        key = name.lower()
        if key in self._raw_txt and self._raw_txt[key] != text and not self._closed:
            self._schedule_resolve(name)

    def _set(self, key: str, device: DiscoveredDevice | None) -> bool:
        """Record the new state of ``key`` and emit the event the filtered view implies."""
        old = self._all.get(key)
        if old == device:
            return False
        if device is None:
            self._all.pop(key, None)
            if old is None:
                return False
        else:
            self._all[key] = device
        old_seen = old if old is not None and self._filter(old) else None
        new_seen = device if device is not None and self._filter(device) else None
        if old_seen is None and new_seen is not None:
            self._emit(DeviceAdded(new_seen))
        elif old_seen is not None and new_seen is None:
            self._emit(DeviceRemoved(old_seen))
        elif old_seen is not None and new_seen is not None:
            self._emit(DeviceUpdated(new_seen, previous=old_seen))
        return True

    def _emit(self, event: DiscoveryEvent) -> None:
        _log.debug("%s", event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                _log.exception("discovery listener failed")
        for queue in self._queues:
            queue.put_nowait(event)


class _TxtWatcher(RecordUpdateListener):
    """Tells the browser about every TXT record of our service type, repeated values included."""

    def __init__(self, browser: Browser) -> None:
        self._browser = browser

    def async_update_records(self, zc: Zeroconf, now: float, records: list[RecordUpdate]) -> None:
        for update in records:
            record = update.new
            if isinstance(record, DNSText) and record.name.lower().endswith(_SUFFIX) and not record.is_expired(now):
                self._browser._on_txt_record(record.name, record.text)

    def async_update_records_complete(self) -> None:
        pass


def _decode_txt(text: bytes) -> dict[bytes, bytes | None]:
    """TXT record text as properties (first occurrence of a key wins), as python-zeroconf does."""
    return ServiceInfo(SERVICE_TYPE, f"x.{SERVICE_TYPE}", properties=text).properties


_SUFFIX = "." + SERVICE_TYPE


def _instance_name(service_name: str) -> str:
    if service_name.lower().endswith(_SUFFIX):
        return service_name[: -len(_SUFFIX)]
    return service_name
