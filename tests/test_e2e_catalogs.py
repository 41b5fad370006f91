"""DeviceConnection.catalogs() end to end: a real Device whose channels change at run time, a paired
Controller over QUIC following its catalog without reconnecting."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from device_sdk import ChannelError
from tests._channels_e2e import make_device, next_within, pair

pytestmark = pytest.mark.timeout(30)


async def test_catalogs_follow_channels_added_removed_and_a_rename(tmp_path: Path) -> None:
    device = make_device(tmp_path, name="Changing")
    device.sensor("temperature", type="float", unit="°C")
    async with device:
        conn = await pair(device, tmp_path, "ctl")
        async with contextlib.aclosing(conn.catalogs()) as catalogs:
            first = await next_within(catalogs)
            assert [c.name for c in first.channels] == ["temperature"]

            device.sensor("humidity", type="float", unit="%")
            added = await next_within(catalogs)
            assert [c.name for c in added.channels] == ["temperature", "humidity"]
            assert added["humidity"].unit == "%"

            device.channels.remove("temperature")
            removed = await next_within(catalogs)
            assert [c.name for c in removed.channels] == ["humidity"]

            # a caller that falls behind gets the newest catalog, not a backlog
            device.actuator("led", type="bool", initial=False, handler=lambda value: value)
            await conn.agent.agent_status()  # a round trip: the update sent before its answer is here
            device.input("stick", type="float")
            await conn.agent.agent_status()
            newest = await next_within(catalogs)
            assert [c.name for c in newest.channels] == ["humidity", "led", "stick"]

            await conn.rename("Renamed")
            renamed = await next_within(catalogs)
            assert renamed.device.name == "Renamed"
            assert not conn.closed  # all of it on the one connection

            # the channel stays open while iterated: another call still works beside it
            assert [c.name for c in (await conn.catalog()).channels] == ["humidity", "led", "stick"]

            await conn.close()
            with pytest.raises(ChannelError):
                await next_within(catalogs)
