"""Factory data: created once with a CSPRNG, validated, kept across restarts and resets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from device_sdk.errors import ConfigError, StateError
from device_sdk.factory import FACTORY_FILE, FactoryData
from device_sdk.pairing.setup_code import (
    DISCOVERY_ON_NETWORK,
    FLOW_CUSTOM,
    parse_manual,
    parse_qr,
    passcode_is_valid,
)
from device_sdk.pairing.trust import DeviceTrustStore


def test_created_once_and_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = FactoryData.load_or_create(state)
    assert passcode_is_valid(first.passcode) and 0 <= first.discriminator < 4096
    assert (first.vendor_id, first.product_id, first.flow) == (0xFFF1, 0x8000, 0)
    path = state / FACTORY_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    for _ in range(3):
        assert FactoryData.load_or_create(state) == first
    assert FactoryData.load(state) == first


def test_fresh_state_dirs_get_different_codes(tmp_path: Path) -> None:
    codes = {FactoryData.load_or_create(tmp_path / str(i)).passcode for i in range(10)}
    assert len(codes) == 10


def test_given_values_are_used_and_validated(tmp_path: Path) -> None:
    data = FactoryData.load_or_create(
        tmp_path, passcode=20202021, discriminator=3840, vendor_id=0x1234, product_id=0x42
    )
    assert (data.passcode, data.discriminator, data.vendor_id, data.product_id) == (
        20202021,
        3840,
        0x1234,
        0x42,
    )
    with pytest.raises(ConfigError, match="passcode"):
        FactoryData.load_or_create(tmp_path / "other", passcode=12345678)
    with pytest.raises(ConfigError, match="discriminator"):
        FactoryData.load_or_create(tmp_path / "other", discriminator=4096)
    assert not (tmp_path / "other" / FACTORY_FILE).exists()


def test_different_values_for_existing_data_need_override(tmp_path: Path) -> None:
    original = FactoryData.load_or_create(tmp_path, passcode=20202021, discriminator=3840)
    assert FactoryData.load_or_create(tmp_path, passcode=20202021) == original  # same value: fine
    with pytest.raises(ConfigError, match="override") as excinfo:
        FactoryData.load_or_create(tmp_path, passcode=20202022)
    assert "20202022" not in str(excinfo.value) and "20202021" not in str(excinfo.value)
    assert FactoryData.load(tmp_path) == original
    replaced = FactoryData.load_or_create(tmp_path, passcode=20202022, override=True)
    assert replaced.passcode == 20202022  # the discriminator, not given, is drawn afresh
    assert FactoryData.load(tmp_path) == replaced


def test_survives_factory_reset_of_the_trust_store(tmp_path: Path) -> None:
    data = FactoryData.load_or_create(tmp_path)
    trust = DeviceTrustStore(tmp_path / "trust.json")
    trust.add(bytes(32), "laptop", 1.0)
    trust.clear()
    assert FactoryData.load_or_create(tmp_path) == data


def test_payload_qr_and_manual_code(tmp_path: Path) -> None:
    data = FactoryData.load_or_create(tmp_path, passcode=20202021, discriminator=3840)
    assert data.payload.discovery == DISCOVERY_ON_NETWORK
    assert data.qr_text == "MT:Y.K90AFN00KA0648G00"
    assert parse_qr(data.qr_text) == [data.payload]
    assert data.manual_code == "34970112332"
    custom = FactoryData(passcode=20202021, discriminator=3840, flow=FLOW_CUSTOM)
    assert parse_manual(custom.manual_code).vendor_id == 0xFFF1
    assert "20202021" not in repr(data)


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        "[]",
        '{"version": 2}',
        '{"version": 1, "passcode": 20202021}',
        '{"version": 1, "passcode": "20202021", "discriminator": 1, "vendor_id": 1, "product_id": 1,'
        ' "flow": 0}',
        '{"version": 1, "passcode": 12345678, "discriminator": 1, "vendor_id": 1, "product_id": 1,'
        ' "flow": 0}',
    ],
)
def test_corrupt_factory_file(tmp_path: Path, document: str) -> None:
    path = tmp_path / FACTORY_FILE
    path.write_text(document)
    path.chmod(0o600)
    with pytest.raises(StateError, match=r"factory\.json"):
        FactoryData.load_or_create(tmp_path)
    assert path.read_text() == document  # never silently regenerated


def test_unsafe_permissions_refused(tmp_path: Path) -> None:
    FactoryData.load_or_create(tmp_path)
    (tmp_path / FACTORY_FILE).chmod(0o644)
    with pytest.raises(StateError, match="chmod 600"):
        FactoryData.load_or_create(tmp_path)


def test_file_format(tmp_path: Path) -> None:
    FactoryData.load_or_create(tmp_path, passcode=20202021, discriminator=3840)
    document = json.loads((tmp_path / FACTORY_FILE).read_text())
    assert document == {
        "version": 1,
        "passcode": 20202021,
        "discriminator": 3840,
        "vendor_id": 0xFFF1,
        "product_id": 0x8000,
        "flow": 0,
    }
    stale = tmp_path / f".{FACTORY_FILE}.cafebabe.tmp"
    stale.write_text("{")
    assert FactoryData.load(tmp_path) is not None
    assert not stale.exists()
