"""Advertise a device as ``_openscreen._udp.local.`` with python-zeroconf (the asyncio edge).

One :class:`Advertiser` per device. It shares the process's ``AsyncZeroconf`` when given one and
only closes an instance it created itself.

Names are unique on the link (RFC 6762 sections 8 and 9), also between devices on one host:

- Probing asks with multicast-answered (QM) questions. python-zeroconf probes with QU questions, whose
  answers go by unicast to port 5353, which the kernel hands to just one of the sockets the processes
  of a host have bound there (SO_REUSEPORT): a second device on the host often missed the first one's
  answer and took its name.
- Two devices that probe at the same moment cannot hear each other (python-zeroconf answers from its
  registry only, and does not break ties between probes): each then announces the name. So an
  advertiser keeps watching the name it published; when another device announces it with other data,
  the device whose SRV data sorts highest keeps it (the tie-break of RFC 6762 section 8.2), the others
  withdraw without a goodbye (the shared PTR record stays valid) and take the next numbers in the order
  of that sort, and the winner announces again (the others' announcements flushed its records). A goodbye
  for the name's PTR record while we still serve it is answered the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from zeroconf import (
    NonUniqueNameException,
    RecordUpdate,
    RecordUpdateListener,
    ServiceInfo,
    Zeroconf,
    current_time_millis,
)
from zeroconf.asyncio import AsyncZeroconf

from device_sdk.errors import DiscoveryError, InvalidArgument, InvalidType
from device_sdk.identity.names import instance_label, truncate_instance_name
from device_sdk.wire.varint import MAX_VARINT

from ._zeroconf_compat import (
    CLASS_IN,
    CLASS_UNIQUE,
    FLAGS_AA,
    FLAGS_QR_QUERY,
    FLAGS_QR_RESPONSE,
    TYPE_A,
    TYPE_AAAA,
    TYPE_ANY,
    DNSAddress,
    DNSOutgoing,
    DNSPointer,
    DNSQuestion,
    DNSRecord,
    DNSService,
)
from .interfaces import ResolvedInterfaces, resolve_interfaces
from .txt import MAX_INSTANCE_NAME_BYTES, SERVICE_TYPE, DeviceRecord, encode_txt

try:  # python-zeroconf >= 0.32 raises this when the name is already in the local registry
    from zeroconf import ServiceNameAlreadyRegistered
except ImportError:  # pragma: no cover
    ServiceNameAlreadyRegistered = NonUniqueNameException  # type: ignore[assignment,misc]

__all__ = ["Advertiser", "AdvertiserConfig"]

_log = logging.getLogger(__name__)

_MAX_RENAMES = 100
_PROBES = 3
_PROBE_INTERVAL_S = 0.25
"""RFC 6762 section 8.1: three probes 250 ms apart, after a random wait of up to 250 ms."""
_CONFLICT_SETTLE_S = 0.4
"""After another device announces our name: how long to collect the other contenders before deciding."""

_SrvKey = tuple[str, int, int, int]
"""What the tie-break compares: the SRV record's target host, port, priority and weight."""


def _srv_key(record: DNSService) -> _SrvKey:
    return (record.server.lower(), record.port, record.priority, record.weight)


class _RecordTap(RecordUpdateListener):
    """Hands every record zeroconf receives to ``on_record`` (goodbyes included)."""

    def __init__(self, on_record: Callable[[DNSRecord, float], None]) -> None:
        self._on_record = on_record

    def async_update_records(self, zc: Zeroconf, now: float, records: list[RecordUpdate]) -> None:
        for update in records:
            self._on_record(update.new, now)


@dataclass(frozen=True, kw_only=True)
class AdvertiserConfig:
    """How and where a device is advertised."""

    instance_name: str
    """The display name; published truncated to 63 bytes (profile section 1)."""
    port: int
    """The UDP port of the QUIC server (SRV record)."""
    interfaces: Sequence[str] | None = None
    """Interface names (``"eth0"``, ``"lo"``) or addresses to run mDNS on; None for all."""
    host_addresses: Sequence[str] | None = None
    """Addresses for the A/AAAA records; None for every address of the chosen interfaces."""
    host_name: str | None = None
    """The SRV target host (``name.local.``); None derives ``<label>-<sn prefix>.local.``."""
    coalesce_delay: float = 0.05
    """Updates closer together than this (seconds) are merged into one announcement."""

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise InvalidArgument(f"port {self.port} is not in 1..65535")
        if not self.instance_name:
            raise InvalidArgument("instance_name must not be empty")
        if self.coalesce_delay < 0:
            raise InvalidArgument("coalesce_delay must not be negative")


class Advertiser:
    """Publishes one device's PTR/SRV/TXT/A/AAAA records and keeps them current.

    ``on_rename`` is called with the new instance name when a name conflict forced a rename
    (the device must then reissue its certificate for the new label).
    """

    def __init__(
        self,
        *,
        config: AdvertiserConfig,
        zeroconf: AsyncZeroconf | None = None,
        on_rename: Callable[[str], None] | None = None,
    ) -> None:
        self._config = config
        self._zc = zeroconf
        self._owns_zc = zeroconf is None
        self._on_rename = on_rename
        self._base_name = truncate_instance_name(config.instance_name)
        self._instance_name = self._base_name
        self._info: ServiceInfo | None = None
        self._record: DeviceRecord | None = None
        self._host_name = ""
        self._addresses: tuple[str, ...] = ()
        self._resolved: ResolvedInterfaces | None = None
        self._announce: asyncio.Future[None] | None = None
        self._pending: DeviceRecord | None = None
        self._flush_task: asyncio.Task[None] | None = None
        self._last_sent = float("-inf")
        self._lock = asyncio.Lock()
        self._number = 1
        """The number in the published name (1: the name as configured)."""
        self._contenders: dict[_SrvKey, float] = {}
        """SRV data other devices announced for our name (since the last decision)."""
        self._watch_task: asyncio.Task[None] | None = None
        self._tap: _RecordTap | None = None

    # -- read-only state ---------------------------------------------------------------------------

    @property
    def instance_name(self) -> str:
        """The published instance name (differs from the configured one after a rename)."""
        return self._instance_name

    @property
    def service_name(self) -> str:
        """The full service instance name, ``<instance>._openscreen._udp.local.``."""
        return f"{self._instance_name}.{SERVICE_TYPE}"

    @property
    def host_name(self) -> str:
        """The SRV target host name (empty before :meth:`start`)."""
        return self._host_name

    @property
    def addresses(self) -> tuple[str, ...]:
        """The addresses published in A/AAAA records."""
        return self._addresses

    @property
    def record(self) -> DeviceRecord | None:
        """The TXT values most recently requested (published within ``coalesce_delay``)."""
        return self._pending or self._record

    @property
    def running(self) -> bool:
        """True between a successful :meth:`start` and :meth:`stop`."""
        return self._info is not None

    @property
    def zeroconf(self) -> AsyncZeroconf | None:
        """The ``AsyncZeroconf`` in use (None before :meth:`start` when none was injected)."""
        return self._zc

    # -- lifecycle ---------------------------------------------------------------------------------

    async def start(self, record: DeviceRecord) -> None:
        """Probe for the name (renaming on conflict), then announce ``record``.

        Returns once the name is ours (about 1 s of mDNS probing); announcements continue in
        the background.
        """
        if self._info is not None:
            raise DiscoveryError("advertiser already started")
        self._check_record(record)
        async with self._lock:
            self._resolve_addresses()
            assert self._resolved is not None
            self._host_name = self._config.host_name or _default_host_name(self._base_name, record.sn)
            if self._zc is None:
                self._zc = AsyncZeroconf(
                    interfaces=list(self._resolved.zeroconf_interfaces),
                    ip_version=self._resolved.ip_version,
                )
            try:
                await self._register(record)
            except BaseException:
                if self._owns_zc:
                    await self._close_zeroconf()
                raise
            self._record = record
            self._last_sent = time.monotonic()
            self._tap = _RecordTap(self._on_record)
            self._zc.zeroconf.async_add_listener(self._tap, None)

    async def update(self, record: DeviceRecord) -> None:
        """Publish new TXT values (``cm`` flip, ``at`` rotation, ``mv`` increase) without re-probing.

        The first change goes out at once; further changes within ``coalesce_delay`` are merged
        and the latest one is sent when the delay has passed.
        """
        self._check_record(record)
        if self._info is None:
            raise DiscoveryError("advertiser is not running")
        if record == self.record:
            return
        self._pending = record
        if self._flush_task is not None:
            return
        wait = self._last_sent + self._config.coalesce_delay - time.monotonic()
        if wait <= 0:
            await self._flush()
        else:
            self._flush_task = asyncio.create_task(self._flush_later(wait))

    async def refresh_addresses(self) -> bool:
        """Re-read the chosen interfaces' addresses; re-announce and return True when they changed.

        Call this when the network changes (DHCP renewal, interface up/down). Addresses that went
        away get goodbye records so browsers drop them at once.
        """
        if self._info is None or self._zc is None:
            raise DiscoveryError("advertiser is not running")
        async with self._lock:
            old = self._addresses
            old_entries = self._resolved.zeroconf_interfaces if self._resolved else ()
            self._resolve_addresses()
            assert self._resolved is not None
            if self._owns_zc and self._resolved.zeroconf_interfaces != old_entries:
                await self._zc.zeroconf.async_update_interfaces(
                    list(self._resolved.zeroconf_interfaces), self._resolved.ip_version
                )
            if self._addresses == old:
                return False
            _log.info("addresses of %r changed: %s -> %s", self._instance_name, old, self._addresses)
            self._send_address_goodbyes([a for a in old if a not in self._addresses])
            record = self._pending or self._record
            assert record is not None
            await self._publish(record)
            return True

    async def rename(self, instance_name: str) -> str:
        """Withdraw the service (goodbye) and publish it under a new instance name, probing again
        (about 1 s; numbered on a conflict). Returns the name now published."""
        if self._info is None or self._zc is None:
            raise DiscoveryError("advertiser is not running")
        base = truncate_instance_name(instance_name)
        async with self._lock:
            if base == self._base_name:
                return self._instance_name
            self._cancel_announce()
            record = self._pending or self._record
            assert record is not None
            self._pending = None
            old, self._info = self._info, None
            goodbye = await self._zc.async_unregister_service(old)
            await goodbye
            self._base_name = self._instance_name = base
            self._contenders.clear()
            await self._register(record)
            self._record = record
            self._last_sent = time.monotonic()
            _log.info("now published as %r", self._instance_name)
            return self._instance_name

    async def stop(self) -> None:
        """Withdraw the service with goodbye packets; close the ``AsyncZeroconf`` if we created it."""
        if self._tap is not None and self._zc is not None:
            self._zc.zeroconf.async_remove_listener(self._tap)
            self._tap = None
        if self._watch_task is not None:
            self._watch_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch_task
            self._watch_task = None
        if self._flush_task is not None:
            self._flush_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush_task
            self._flush_task = None
        self._cancel_announce()
        info, self._info = self._info, None
        try:
            if info is not None and self._zc is not None and not self._zc.zeroconf.done:
                goodbye = await self._zc.async_unregister_service(info)
                await goodbye
        finally:
            if self._owns_zc:
                await self._close_zeroconf()

    # -- internals ---------------------------------------------------------------------------------

    @staticmethod
    def _check_record(record: DeviceRecord) -> None:
        if not isinstance(record, DeviceRecord):
            raise InvalidType(f"expected a DeviceRecord, not {type(record).__name__}")
        if record.mv > MAX_VARINT:  # pragma: no cover - DeviceRecord already checks
            raise InvalidArgument("mv too large")

    def _resolve_addresses(self) -> None:
        self._resolved = resolve_interfaces(self._config.interfaces)
        if self._config.host_addresses is not None:
            self._addresses = tuple(str(ipaddress.ip_address(a)) for a in self._config.host_addresses)
        else:
            self._addresses = self._resolved.host_addresses

    def _make_info(self, name: str, record: DeviceRecord) -> ServiceInfo:
        return ServiceInfo(
            SERVICE_TYPE,
            f"{name}.{SERVICE_TYPE}",
            port=self._config.port,
            properties=encode_txt(record),
            server=self._host_name,
            parsed_addresses=list(self._addresses),
        )

    async def _register(self, record: DeviceRecord, first: int = 1) -> None:
        """Probe for the name numbered ``first`` (1: the base name), then the next numbers, and register
        and announce the first one free."""
        assert self._zc is not None
        number = first
        for _ in range(_MAX_RENAMES):
            name = self._base_name if number == 1 else _numbered_name(self._base_name, number)
            info = self._make_info(name, record)
            number += 1
            if not await self._probe(info):
                _log.info("mDNS name %r is taken; trying the next number", name)
                continue
            try:
                announce = await self._zc.async_register_service(
                    info, allow_name_change=False, cooperating_responders=True
                )
            except (NonUniqueNameException, ServiceNameAlreadyRegistered):
                _log.info("mDNS name %r is taken in this process; trying the next number", name)
                continue
            self._info = info
            self._number = number - 1
            self._announce = _as_future(announce)
            if name != self._instance_name:
                self._instance_name = name
                _log.warning("renamed to %r after an mDNS name conflict", name)
                if self._on_rename is not None:
                    try:
                        self._on_rename(name)
                    except Exception:
                        _log.exception("on_rename callback failed")
            return
        raise DiscoveryError(f"no free mDNS name for {self._base_name!r} after {_MAX_RENAMES} tries")

    async def _probe(self, info: ServiceInfo) -> bool:
        """Whether ``info``'s name is free: RFC 6762 section 8.1 probes (a question for the name with our
        records in the authority section), as QM questions so that every socket on this host sees the
        answers. Answers land in zeroconf's cache."""
        assert self._zc is not None
        zc = self._zc.zeroconf
        await asyncio.sleep(random.uniform(0, _PROBE_INTERVAL_S))
        for _ in range(_PROBES):
            if self._taken(info):
                return False
            out = DNSOutgoing(FLAGS_QR_QUERY)
            out.add_question(DNSQuestion(info.name, TYPE_ANY, CLASS_IN))
            # the records the probe proposes (zeroconf's annotation says PTR only, but any record goes there)
            out.authorities.extend([info.dns_service(), info.dns_text()])  # type: ignore[list-item]
            zc.async_send(out)
            await asyncio.sleep(_PROBE_INTERVAL_S)
        return not self._taken(info)

    def _taken(self, info: ServiceInfo) -> bool:
        """Whether zeroconf's cache holds another device's SRV record for ``info``'s name."""
        assert self._zc is not None
        zc = self._zc.zeroconf
        ours = _srv_key(info.dns_service())
        now = current_time_millis()
        for record in zc.cache.async_entries_with_name(info.name):
            if isinstance(record, DNSService) and not record.is_expired(now) and _srv_key(record) != ours:
                return True
        return False

    def _on_record(self, record: DNSRecord, now: float) -> None:
        """A record zeroconf received: another device announcing our name, or a goodbye for it."""
        info = self._info
        if info is None:
            return
        name = info.name.lower()
        if isinstance(record, DNSService) and record.name.lower() == name and not record.is_expired(now):
            key = _srv_key(record)
            if key == _srv_key(info.dns_service()):
                return  # our own announcement, looped back
            self._contenders[key] = now
        elif isinstance(record, DNSPointer) and record.alias.lower() == name and record.is_expired(now):
            pass  # a goodbye for the name we serve: announce it again (below)
        else:
            return
        if self._watch_task is None or self._watch_task.done():
            self._watch_task = asyncio.get_running_loop().create_task(self._resolve_conflict())

    async def _resolve_conflict(self) -> None:
        """After another device announced our name: keep it when our SRV data sorts highest (and announce
        again), else withdraw silently and take the next free number (by our place in that order)."""
        await asyncio.sleep(_CONFLICT_SETTLE_S)
        async with self._lock:
            info, contenders = self._info, self._contenders
            self._contenders = {}
            if info is None or self._zc is None:
                return
            record = self._pending or self._record
            assert record is not None
            above = sum(1 for key in contenders if key > _srv_key(info.dns_service()))
            if above == 0:
                if contenders:
                    _log.info("kept the mDNS name %r against %d other device(s)", self._instance_name, len(contenders))
                await self._publish(record)  # announce again: the others' announcements flushed our records
                return
            _log.info("mDNS name %r is also announced by another device; moving", self._instance_name)
            self._cancel_announce()
            self._zc.zeroconf.registry.async_remove(info)  # no goodbye: the PTR record is shared with the winner
            self._info = None
            await self._register(record, first=self._number + above)
            self._record = record
            self._last_sent = time.monotonic()

    async def _flush_later(self, wait: float) -> None:
        await asyncio.sleep(wait)
        self._flush_task = None
        await self._flush()

    async def _flush(self) -> None:
        record, self._pending = self._pending, None
        if record is None or self._info is None:
            return
        async with self._lock:
            await self._publish(record)

    async def _publish(self, record: DeviceRecord) -> None:
        """Replace the registered records and announce them (cancelling older announcements)."""
        assert self._zc is not None and self._info is not None
        self._cancel_announce()  # an older announcement still in flight would resend stale values
        info = self._make_info(self._instance_name, record)
        announce = await self._zc.async_update_service(info)
        self._info = info
        self._record = record
        self._announce = _as_future(announce)
        self._last_sent = time.monotonic()

    def _send_address_goodbyes(self, gone: Sequence[str]) -> None:
        if not gone or self._zc is None:
            return
        out = DNSOutgoing(FLAGS_QR_RESPONSE | FLAGS_AA)
        for address in gone:
            packed = ipaddress.ip_address(address).packed
            rtype = TYPE_A if len(packed) == 4 else TYPE_AAAA
            out.add_answer_at_time(DNSAddress(self._host_name, rtype, CLASS_IN | CLASS_UNIQUE, 0, packed), 0)
        self._zc.zeroconf.async_send(out)

    def _cancel_announce(self) -> None:
        if self._announce is not None and not self._announce.done():
            self._announce.cancel()
        self._announce = None

    async def _close_zeroconf(self) -> None:
        zc, self._zc = self._zc, None
        if zc is not None:
            await zc.async_close()


def _as_future(awaitable: Awaitable[object]) -> asyncio.Future[None]:
    return asyncio.ensure_future(awaitable)  # type: ignore[arg-type]


def _numbered_name(base: str, number: int) -> str:
    """``base (number)``, with ``base`` cut at a character boundary so the whole fits in 63 bytes."""
    suffix = f" ({number})"
    room = MAX_INSTANCE_NAME_BYTES - len(suffix.encode("utf-8"))
    head = base.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return head + suffix


def _default_host_name(instance_name: str, sn: str) -> str:
    """``<label>-<first 8 hex digits of sn>.local.``: distinct for two devices on one host."""
    suffix = sn[:8]
    label = instance_label(instance_name).lower()[: 62 - len(suffix)].strip("-") or "device"
    return f"{label}-{suffix}.local."
