"""Factory data: created once with a CSPRNG, validated, kept across restarts and resets."""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path
from xml.etree import ElementTree

import pytest
import segno

from device_sdk.device.factory import FACTORY_FILE, FactoryData
from device_sdk.device.sticker import format_manual_code, sticker_text, write_sticker_png, write_sticker_svg
from device_sdk.errors import ConfigError, StateError
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
    with pytest.raises(ConfigError, match="kept for life") as excinfo:
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
        '{"version": 1, "passcode": "20202021", "discriminator": 1, "vendor_id": 1, "product_id": 1, "flow": 0}',
        '{"version": 1, "passcode": 12345678, "discriminator": 1, "vendor_id": 1, "product_id": 1, "flow": 0}',
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


# -- the sticker (device_sdk.device.sticker) -------------------------------------------------------------
# A QR decoder is not among the dependencies, so these tests check that the rendered modules are
# exactly segno's symbol for the expected ``MT:`` text (segno being a correct encoder), and that
# the text parts carry the codes.

STICKER = FactoryData(passcode=20202021, discriminator=3840)


def _expected_matrix(qr_text: str, border: int) -> list[list[bool]]:
    qr = segno.make_qr(qr_text, error="m")
    return [[bool(v) for v in row] for row in qr.matrix_iter(border=border)]


def _png_pixels(data: bytes) -> list[list[bool]]:
    """Decode a 1-bit greyscale, non-interlaced PNG (what segno writes): True for black pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, color, interlace) == (1, 0, 0)
    raw = zlib.decompress(idat)
    stride = 1 + (width + 7) // 8
    rows, prior = [], bytes(stride - 1)
    for y in range(height):
        kind, line = raw[y * stride], bytearray(raw[y * stride + 1 : (y + 1) * stride])
        for i in range(len(line)):  # undo the PNG filter (1 byte per pixel group at depth 1)
            left, up, corner = line[i - 1] if i else 0, prior[i], prior[i - 1] if i else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
            else:
                assert kind == 0
        prior = bytes(line)
        rows.append([not (line[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
    return rows


def test_sticker_text_has_qr_and_codes() -> None:
    text = sticker_text(STICKER.payload)
    assert "3497-011-2332" in text
    assert "MT:Y.K90AFN00KA0648G00" in text
    assert "\x1b" not in text  # block characters, no ANSI escapes
    qr_lines = text.split("\n\n")[0].splitlines()
    assert set("".join(qr_lines)) <= {"█", "▀", "▄", " "}
    # Two matrix rows per line, light modules drawn: decode the blocks back into modules.
    matrix = _expected_matrix(STICKER.qr_text, border=2)
    for i, line in enumerate(qr_lines):
        top, bottom = matrix[2 * i], matrix[2 * i + 1] if 2 * i + 1 < len(matrix) else None
        for x, char in enumerate(line):
            assert (char in "█▀") == (not top[x])
            if bottom is not None:
                assert (char in "█▄") == (not bottom[x])


def test_sticker_svg(tmp_path: Path) -> None:
    path = tmp_path / "sticker.svg"
    write_sticker_svg(STICKER.payload, path, scale=4)
    root = ElementTree.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    assert root.tag == f"{ns}svg"
    (text,) = root.iter(f"{ns}text")
    assert text.text == "3497-011-2332"
    (path_el,) = root.iter(f"{ns}path")
    dark = {tuple(map(int, m.split(","))) for m in re.findall(r"M(\d+,\d+)h1v1h-1z", path_el.get("d", ""))}
    matrix = _expected_matrix(STICKER.qr_text, border=4)
    assert dark == {(x, y) for y, row in enumerate(matrix) for x, v in enumerate(row) if v}
    assert root.get("width") == str(len(matrix) * 4)


def test_sticker_png(tmp_path: Path) -> None:
    path = tmp_path / "sticker.png"
    write_sticker_png(STICKER.payload, path, scale=3)
    pixels = _png_pixels(path.read_bytes())
    matrix = _expected_matrix(STICKER.qr_text, border=4)
    assert len(pixels) == len(matrix) * 3
    assert [row[::3] for row in pixels[::3]] == matrix
    other = _expected_matrix(FactoryData(passcode=20202022, discriminator=3840).qr_text, border=4)
    assert [row[::3] for row in pixels[::3]] != other


def test_long_manual_code_format() -> None:
    custom = FactoryData(passcode=20202021, discriminator=3840, flow=FLOW_CUSTOM)
    assert format_manual_code(custom.manual_code) == "7497-011-2336-55213-27687"
    assert format_manual_code(custom.manual_code).replace("-", "") == custom.manual_code
    with pytest.raises(ValueError):
        format_manual_code("1234")
