"""Discovery across two network namespaces joined by a veth pair, and interoperability with avahi.

The device runs in namespace A (a child process); the browser runs in this process with its
sockets in namespace B. Needs root; skipped otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from device_sdk.discovery import (
    Browser,
    DeviceFilter,
    DeviceRecord,
    DeviceUpdated,
    DiscoveredDevice,
    DiscoveryEvent,
)
from tests.netns import (
    LinkedNamespaces,
    Namespace,
    entered,
    linked_namespaces,
    skip_reason,
    start_advertiser_child,
)

pytestmark = [pytest.mark.netns, pytest.mark.timeout(40)]


@pytest.fixture
def link() -> Iterator[LinkedNamespaces]:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with linked_namespaces() as pair:
        yield pair


def record_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "fp": base64.b64encode(secrets.token_bytes(32)).decode(),
        "mv": 300,
        "at": base64.b64encode(secrets.token_bytes(12)).decode(),
        "sn": "6b" + secrets.token_hex(5),
        "d": 3000,
        "cm": True,
    }
    fields.update(changes)
    return fields


@contextlib.asynccontextmanager
async def browser_in(ns: Namespace, interface: str) -> AsyncIterator[Browser]:
    browser = Browser(interfaces=[interface])
    with entered(ns):  # the browser's sockets are created in the namespace
        await browser.start()
    try:
        yield browser
    finally:
        await browser.stop()


async def wait_until(browser: Browser, fp: str, check: Any, timeout: float) -> DiscoveredDevice:
    """Wait until the device with ``fp`` satisfies ``check`` (events and polling of the view)."""
    changed = asyncio.Event()

    def on_event(_event: DiscoveryEvent) -> None:
        changed.set()

    remove = browser.add_listener(on_event)
    try:
        async with asyncio.timeout(timeout):
            while True:
                for device in browser.devices.values():
                    if device.txt.fp == fp and check(device):
                        return device
                changed.clear()
                await changed.wait()
    finally:
        remove()


async def test_device_in_another_namespace_is_discovered(link: LinkedNamespaces) -> None:
    fields = record_fields()
    async with browser_in(link.b, link.b_if) as browser:
        child, started = await start_advertiser_child(
            link.a, name="Garage Door", port=4433, interfaces=[link.a_if], record=fields
        )
        async with child:
            assert started["addresses"] == [link.a_addr]
            device = await browser.find(DeviceFilter(fingerprints={fields["fp"]}), timeout=5)
            assert device.addresses == (link.a_addr,)
            assert device.port == 4433
            assert device.instance_name == "Garage Door"
            assert device.txt == DeviceRecord(**fields)
            assert device.host == started["host"]

            # Live TXT update across the link: the pairing window closes.
            closed = {**fields, "cm": False}
            await child.send({"cmd": "update", "record": closed})
            assert (await child.recv())["event"] == "updated"
            await wait_until(browser, fields["fp"], lambda d: not d.txt.cm, timeout=3)

            await child.send({"cmd": "stop"})
            assert (await child.recv())["event"] == "stopped"
            async with asyncio.timeout(2):  # goodbye packets, not the TTL
                while any(d.txt.fp == fields["fp"] for d in browser.devices.values()):
                    await asyncio.sleep(0.02)


async def test_address_change_is_followed(link: LinkedNamespaces) -> None:
    fields = record_fields()
    old_address, new_address = link.a_addr, "10.231.7.77"
    async with browser_in(link.b, link.b_if) as browser:
        updates: list[DeviceUpdated] = []
        browser.add_listener(lambda ev: updates.append(ev) if isinstance(ev, DeviceUpdated) else None)
        child, _ = await start_advertiser_child(
            link.a, name="Moving Sensor", port=5000, interfaces=[link.a_if], record=fields
        )
        async with child:
            device = await browser.find(DeviceFilter(fingerprints={fields["fp"]}), timeout=5)
            assert device.addresses == (old_address,)

            link.set_a_address(new_address)  # e.g. a new DHCP lease
            changed_at = time.monotonic()
            await child.send({"cmd": "refresh"})
            reply = await child.recv()
            assert reply == {"event": "refreshed", "changed": True, "addresses": [new_address]}
            moved = await wait_until(browser, fields["fp"], lambda d: d.addresses == (new_address,), timeout=4)
            assert time.monotonic() - changed_at < 4
            assert moved.port == 5000
            assert updates and updates[-1].device.addresses == (new_address,)
            assert any(old_address in u.previous.addresses for u in updates)

            # Nothing changed: no re-announcement.
            await child.send({"cmd": "refresh"})
            assert (await child.recv())["changed"] is False


async def test_ipv6_addresses_are_advertised_too() -> None:
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with linked_namespaces(ipv6=True) as link:
        for ns, ifname, address in ((link.a, link.a_if, "fd00:231::1"), (link.b, link.b_if, "fd00:231::2")):
            ns.ip("addr", "add", f"{address}/64", "dev", ifname, "nodad")
        fields = record_fields()
        async with browser_in(link.b, link.b_if) as browser:
            child, started = await start_advertiser_child(
                link.a, name="Dual Stack", port=4433, interfaces=[link.a_if], record=fields
            )
            async with child:
                assert "fd00:231::1" in started["addresses"] and link.a_addr in started["addresses"]
                device = await wait_until(browser, fields["fp"], lambda d: "fd00:231::1" in d.addresses, timeout=5)
                assert link.a_addr in device.addresses
                assert {a.split("%")[0] for a in device.addresses} == set(started["addresses"])


# -- avahi interoperability ---------------------------------------------------------------------

_BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

# A private /run (in the mount namespace `ip netns exec` creates) holds avahi's pid file.
_AVAHI_START = 'mount -t tmpfs tmpfs /run && exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f "$1"'

_AVAHI_CONF = """[server]
use-ipv4=yes
use-ipv6=no
allow-interfaces={interface}
enable-dbus=yes
ratelimit-interval-usec=0
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
"""


@contextlib.contextmanager
def avahi_in(ns: Namespace, interface: str, workdir: Path) -> Iterator[dict[str, str]]:
    """Run a private D-Bus system bus and avahi-daemon in ``ns``; yield the env for avahi tools.

    avahi-browse and avahi-publish talk to the daemon over D-Bus, so the daemon gets its own bus
    (DBUS_SYSTEM_BUS_ADDRESS). It runs as root without chroot, and mounts a private /run (inside
    the mount namespace `ip netns exec` makes) for its pid file, leaving the host untouched.
    """
    for tool in ("avahi-daemon", "avahi-browse", "avahi-publish", "dbus-daemon"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt-get install avahi-daemon avahi-utils)")
    socket_path = workdir / "bus.sock"
    (workdir / "bus.conf").write_text(_BUS_CONF.format(socket=socket_path))
    (workdir / "avahi.conf").write_text(_AVAHI_CONF.format(interface=interface))
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={socket_path}"}
    ns.popen(["dbus-daemon", "--nofork", f"--config-file={workdir / 'bus.conf'}"], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while not socket_path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("private dbus-daemon did not start")
        time.sleep(0.02)
    log_path = workdir / "avahi.log"
    with log_path.open("wb") as log:
        ns.popen(
            [
                "sh",
                "-c",
                _AVAHI_START,
                "avahi",
                str(workdir / "avahi.conf"),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 10
    while b"Server startup complete" not in log_path.read_bytes():
        if time.monotonic() > deadline:
            raise RuntimeError(f"avahi-daemon did not start: {log_path.read_text(errors='replace')}")
        time.sleep(0.05)
    yield env


def _avahi_unescape(text: str) -> str:
    """Undo avahi-browse -p escaping of names (``\\032`` is a space, ``\\.`` a dot)."""
    return re.sub(r"\\(\d{3}|.)", lambda m: chr(int(m[1])) if m[1].isdigit() else m[1], text)


def avahi_browse(ns: Namespace, env: dict[str, str], name: str, timeout: float) -> list[str]:
    """``avahi-browse -rpt _openscreen._udp`` in ``ns`` until ``name`` is resolved; the ``=`` fields."""
    deadline = time.monotonic() + timeout
    while True:
        out = subprocess.run(
            ns.command(["avahi-browse", "-rpt", "_openscreen._udp"]),
            env=env,
            capture_output=True,
            timeout=10,
            check=False,
        ).stdout.decode(errors="replace")
        for line in out.splitlines():
            fields = line.split(";")
            if fields[0] == "=" and fields[2] == "IPv4" and _avahi_unescape(fields[3]) == name:
                return fields
        if time.monotonic() > deadline:
            raise AssertionError(f"avahi-browse did not resolve {name!r}; it printed:\n{out}")
        time.sleep(0.2)


async def test_avahi_sees_our_device(link: LinkedNamespaces, tmp_path: Path) -> None:
    fields = record_fields(mv=5, d=17, cm=True)
    name = "Kitchen Plug (avahi)"
    with avahi_in(link.b, link.b_if, tmp_path) as env:
        child, started = await start_advertiser_child(
            link.a, name=name, port=4455, interfaces=[link.a_if], record=fields
        )
        async with child:
            resolved = await asyncio.to_thread(avahi_browse, link.b, env, name, 8)
    # =;iface;IPv4;name;type;domain;host;address;port;"txt" "txt" ...
    assert resolved[4:6] == ["_openscreen._udp", "local"]
    assert resolved[6] == started["host"].rstrip(".")
    assert resolved[7] == link.a_addr
    assert resolved[8] == "4455"
    txt = dict(item.split("=", 1) for item in re.findall(r'"([^"]*)"', ";".join(resolved[9:])))
    assert txt["fp"] == fields["fp"]
    assert txt["at"] == fields["at"]
    assert txt["sn"] == fields["sn"]
    assert txt["d"] == "17"
    assert txt["cm"] == "1"
    assert "mv" in txt


async def test_we_see_a_device_published_by_avahi(link: LinkedNamespaces, tmp_path: Path) -> None:
    fields = record_fields(mv=42, d=None, cm=False)
    name = "Avahi Published"
    txt_args = [f"{k}={v}" for k, v in fields.items() if k not in ("mv", "d", "cm")]
    with avahi_in(link.b, link.b_if, tmp_path) as env:
        link.b.popen(
            ["avahi-publish", "-s", name, "_openscreen._udp", "4999", *txt_args, "mv=*", "cm=0"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        async with browser_in(link.a, link.a_if) as browser:
            device = await browser.find(lambda d: d.instance_name == name, timeout=8)
    assert device.addresses == (link.b_addr,)
    assert device.port == 4999
    assert device.txt == DeviceRecord(**{**fields, "mv": 42})  # "*" is 0x2a = 42 as a 1-byte varint
