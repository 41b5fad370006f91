"""TXT ``mv`` never goes down: not within a run, not across restarts (the state token changes at each start)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device_sdk.device import Device, DeviceConfig
from device_sdk.device.metadata import MV_BLOCK, DeviceMetadata
from device_sdk.errors import StateError


def metadata(path: Path) -> DeviceMetadata:
    return DeviceMetadata(locales=("en",), ready_file=None, version_file=path)


def test_each_start_begins_above_every_value_used_before(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    first = metadata(path)
    assert first.version == 1
    for _ in range(5):
        first.changed()
    used = first.version  # 6: the process then dies without saying goodbye
    second = metadata(path)
    assert second.version > used
    assert second.version > first.version


def test_the_file_is_written_once_per_block_not_per_change(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    meta = metadata(path)
    written = path.stat().st_mtime_ns, path.stat().st_ino
    for _ in range(MV_BLOCK - 1):
        meta.changed()
    assert (path.stat().st_mtime_ns, path.stat().st_ino) == written  # still inside the first block
    meta.changed()  # the block is used up: the next one is reserved
    assert path.stat().st_ino != written[1]
    assert json.loads(path.read_text())["mv_reserved"] >= meta.version
    assert oct(path.stat().st_mode & 0o777) == oct(0o600)


def test_a_corrupt_file_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "metadata.json"
    path.write_text('{"mv_reserved": "lots"}')
    with pytest.raises(StateError, match="mv_reserved"):
        metadata(path)


async def test_a_restarted_device_advertises_a_higher_mv(tmp_path: Path) -> None:
    config = DeviceConfig(state_dir=tmp_path, name="Restarts", advertise=False, host="127.0.0.1")
    device = Device(config)
    device.sensor("temperature")
    await device.start()
    before = device.txt_record().mv
    await device.stop()
    again = Device(config)
    again.sensor("temperature")
    await again.start()
    try:
        assert again.txt_record().mv > before
        assert again.metadata.state_token != device.metadata.state_token
    finally:
        await again.stop()
