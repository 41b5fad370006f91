"""Trust stores: device-side trusted controllers, controller-side pinned devices, crash safety."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from device_sdk.errors import DeviceNotFound, NotPaired, StateError
from device_sdk.identity import fingerprint_from_text, fingerprint_text
from device_sdk.pairing.trust import (
    STORE_VERSION,
    AmbiguousDevice,
    ControllerPinStore,
    DeviceTrustStore,
)

FP_A = bytes(range(32))
FP_B = bytes(range(1, 33))
FP_C = bytes([0xFF]) * 32


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


# -- device side ----------------------------------------------------------------------------------


def test_first_controller_is_admin_later_ones_users(tmp_path: Path) -> None:
    store = DeviceTrustStore(tmp_path / "trust.json")
    assert not store.has_admin and store.list() == []
    first = store.add(FP_A, "laptop", 100.0)
    second = store.add(FP_B, "phone", 200.0)
    assert (first.role, second.role) == ("admin", "user")
    assert store.has_admin and store.is_trusted(FP_B) and not store.is_trusted(FP_C)
    assert [c.name for c in store.list()] == ["laptop", "phone"]
    assert _mode(tmp_path / "trust.json") == 0o600

    reopened = DeviceTrustStore(tmp_path / "trust.json")
    assert reopened.list() == store.list()
    assert reopened.get(FP_A) == first


def test_file_format_has_version_and_base64_fingerprints(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    DeviceTrustStore(path).add(FP_A, "laptop", 1.5)
    document = json.loads(path.read_text())
    assert document["version"] == STORE_VERSION
    (entry,) = document["controllers"]
    assert entry["fingerprint"] == fingerprint_text(FP_A) and len(entry["fingerprint"]) == 44
    assert entry == {
        "fingerprint": fingerprint_text(FP_A),
        "name": "laptop",
        "role": "admin",
        "paired_at": 1.5,
        "last_seen": 1.5,
    }


def test_re_adding_keeps_role_and_pairing_time(tmp_path: Path) -> None:
    store = DeviceTrustStore(tmp_path / "trust.json")
    store.add(FP_A, "laptop", 100.0)
    store.add(FP_B, "phone", 200.0)
    again = store.add(FP_B, "phone 2", 300.0)
    assert (again.role, again.paired_at, again.last_seen, again.name) == ("user", 200.0, 300.0, "phone 2")


def test_roles_remove_and_factory_reset(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    store = DeviceTrustStore(path)
    store.add(FP_A, "laptop", 1.0)
    store.add(FP_B, "phone", 2.0)
    assert store.set_role(FP_B, "admin").role == "admin"
    assert DeviceTrustStore(path).get(FP_B) is not None
    assert DeviceTrustStore(path).get(FP_B).role == "admin"  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        store.set_role(FP_B, "root")  # type: ignore[arg-type]
    with pytest.raises(NotPaired):
        store.set_role(FP_C, "user")
    assert store.remove(FP_A) is True
    assert store.remove(FP_A) is False
    assert not DeviceTrustStore(path).is_trusted(FP_A)

    store.clear()
    assert len(DeviceTrustStore(path)) == 0 and not store.has_admin
    assert store.add(FP_C, "new owner", 3.0).role == "admin"  # first after a factory reset


def test_touch_writes_at_most_once_a_minute_per_peer(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    store = DeviceTrustStore(path)
    store.add(FP_A, "laptop", 1000.0)
    store.add(FP_B, "phone", 1000.0)

    def on_disk(fp: bytes) -> float:
        entry = DeviceTrustStore(path).get(fp)
        assert entry is not None
        return entry.last_seen

    assert store.touch(FP_A, 1030.0).last_seen == 1030.0  # in memory at once
    assert on_disk(FP_A) == 1000.0  # not yet written
    store.touch(FP_A, 1059.0)
    assert on_disk(FP_A) == 1000.0
    store.touch(FP_A, 1060.0)
    assert on_disk(FP_A) == 1060.0  # a minute after the last write
    store.touch(FP_B, 1061.0)  # the other peer has its own clock: due since 1000
    assert on_disk(FP_B) == 1061.0
    store.touch(FP_A, 1100.0)
    assert on_disk(FP_A) == 1060.0  # 1100 is within a minute of A's last write
    store.remove(FP_B)  # any other change writes the in-memory times too
    assert on_disk(FP_A) == 1100.0
    with pytest.raises(NotPaired):
        store.touch(FP_C, 1200.0)


def test_names_from_the_network_are_bounded(tmp_path: Path) -> None:
    store = DeviceTrustStore(tmp_path / "trust.json")
    assert len(store.add(FP_A, "n" * 10_000, 1.0).name) == 256
    with pytest.raises(ValueError):
        store.add(b"short", "x", 1.0)


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[]",
        b'{"version": 2, "controllers": []}',
        b'{"controllers": []}',
        b'{"version": 1, "controllers": {}}',
        b'{"version": 1, "controllers": [{"fingerprint": "abc", "name": "x", "role": "user",'
        b' "paired_at": 1, "last_seen": 1}]}',
        b'{"version": 1, "controllers": [{"fingerprint": "' + fingerprint_text(FP_A).encode() + b'",'
        b' "name": "x", "role": "root", "paired_at": 1, "last_seen": 1}]}',
        b'{"version": 1, "controllers": [{"fingerprint": "' + fingerprint_text(FP_A).encode() + b'",'
        b' "name": "x", "role": "user", "paired_at": "yesterday", "last_seen": 1}]}',
        b"\xff\xfe",
    ],
)
def test_corrupt_device_store_raises_state_error_with_path(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "trust.json"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(StateError, match=r"trust\.json"):
        DeviceTrustStore(path)


def test_duplicate_entries_are_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    store = DeviceTrustStore(path)
    store.add(FP_A, "x", 1.0)
    document = json.loads(path.read_text())
    document["controllers"] *= 2
    path.write_text(json.dumps(document))
    with pytest.raises(StateError, match="duplicate"):
        DeviceTrustStore(path)


def test_store_open_to_other_users_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    DeviceTrustStore(path).add(FP_A, "x", 1.0)
    path.chmod(0o644)
    with pytest.raises(StateError, match="chmod 600"):
        DeviceTrustStore(path)


def test_stale_temporaries_are_removed_and_ignored(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    DeviceTrustStore(path).add(FP_A, "laptop", 1.0)
    stale = tmp_path / ".trust.json.deadbeef.tmp"
    stale.write_bytes(b'{"version": 1, "controllers": []}')  # a newer but never renamed write
    torn = tmp_path / ".trust.json.0badf00d.tmp"
    torn.write_bytes(b'{"version": 1, "contr')
    other = tmp_path / ".factory.json.12345678.tmp"  # another file's writer: not ours to delete
    other.write_bytes(b"{}")
    store = DeviceTrustStore(path)
    assert store.is_trusted(FP_A)
    assert not stale.exists() and not torn.exists() and other.exists()


def test_fingerprint_text_round_trip() -> None:
    text = fingerprint_text(FP_A)
    assert fingerprint_from_text(text) == FP_A
    for bad in ("", "A" * 43, "!" * 44, "A" * 42 + "=="):
        with pytest.raises(ValueError):
            fingerprint_from_text(bad)


# -- crash safety ---------------------------------------------------------------------------------

WRITER = Path(__file__).with_name("_trust_writer.py")


def _generation(path: Path) -> int:
    entry = DeviceTrustStore(path).get(bytes([0]) * 32)
    return -1 if entry is None else int(entry.name.split("-")[1])


def test_store_survives_sigkill_during_writes(tmp_path: Path) -> None:
    """A writer killed at random moments leaves the last completed write or the one in flight."""
    path = tmp_path / "trust.json"
    rng = random.Random(1234)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    # Up to 40 rounds in about 20 s; at least 20 (each starts a Python process), taking longer on a loaded machine.
    soon, latest = time.monotonic() + 20.0, time.monotonic() + 45.0
    kills = mid_write_kills = 0
    last_done = -1
    while kills < 40 and time.monotonic() < latest and (kills < 20 or time.monotonic() < soon):
        child = subprocess.Popen([sys.executable, str(WRITER), str(path)], stdout=subprocess.PIPE, env=env, text=True)
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready"
            first = int(child.stdout.readline())  # at least one write per round, even on slow disks
            time.sleep(rng.uniform(0.0, 0.03))
            child.send_signal(signal.SIGKILL)
            # read() and not communicate(timeout=...): the latter reads the pipe itself and loses the
            # lines readline() already buffered (a flaky "on disk is two generations ahead").
            rest = child.stdout.read()
            child.wait(timeout=10)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(timeout=10)
        kills += 1
        printed = [first] + [int(line) for line in rest.split()]
        if printed:
            last_done = printed[-1]
        on_disk = _generation(path)  # loads (StateError would fail the test) and validates
        assert on_disk in (last_done, last_done + 1), (on_disk, last_done)
        if on_disk == last_done + 1:
            mid_write_kills += 1
        last_done = on_disk
        assert not list(tmp_path.glob(".trust.json.*.tmp"))  # opening the store cleaned up
    assert kills >= 20
    assert last_done >= kills  # every round wrote: the kills landed while the writer was writing
    print(f"{kills} kills, {mid_write_kills} after an unreported write, generation {last_done}")


# -- controller side ------------------------------------------------------------------------------


def _pins(tmp_path: Path) -> ControllerPinStore:
    store = ControllerPinStore(tmp_path / "devices.json")
    store.add(FP_A, "Lamp", now=1.0, discriminator=3840, addresses=("192.0.2.1", "fe80::1%eth0"), port=4433)
    store.add(FP_B, "lamp", now=2.0, discriminator=100)
    store.add(FP_C, "Kitchen sensor", now=3.0)
    return store


def test_pin_store_persists(tmp_path: Path) -> None:
    store = _pins(tmp_path)
    reopened = ControllerPinStore(tmp_path / "devices.json")
    assert reopened.list() == store.list()
    entry = reopened.get(FP_A)
    assert entry is not None
    assert entry.addresses == ("192.0.2.1", "fe80::1%eth0") and entry.port == 4433
    assert entry.discriminator == 3840
    assert _mode(tmp_path / "devices.json") == 0o600
    assert json.loads((tmp_path / "devices.json").read_text())["version"] == STORE_VERSION


def test_pin_store_update_and_remove(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    store = _pins(tmp_path)
    updated = store.update(FP_C, addresses=("192.0.2.9",), port=5000, now=10.0)
    assert (updated.addresses, updated.port, updated.last_seen, updated.paired_at) == (
        ("192.0.2.9",),
        5000,
        10.0,
        3.0,
    )
    assert ControllerPinStore(path).get(FP_C) == updated
    again = store.add(FP_C, "Kitchen", now=20.0)
    assert again.paired_at == 3.0 and again.name == "Kitchen"
    with pytest.raises(DeviceNotFound):
        store.update(bytes(32), name="x")
    with pytest.raises(ValueError):
        store.update(FP_C, port=70000)
    with pytest.raises(ValueError):
        store.update(FP_C, discriminator=5000)
    assert store.remove(FP_C) and not store.remove(FP_C)
    assert ControllerPinStore(path).get(FP_C) is None


def test_pin_store_touch_is_rate_limited(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    store = _pins(tmp_path)
    store.touch(FP_C, 30.0)
    assert ControllerPinStore(path).get(FP_C).last_seen == 3.0  # type: ignore[union-attr]
    store.touch(FP_C, 63.0)
    assert ControllerPinStore(path).get(FP_C).last_seen == 63.0  # type: ignore[union-attr]
    store.update(FP_C, port=1234, now=64.0)  # a real change is written at once
    assert ControllerPinStore(path).get(FP_C).port == 1234  # type: ignore[union-attr]


def test_find(tmp_path: Path) -> None:
    store = _pins(tmp_path)
    assert store.find("Lamp").fingerprint == FP_A  # the exact name wins over the case-insensitive one
    assert store.find("lamp").fingerprint == FP_B
    assert store.find("KITCHEN SENSOR").fingerprint == FP_C
    assert store.find(fingerprint_text(FP_C)[:6]).fingerprint == FP_C
    assert store.find(fingerprint_text(FP_A)).fingerprint == FP_A
    assert store.find("3840").fingerprint == FP_A
    assert store.find("100").fingerprint == FP_B
    with pytest.raises(DeviceNotFound):
        store.find("nothing")
    with pytest.raises(DeviceNotFound):
        store.find(fingerprint_text(FP_C)[:3])  # too short for a prefix


def test_find_ambiguous_lists_candidates(tmp_path: Path) -> None:
    store = _pins(tmp_path)
    store.add(bytes(32), "LAMP", now=4.0)
    with pytest.raises(AmbiguousDevice) as excinfo:
        store.find("lAmP")
    assert {d.name for d in excinfo.value.candidates} == {"Lamp", "lamp", "LAMP"}
    assert "'Lamp'" in str(excinfo.value) and "'LAMP'" in str(excinfo.value)
    store.add(bytes([7]) * 32, "Other", now=5.0, discriminator=3840)
    with pytest.raises(AmbiguousDevice, match="2 devices"):
        store.find("3840")


def test_corrupt_pin_store(tmp_path: Path) -> None:
    path = tmp_path / "devices.json"
    good: dict[str, object] = {
        "fingerprint": fingerprint_text(FP_A),
        "name": "x",
        "discriminator": None,
        "addresses": [],
        "port": None,
        "paired_at": 1,
        "last_seen": 1,
    }
    for bad in ({"discriminator": 9999}, {"addresses": "192.0.2.1"}, {"port": 0}, {"name": 5}):
        path.write_text(json.dumps({"version": 1, "devices": [good | bad]}))
        path.chmod(0o600)
        with pytest.raises(StateError, match=r"devices\.json is corrupt"):
            ControllerPinStore(path)
    path.write_text(json.dumps({"version": 1, "devices": [good]}))
    assert ControllerPinStore(path).get(FP_A) is not None
