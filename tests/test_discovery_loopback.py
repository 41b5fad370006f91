"""Advertiser and Browser over real multicast on 127.0.0.1 (python-zeroconf, no mocks).

Names and fingerprints are unique per test, so parallel runs on one host do not see each other.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import pytest
from zeroconf import ServiceInfo
from zeroconf.asyncio import AsyncZeroconf

from device_sdk.discovery import (
    SERVICE_TYPE,
    Advertiser,
    AdvertiserConfig,
    Browser,
    DeviceAdded,
    DeviceFilter,
    DeviceRecord,
    DeviceRemoved,
    DeviceUpdated,
    DiscoveryEvent,
    encode_txt,
)
from device_sdk.errors import DeviceNotFound

LOOPBACK = ["127.0.0.1"]
pytestmark = pytest.mark.timeout(30)


def new_record(**changes: Any) -> DeviceRecord:
    fields: dict[str, Any] = {
        "fp": base64.b64encode(secrets.token_bytes(32)).decode(),
        "mv": 1,
        "at": base64.b64encode(secrets.token_bytes(12)).decode(),
        "sn": "5a" + secrets.token_hex(7),
        "d": 2049,
        "cm": False,
    }
    fields.update(changes)
    return DeviceRecord(**fields)


def updated_to(expected: DeviceRecord) -> Callable[[DiscoveryEvent], bool]:
    return lambda ev: isinstance(ev, DeviceUpdated) and ev.device.txt == expected


def unique_name(base: str) -> str:
    return f"{base} {os.getpid()}-{secrets.token_hex(2)}"


class Recorder:
    """Collects a browser's events and waits for one that matches."""

    def __init__(self, browser: Browser) -> None:
        self.events: list[tuple[float, DiscoveryEvent]] = []
        self._changed = asyncio.Event()
        browser.add_listener(self._on_event)

    def _on_event(self, event: DiscoveryEvent) -> None:
        self.events.append((time.monotonic(), event))
        self._changed.set()

    async def wait_for(
        self, match: Callable[[DiscoveryEvent], bool], timeout: float = 5.0
    ) -> tuple[float, DiscoveryEvent]:
        async with asyncio.timeout(timeout):
            seen = 0
            while True:
                for stamp, event in self.events[seen:]:
                    if match(event):
                        return stamp, event
                seen = len(self.events)
                self._changed.clear()
                await self._changed.wait()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with Browser(interfaces=LOOPBACK) as b:
        yield b


AdvertiserFactory = Callable[..., Coroutine[Any, Any, Advertiser]]


@pytest.fixture
async def start_advertiser() -> AsyncIterator[AdvertiserFactory]:
    started: list[Advertiser] = []

    async def start(record: DeviceRecord, name: str, port: int = 4433, **kwargs: Any) -> Advertiser:
        config = AdvertiserConfig(instance_name=name, port=port, interfaces=LOOPBACK)
        adv = Advertiser(config=config, **kwargs)
        started.append(adv)
        await adv.start(record)
        return adv

    yield start
    await asyncio.gather(*(adv.stop() for adv in started))


async def test_device_appears_with_its_txt(browser: Browser, start_advertiser: AdvertiserFactory) -> None:
    rec = new_record(mv=300, d=4095, cm=True)
    name = unique_name("Lamp")
    adv = await start_advertiser(rec, name, port=4567)
    device = await browser.find(DeviceFilter(fingerprints={rec.fp}), timeout=5)
    assert device.instance_name == name == adv.instance_name
    assert device.display_name == name
    assert device.txt == rec
    assert device.port == 4567
    assert device.addresses == ("127.0.0.1",)
    assert device.host == adv.host_name
    assert device.host.endswith(f"-{rec.sn[:8]}.local.")
    assert browser.devices[name] == device


async def test_live_txt_updates_reach_the_browser(start_advertiser: AdvertiserFactory) -> None:
    """A TXT change reaches a browser by the record itself, not by the cache re-read a settle delay
    later (5 s here, so that a loaded machine cannot blur the two)."""
    async with Browser(interfaces=LOOPBACK, settle_delay=5.0) as browser:
        rec = new_record()
        adv = await start_advertiser(rec, unique_name("Plug"))
        rec_events = Recorder(browser)
        await browser.find(DeviceFilter(fingerprints={rec.fp}), timeout=5)

        # The pairing window opens: cm flips (and `at` rotates, as it does on every opening).
        opened = new_record(fp=rec.fp, sn=rec.sn, mv=1, cm=True)
        sent = time.monotonic()
        await adv.update(opened)
        stamp, event = await rec_events.wait_for(updated_to(opened))
        assert stamp - sent < 3.0, "TXT change should reach the browser by the record, not the re-read"
        assert isinstance(event, DeviceUpdated) and event.previous.txt == rec

        # A failed attempt rotates `at`; agent-info changes raise mv.
        rotated = new_record(fp=rec.fp, sn=rec.sn, mv=2, cm=True)
        await adv.update(rotated)
        await rec_events.wait_for(updated_to(rotated))

        # A burst is coalesced and the last value wins (no stale value re-announced afterwards).
        burst = [new_record(fp=rec.fp, sn=rec.sn, mv=3 + i, cm=bool(i % 2)) for i in range(6)]
        for item in burst:
            await adv.update(item)
        await rec_events.wait_for(updated_to(burst[-1]))
        await asyncio.sleep(0.8)  # longer than zeroconf's announcement series
        assert browser.devices[adv.instance_name].txt == burst[-1]
        assert adv.record == burst[-1]


async def test_flipping_back_to_a_recent_value_is_seen(browser: Browser, start_advertiser: AdvertiserFactory) -> None:
    """cm 0 -> 1 -> 0 -> 1 with identical other values, faster than the 1 s cache-flush window."""
    closed = new_record(cm=False)
    opened = DeviceRecord(fp=closed.fp, mv=closed.mv, at=closed.at, sn=closed.sn, d=closed.d, cm=True)
    adv = await start_advertiser(closed, unique_name("Flip"))
    events = Recorder(browser)
    await browser.find(DeviceFilter(fingerprints={closed.fp}), timeout=5)
    for value in (opened, closed, opened, closed):
        await asyncio.sleep(0.3)
        del events.events[:]
        await adv.update(value)
        await events.wait_for(updated_to(value), 1.5)
    await asyncio.sleep(1.2)  # after every cache flush has taken effect, the view still holds
    assert browser.devices[adv.instance_name].txt == closed


async def test_goodbye_on_stop_removes_the_device(browser: Browser, start_advertiser: AdvertiserFactory) -> None:
    rec = new_record()
    adv = await start_advertiser(rec, unique_name("Sensor"))
    events = Recorder(browser)
    await browser.find(DeviceFilter(fingerprints={rec.fp}), timeout=5)
    stopped = time.monotonic()
    await adv.stop()
    stamp, _ = await events.wait_for(lambda ev: isinstance(ev, DeviceRemoved) and ev.device.txt.fp == rec.fp, timeout=3)
    assert stamp - stopped < 2.0  # a goodbye, not the 75-minute TTL
    assert adv.instance_name not in browser.devices
    assert not adv.running


async def test_name_conflict_renames_and_both_stay_browsable(
    browser: Browser, start_advertiser: AdvertiserFactory
) -> None:
    name = unique_name("Twin")
    first, second = new_record(), new_record()
    renamed: list[str] = []
    adv1 = await start_advertiser(first, name)
    adv2 = await start_advertiser(second, name, port=4434, on_rename=renamed.append)
    assert adv1.instance_name == name
    assert adv2.instance_name == f"{name} (2)"
    assert renamed == [f"{name} (2)"]
    assert adv1.host_name != adv2.host_name
    dev1 = await browser.find(DeviceFilter(fingerprints={first.fp}), timeout=5)
    dev2 = await browser.find(DeviceFilter(fingerprints={second.fp}), timeout=5)
    assert (dev1.instance_name, dev1.port) == (name, 4433)
    assert (dev2.instance_name, dev2.port) == (f"{name} (2)", 4434)


async def test_five_same_name_devices_on_one_host_get_five_names(browser: Browser) -> None:
    """Five devices named alike start together on one host, each with its own zeroconf (as five
    processes would): each ends advertised under its own name, and browsers see all five."""
    name = unique_name("Thermo")
    records = [new_record() for _ in range(5)]
    advertisers = [
        Advertiser(config=AdvertiserConfig(instance_name=name, port=5000 + i, interfaces=LOOPBACK)) for i in range(5)
    ]
    try:
        await asyncio.gather(*(adv.start(rec) for adv, rec in zip(advertisers, records, strict=True)))
        expected = {name, *(f"{name} ({n})" for n in range(2, 6))}
        # Two that probed a name at the same moment both announce it; the tie-break then moves one
        # (after start returned): wait for that, bounded.
        async with asyncio.timeout(10):
            while {adv.instance_name for adv in advertisers} != expected:
                await asyncio.sleep(0.1)
        wanted = {adv.instance_name: rec.fp for adv, rec in zip(advertisers, records, strict=True)}
        async with asyncio.timeout(10):
            while {n: d.txt.fp for n, d in browser.devices.items() if n in wanted} != wanted:
                await asyncio.sleep(0.1)
    finally:
        await asyncio.gather(*(adv.stop() for adv in advertisers))


async def _rogue(name: str, server: str, port: int) -> tuple[AsyncZeroconf, ServiceInfo]:
    """Another responder that announces ``name`` without probing (as a device that probed at the same
    moment as ours does): its SRV target ``server`` decides the tie-break."""
    aiozc = AsyncZeroconf(interfaces=LOOPBACK)
    info = ServiceInfo(
        SERVICE_TYPE,
        f"{name}.{SERVICE_TYPE}",
        port=port,
        properties=encode_txt(new_record()),
        server=server,
        parsed_addresses=LOOPBACK,
    )
    await aiozc.async_register_service(info, cooperating_responders=True)
    return aiozc, info


@pytest.mark.parametrize("ours_wins", [True, False])
async def test_a_name_announced_by_another_device_is_kept_or_left_by_the_tie_break(
    browser: Browser, start_advertiser: AdvertiserFactory, ours_wins: bool
) -> None:
    name = unique_name("Twin")
    rec = new_record()
    renamed: list[str] = []
    adv = await start_advertiser(rec, name, on_rename=renamed.append)
    assert adv.instance_name == name
    server = "aaaa-rogue.local." if ours_wins else "zzzz-rogue.local."  # sorts below / above ours
    aiozc, _ = await _rogue(name, server, 6000)
    try:
        async with asyncio.timeout(10):
            while True:
                device = browser.devices.get(adv.instance_name)
                settled = device is not None and device.txt.fp == rec.fp and device.port == 4433
                if settled and (ours_wins or renamed):
                    break
                await asyncio.sleep(0.1)
        if ours_wins:
            assert adv.instance_name == name and renamed == []
        else:
            assert adv.instance_name == renamed[-1] == f"{name} (2)"
        await asyncio.sleep(1.5)  # the decision holds once the announcements are over
        assert adv.instance_name == (name if ours_wins else f"{name} (2)")
        assert browser.devices[adv.instance_name].txt.fp == rec.fp
    finally:
        await aiozc.async_close()


async def test_a_goodbye_for_our_name_is_answered_by_announcing_again(start_advertiser: AdvertiserFactory) -> None:
    """A device that leaves our name (a loser of a tie-break that says goodbye) withdraws the shared PTR
    record from every cache: we announce it again, so that caches hold it without asking (an observer
    that sends no queries sees it back)."""
    name = unique_name("Stay")
    observer = AsyncZeroconf(interfaces=LOOPBACK)
    try:
        adv = await start_advertiser(new_record(), name)
        aiozc, info = await _rogue(name, "aaaa-rogue.local.", 6001)
        try:
            await asyncio.sleep(1.0)
            assert adv.instance_name == name
            cache = observer.zeroconf.cache
            assert cache.current_entry_with_name_and_alias(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}") is not None
            await (await aiozc.async_unregister_service(info))  # goodbye for PTR, SRV and TXT
            await asyncio.sleep(1.5)
            assert cache.current_entry_with_name_and_alias(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}") is not None
            srv = [r for r in cache.async_entries_with_name(f"{name}.{SERVICE_TYPE}") if getattr(r, "port", 0) == 4433]
            assert srv, "our SRV record is not in the observer's cache"
        finally:
            await aiozc.async_close()
    finally:
        await observer.async_close()


async def test_shared_zeroconf_is_not_closed_and_names_conflict_within_it(browser: Browser) -> None:
    name = unique_name("Shared")
    aiozc = AsyncZeroconf(interfaces=LOOPBACK)
    try:
        adv1 = Advertiser(config=AdvertiserConfig(instance_name=name, port=1000), zeroconf=aiozc)
        adv2 = Advertiser(config=AdvertiserConfig(instance_name=name, port=1001), zeroconf=aiozc)
        await adv1.start(new_record())
        await adv2.start(new_record())
        assert adv2.instance_name == f"{name} (2)"
        await adv1.stop()
        await adv2.stop()
        assert not aiozc.zeroconf.done
    finally:
        await aiozc.async_close()


async def test_long_names_are_truncated_and_hostile_names_sanitized(
    browser: Browser, start_advertiser: AdvertiserFactory
) -> None:
    rec = new_record()
    long_name = unique_name("\u202eevil") + " " + "ü" * 40
    adv = await start_advertiser(rec, long_name)
    assert len(adv.instance_name.encode()) <= 63 and adv.instance_name.endswith("…")
    device = await browser.find(DeviceFilter(fingerprints={rec.fp}), timeout=5)
    assert device.instance_name == adv.instance_name
    assert device.truncated
    assert "\u202e" not in device.display_name and device.display_name.startswith("evil")


async def test_commissionable_filter_follows_the_pairing_window(
    start_advertiser: AdvertiserFactory,
) -> None:
    rec = new_record(cm=False)
    only_this = DeviceFilter(fingerprints={rec.fp})
    async with Browser(interfaces=LOOPBACK, device_filter=lambda d: only_this(d) and d.commissionable) as browser:
        events = Recorder(browser)
        adv = await start_advertiser(rec, unique_name("Window"))
        with pytest.raises(DeviceNotFound):
            await browser.find(timeout=1.5)  # visible on the network, but filtered out
        opened = new_record(fp=rec.fp, sn=rec.sn, cm=True)
        await adv.update(opened)
        _, added = await events.wait_for(lambda ev: isinstance(ev, DeviceAdded))
        assert added.device.txt == opened
        await adv.update(new_record(fp=rec.fp, sn=rec.sn, cm=False))
        await events.wait_for(lambda ev: isinstance(ev, DeviceRemoved))
        assert browser.devices == {}


async def test_malformed_txt_is_skipped_and_logged_once(browser: Browser, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="device_sdk.discovery")
    name = unique_name("Broken")
    good = encode_txt(new_record())
    bad: dict[bytes, bytes | None] = {**good, b"cm": b"yes"}
    aiozc = AsyncZeroconf(interfaces=LOOPBACK)
    try:
        info = ServiceInfo(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", port=9, properties=bad, server="b.local.")
        info.addresses = [bytes([127, 0, 0, 1])]
        await (await aiozc.async_register_service(info))
        worse = ServiceInfo(
            SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", port=9, properties={**bad, b"mv": b""}, server="b.local."
        )
        worse.addresses = [bytes([127, 0, 0, 1])]
        await (await aiozc.async_update_service(worse))
        with pytest.raises(DeviceNotFound):
            await browser.find(lambda d: d.instance_name == name, timeout=1.0)
        warnings = [r for r in caplog.records if name in r.getMessage()]
        assert len(warnings) == 1 and "cm" in warnings[0].getMessage()

        # Fixed by the device: now it is reported.
        fixed = ServiceInfo(SERVICE_TYPE, f"{name}.{SERVICE_TYPE}", port=9, properties=good, server="b.local.")
        fixed.addresses = [bytes([127, 0, 0, 1])]
        await aiozc.async_update_service(fixed)
        await browser.find(lambda d: d.instance_name == name, timeout=3)
    finally:
        await aiozc.async_close()


async def test_events_iterator_replays_known_devices_and_ends_on_stop(
    start_advertiser: AdvertiserFactory,
) -> None:
    rec = new_record()
    browser = Browser(interfaces=LOOPBACK, device_filter=DeviceFilter(fingerprints={rec.fp}))
    await browser.start()
    try:
        await start_advertiser(rec, unique_name("Iter"))
        await browser.find(timeout=5)
        seen: list[DiscoveryEvent] = []

        async def consume() -> None:
            async for event in browser.events():
                seen.append(event)

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0.05)
    finally:
        await browser.stop()
    await asyncio.wait_for(consumer, 2)
    assert [type(e) for e in seen] == [DeviceAdded]
    assert seen[0].device.txt == rec


async def test_find_times_out_with_device_not_found(browser: Browser) -> None:
    started = time.monotonic()
    with pytest.raises(DeviceNotFound):
        await browser.find(DeviceFilter(fingerprints={"nobody"}), timeout=0.3)
    assert time.monotonic() - started < 1.0


async def test_update_before_start_is_refused() -> None:
    adv = Advertiser(config=AdvertiserConfig(instance_name="Never", port=1, interfaces=LOOPBACK))
    with pytest.raises(Exception, match="not running"):
        await adv.update(new_record())
    await adv.stop()  # harmless when never started
