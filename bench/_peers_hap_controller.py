"""The aiohomekit controller of bench/peers.py (the library Home Assistant uses), in its own process;
the peer that device_sdk's controller is compared with. Nothing of device_sdk is imported here.

Usage: python _peers_hap_controller.py child STATE_DIR   (answers the controller commands of _peers_sides.py)

Targets are what _peers_hap_accessory.py answers. Without mDNS (off on both sides), the discovery
record aiohomekit's zeroconf browser would have made is built from the target
(:func:`description`); from there on only aiohomekit's public IP-transport API is used: ``IpDiscovery``
pair-setup with the setup code, ``IpController.load_pairing`` (what Home Assistant does on start),
``get_characteristics``, ``put_characteristics``, ``subscribe`` and ``dispatcher_connect``. The
accessory database is fetched once after pairing and then comes from aiohomekit's characteristic
cache, as in Home Assistant, so a reconnect is pair-verify and a read, no ``/accessories``.

A pairing is pair-setup M1 to M6 (``async_start_pairing`` + ``finish_pairing``, connecting included);
closing is ``IpPairing.close()``; a reconnect is a new pairing object from the stored pairing data
(``load_pairing``) connected with pair-verify (``connection.ensure_connection()``); the first reading
a ``get_characteristics`` read of the temperature; a set a ``put_characteristics`` of the light bulb's
On; listening ``subscribe`` + ``dispatcher_connect`` on the "fast" characteristic (in place once the
subscription is acknowledged).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import Any

from _peers_child import HOST
from _peers_sides import Arrivals, ControllerSide
from aiohomekit.characteristic_cache import CharacteristicCacheMemory
from aiohomekit.controller.ip.controller import IpController
from aiohomekit.controller.ip.discovery import IpDiscovery
from aiohomekit.controller.ip.pairing import IpPairing
from aiohomekit.exceptions import AuthenticationError
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


async def pair(discovery: IpDiscovery, alias: str) -> IpPairing:
    """Pair-setup M1 to M6 (connecting included) with the setup code."""
    try:
        finish = await discovery.async_start_pairing(alias)
        pairing = await finish(PINCODE)
    except BaseException:
        await discovery.close()  # type: ignore[no-untyped-call]
        raise
    assert isinstance(pairing, IpPairing)
    return pairing


class Side(ControllerSide):
    # HAP-python and aiohomekit disagree now and then on SRP's leading zero bytes (M4 fails with
    # "authentication" for the right code; aiohomekit PR #150 fixed its side of it): pair again.
    pairing_flakes = (AuthenticationError,)

    def __init__(self) -> None:
        super().__init__()
        # no mDNS: the controller is never started, so it has no browser and needs no zeroconf
        self.ctl = IpController(char_cache=CharacteristicCacheMemory(), zeroconf_instance=None)  # type: ignore[arg-type]
        self.pairing: IpPairing | None = None
        self.data: Any = None
        self.aid = 1
        self.iids: dict[str, int] = {}
        self.count = 0
        self.unlisten: Callable[[], None] | None = None

    @property
    def connection(self) -> IpPairing:
        assert self.pairing is not None, "pair_main first"
        return self.pairing

    def key(self, name: str) -> tuple[int, int]:
        return self.aid, self.iids[name]

    async def pair_main(self, target: Any) -> None:
        self.aid, self.iids = int(target["aid"]), {k: int(v) for k, v in target["iids"].items()}
        self.pairing = await pair(IpDiscovery(self.ctl, description(target)), ALIAS)
        self.data = self.pairing.pairing_data
        await self.pairing.list_accessories_and_characteristics()  # fills the characteristic cache

    async def prepare_pairing(self, target: Any) -> tuple[IpDiscovery, str]:
        self.count += 1
        return IpDiscovery(self.ctl, description(target)), f"fresh{self.count}"

    async def pair(self, prepared: tuple[IpDiscovery, str]) -> tuple[IpPairing, str]:
        discovery, alias = prepared
        return await pair(discovery, alias), alias

    async def after_pairing(self, paired: tuple[IpPairing, str]) -> None:
        pairing, alias = paired
        self.ctl.pairings.pop(alias, None)
        await pairing.close()

    async def close(self) -> None:
        await self.connection.close()

    async def connect(self) -> None:
        pairing = self.ctl.load_pairing(ALIAS, self.data)
        assert pairing is not None
        self.pairing = pairing
        await pairing.connection.ensure_connection()

    async def first_reading(self) -> None:
        key = self.key("temperature")
        values = await self.connection.get_characteristics([key])
        if "value" not in values.get(key, {}):
            raise RuntimeError(f"reading the temperature failed: {values}")

    async def end_reading(self) -> None:
        """A read leaves nothing open."""

    async def set(self, on: bool) -> None:
        status = await self.connection.put_characteristics([(*self.key("on"), on)])
        if status:
            raise RuntimeError(f"the write failed: {status}")

    async def listen(self, arrivals: Arrivals) -> None:
        key = self.key("fast")

        def on_event(event: dict[tuple[int, int], dict[str, Any]]) -> None:
            change = event.get(key)
            if change is not None and "value" in change:
                arrivals.hit(float(change["value"]))

        self.unlisten = self.connection.dispatcher_connect(on_event)
        await self.connection.subscribe([key])  # type: ignore[no-untyped-call]

    async def stop_listening(self) -> None:
        if self.unlisten is not None:
            self.unlisten()
            self.unlisten = None
            await self.connection.unsubscribe([self.key("fast")])  # type: ignore[no-untyped-call]

    async def shutdown(self) -> None:
        if self.pairing is not None:
            await self.pairing.close()


async def child() -> None:
    await Side().serve(None)


def main() -> None:
    if len(sys.argv) != 3 or sys.argv[1] != "child":
        raise SystemExit(__doc__)
    asyncio.run(child())


if __name__ == "__main__":
    main()
