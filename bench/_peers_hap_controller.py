"""The aiohomekit controller of bench/peers.py (the library Home Assistant uses), in its own process;
the peer that device_sdk's controller is compared with. Nothing of device_sdk is imported here.

Usage: python _peers_hap_controller.py child STATE_DIR   (driven by JSON lines, see _peers_child.py)

Targets are what _peers_hap_accessory.py answers. Without mDNS (off on both sides), the discovery
record aiohomekit's zeroconf browser would have made is built from the target
(:func:`description`); from there on only aiohomekit's public IP-transport API is used: ``IpDiscovery``
pair-setup with the setup code, ``IpController.load_pairing`` (what Home Assistant does on start),
``get_characteristics``, ``put_characteristics``, ``subscribe`` and ``dispatcher_connect``. The
accessory database is fetched once after pairing and then comes from aiohomekit's characteristic
cache, as in Home Assistant, so a reconnect is pair-verify and a read, no ``/accessories``.

Commands, as for _peers_controller.py:

* ``pair_main``; ``pair`` (answer ``seconds``: pair-setup M1 to M6 with a fresh accessory, connect
  included);
* ``reconnect``: ``close`` is ``IpPairing.close()``; ``connect`` a new pairing object from the stored
  pairing data, connected (pair-verify) and a first read of the temperature; ``first`` the read alone;
* ``sets``: ``put_characteristics`` of the light bulb's On, true, false, ...;
* ``listen`` (subscribe to the "fast" characteristic; ready when the subscription is acknowledged) and
  ``collect``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from typing import Any

from _peers_child import HOST, Arrivals, command_loop
from aiohomekit.characteristic_cache import CharacteristicCacheMemory
from aiohomekit.controller.ip.controller import IpController
from aiohomekit.controller.ip.discovery import IpDiscovery
from aiohomekit.controller.ip.pairing import IpPairing
from aiohomekit.model.categories import Categories
from aiohomekit.model.feature_flags import FeatureFlags
from aiohomekit.model.status_flags import StatusFlags
from aiohomekit.zeroconf import HAP_TYPE_TCP, HomeKitService

PINCODE = "031-45-154"
ALIAS = "main"


def description(target: dict[str, Any]) -> HomeKitService:
    """The record aiohomekit's browser would have made from the accessory's mDNS advertisement."""
    return HomeKitService(
        name=target["name"],
        id=target["id"].lower(),
        model="Bench",
        feature_flags=FeatureFlags(0),
        status_flags=StatusFlags.UNPAIRED,
        config_num=1,
        state_num=1,
        category=Categories.SENSOR,
        protocol_version="1.1",
        type=HAP_TYPE_TCP,
        address=HOST,
        addresses=[HOST],
        port=int(target["port"]),
    )


async def pair(ctl: IpController, target: dict[str, Any], alias: str) -> IpPairing:
    discovery = IpDiscovery(ctl, description(target))
    finish = await discovery.async_start_pairing(alias)
    pairing = await finish(PINCODE)
    assert isinstance(pairing, IpPairing)
    return pairing


class Child:
    def __init__(self) -> None:
        # no mDNS: the controller is never started, so it has no browser and needs no zeroconf
        self.ctl = IpController(char_cache=CharacteristicCacheMemory(), zeroconf_instance=None)  # type: ignore[arg-type]
        self.pairing: IpPairing | None = None
        self.data: Any = None
        self.aid = 1
        self.iids: dict[str, int] = {}
        self.count = 0
        self.arrivals = Arrivals(0.0, False)
        self.unlisten: Callable[[], None] | None = None

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd["cmd"]
        if name == "pair_main":
            target = cmd["target"]
            self.aid, self.iids = int(target["aid"]), {k: int(v) for k, v in target["iids"].items()}
            self.pairing = await pair(self.ctl, target, ALIAS)
            self.data = self.pairing.pairing_data
            await self.pairing.list_accessories_and_characteristics()  # fills the characteristic cache
            return {}
        if name == "pair":
            return {"seconds": await self._pair_fresh(cmd["target"])}
        if name == "reconnect":
            return await self._reconnect(int(cmd["count"]), float(cmd["settle"]))
        if name == "sets":
            return await self._sets(float(cmd["seconds"]))
        if name == "listen":
            await self._listen(float(cmd["base"]), bool(cmd["keep"]))
            return {}
        if name == "collect":
            await self._stop_listening()
            return self.arrivals.result()
        raise ValueError(f"unknown command {name!r}")

    @property
    def connection(self) -> IpPairing:
        assert self.pairing is not None, "pair_main first"
        return self.pairing

    async def _pair_fresh(self, target: dict[str, Any]) -> float:
        self.count += 1
        alias = f"fresh{self.count}"
        start = time.perf_counter()
        pairing = await pair(self.ctl, target, alias)
        elapsed = time.perf_counter() - start
        self.ctl.pairings.pop(alias, None)
        await pairing.close()
        return elapsed

    async def _reconnect(self, count: int, settle: float) -> dict[str, Any]:
        close: list[float] = []
        connect: list[float] = []
        first: list[float] = []
        key = (self.aid, self.iids["temperature"])
        for _ in range(count):
            start = time.perf_counter()
            await self.connection.close()
            close.append(time.perf_counter() - start)
            await asyncio.sleep(settle)
            start = time.perf_counter()
            pairing = self.ctl.load_pairing(ALIAS, self.data)
            assert pairing is not None
            self.pairing = pairing
            await pairing.connection.ensure_connection()
            connected = time.perf_counter()
            values = await pairing.get_characteristics([key])
            done = time.perf_counter()
            if "value" not in values.get(key, {}):
                raise RuntimeError(f"reading the temperature failed: {values}")
            connect.append(done - start)
            first.append(done - connected)
            await asyncio.sleep(settle)
        return {"close": close, "connect": connect, "first": first}

    async def _sets(self, seconds: float) -> dict[str, Any]:
        pairing = self.connection
        on = self.iids["on"]
        rtts: list[float] = []
        value = True
        begin = time.perf_counter()
        end = begin + seconds
        while (start := time.perf_counter()) < end:
            status = await pairing.put_characteristics([(self.aid, on, value)])
            rtts.append(time.perf_counter() - start)
            if status:
                raise RuntimeError(f"the write failed: {status}")
            value = not value
        return {"rtts": rtts, "count": len(rtts), "elapsed": time.perf_counter() - begin}

    async def _listen(self, base: float, keep: bool) -> None:
        await self._stop_listening()
        arrivals = self.arrivals = Arrivals(base, keep)
        key = (self.aid, self.iids["fast"])

        def on_event(event: dict[tuple[int, int], dict[str, Any]]) -> None:
            change = event.get(key)
            if change is not None and "value" in change:
                arrivals.hit(float(change["value"]))

        self.unlisten = self.connection.dispatcher_connect(on_event)
        await self.connection.subscribe([key])  # type: ignore[no-untyped-call]

    async def _stop_listening(self) -> None:
        if self.unlisten is not None:
            self.unlisten()
            self.unlisten = None
            await self.connection.unsubscribe([(self.aid, self.iids["fast"])])  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        if self.pairing is not None:
            await self.pairing.close()


async def child() -> None:
    c = Child()
    try:
        await command_loop(None, c.handle)
    finally:
        await c.close()


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] != "child":
        raise SystemExit(__doc__)
    asyncio.run(child())


if __name__ == "__main__":
    main()
