"""Setup codes: Matter QR text and manual code against published vectors; display-mode PINs."""

from __future__ import annotations

import pytest

from device_sdk.errors import InvalidSetupCode
from device_sdk.pairing.display_pin import (
    display_pin_qr_text,
    format_display_pin,
    generate_display_pin,
    parse_display_pin,
    parse_display_pin_qr,
)
from device_sdk.pairing.setup_code import (
    DISCOVERY_BLE,
    DISCOVERY_ON_NETWORK,
    DISCOVERY_SOFT_AP,
    FLOW_CUSTOM,
    FLOW_STANDARD,
    FLOW_USER_INTENT,
    CodeKind,
    SetupPayload,
    base38_decode,
    base38_encode,
    encode_manual,
    encode_qr,
    generate_discriminator,
    generate_passcode,
    parse_manual,
    parse_qr,
    parse_setup_code,
    passcode_is_valid,
    verhoeff_check_digit,
    verhoeff_is_valid,
)

# -- published vectors ----------------------------------------------------------------------------

# The well-known example sticker of the Matter SDK's example apps: discriminator 3840, passcode
# 20202021, vendor 0xFFF1, product 0x8000. Its discovery bitmask is 2 (BLE), as decoding shows.
WELL_KNOWN = SetupPayload(passcode=20202021, discriminator=3840, discovery=DISCOVERY_BLE)

# (qr text, manual code, payload) from connectedhomeip
# src/setup_payload/python/tests/test_matter_setup_payload.py (test_dataset).
CHIP_PYTHON_VECTORS = [
    (
        "MT:00000CQM00KA0648G00",
        "34970112332",
        SetupPayload(passcode=20202021, discriminator=3840, vendor_id=0, product_id=0),
    ),
    (
        "MT:-8VJ0OMV172PX813210",
        "32140830464",
        SetupPayload(passcode=49910688, discriminator=3431, discovery=DISCOVERY_BLE, vendor_id=0x1317, product_id=2),
    ),
    (
        "MT:0A.T0RTM00Y0OJ0.510",
        "00210433428",
        SetupPayload(passcode=54757432, discriminator=80, vendor_id=0x2345, product_id=0x1023),
    ),
    (
        "MT:KSNK4SIC13-JPR4UY00",
        "702871264504387000187",
        SetupPayload(passcode=43338551, discriminator=3091, flow=FLOW_CUSTOM, vendor_id=0x1123, product_id=0x0012),
    ),
    (
        "MT:A3L90ARR15G6N57Y900",
        "745492075300001000013",
        SetupPayload(passcode=12349876, discriminator=3781, flow=FLOW_USER_INTENT, vendor_id=1, product_id=1),
    ),
    (
        "MT:KSNK4M5113-JPR4UY00",
        "702871264504387000187",
        SetupPayload(
            passcode=43338551,
            discriminator=3091,
            discovery=DISCOVERY_BLE,
            flow=FLOW_CUSTOM,
            vendor_id=0x1123,
            product_id=0x0012,
        ),
    ),
    (
        "MT:EPX0482F26DAVY09R10",
        "403732495800069000166",
        SetupPayload(
            passcode=81235604,
            discriminator=174,
            discovery=7,
            flow=FLOW_USER_INTENT,
            vendor_id=0x45,
            product_id=0x10,
        ),
    ),
    (
        "MT:MZWA6G6026O2XP0II00",
        "619156140465523329207",
        SetupPayload(passcode=23005908, discriminator=2310, flow=FLOW_CUSTOM, vendor_id=0xFFF3, product_id=0x8098),
    ),
]

# connectedhomeip src/setup_payload/tests/TestHelpers.h: kDefaultPayloadQRCode and its payload
# (vendor 12, product 1, standard flow, SoftAP, discriminator 128, passcode 2048), and
# kConcatenatedQRCode (the same with passcode and discriminator +1, +2, +3).
CHIP_DEFAULT_QR = "MT:M5L90MP500K64J00000"
CHIP_DEFAULT = SetupPayload(passcode=2048, discriminator=128, vendor_id=12, product_id=1, discovery=DISCOVERY_SOFT_AP)
CHIP_CONCATENATED = "MT:M5L90MP500K64J00000*M5L90U.D010K4J00000*M5L900CM02IX4J00000*M5L908OU03-85J00000"


def test_well_known_example_sticker() -> None:
    assert encode_qr(WELL_KNOWN) == "MT:Y.K9042C00KA0648G00"
    assert encode_manual(WELL_KNOWN) == "34970112332"
    assert parse_qr("MT:Y.K9042C00KA0648G00") == [WELL_KNOWN]
    assert WELL_KNOWN.short_discriminator == 15


@pytest.mark.parametrize(("qr", "manual", "payload"), CHIP_PYTHON_VECTORS)
def test_chip_python_vectors(qr: str, manual: str, payload: SetupPayload) -> None:
    assert encode_qr(payload) == qr
    assert encode_manual(payload) == manual
    assert parse_qr(qr) == [payload]
    parsed = parse_manual(manual)
    assert parsed.passcode == payload.passcode
    assert parsed.short_discriminator == payload.short_discriminator
    if payload.flow != FLOW_STANDARD:
        assert (parsed.vendor_id, parsed.product_id) == (payload.vendor_id, payload.product_id)
        assert parsed.is_long
    else:
        assert parsed.vendor_id is None and not parsed.is_long


def test_chip_default_and_concatenated_payloads() -> None:
    assert encode_qr(CHIP_DEFAULT) == CHIP_DEFAULT_QR
    assert parse_qr(CHIP_DEFAULT_QR) == [CHIP_DEFAULT]
    payloads = parse_qr(CHIP_CONCATENATED)
    assert [(p.passcode, p.discriminator) for p in payloads] == [(2048 + i, 128 + i) for i in range(4)]
    assert all(p.vendor_id == 12 and p.discovery == DISCOVERY_SOFT_AP for p in payloads)
    # TestSetupPayload.cpp TestFromStringNumericCode: the numeric equivalent of the default payload.
    assert encode_manual(CHIP_DEFAULT) == "00204800002"
    manual = parse_manual("00204800002")
    assert (manual.passcode, manual.short_discriminator) == (2048, 0)


def test_qr_with_trailing_tlv_data_is_accepted() -> None:
    # connectedhomeip OnboardingPayloadParserTest (Kotlin): the default payload followed by optional TLV data.
    text = "MT:M5L90MP500K64J0A33P0SET70.QT52B.E23-WZE0WISA0DK5N1K8SQ1RYCU1O0"
    assert parse_qr(text) == [CHIP_DEFAULT]


def test_base38_vectors() -> None:
    # connectedhomeip src/setup_payload/tests/TestQRCode.cpp, TestBase38.
    cases = {
        b"": "",
        bytes([10]): "A0",
        bytes([10, 10]): "OT10",
        bytes([10, 10, 10]): "-N.B0",
        bytes([10, 10, 0]): "OT100",
        bytes([10, 10, 40]): "Y6V91",
        bytes([10, 10, 41]): "KL0B1",
        bytes([10, 10, 255]): "Q-M08",
        bytes([35]): "Z0",
        bytes([255, 0]): "R600",
        bytes([46, 0, 0]): "81000",
        bytes([255]): "R6",
        bytes([255, 255]): "NE71",
        bytes([255, 255, 255]): "PLS18",
        b"Hello World!": "KKHF3W2S013OPM3EJX11",
        bytes([0, 1]): "S600",
        bytes([0, 0, 1]): "OE710",
    }
    for raw, text in cases.items():
        assert base38_encode(raw) == text
        assert base38_decode(text) == raw
    for too_big in ("S6", "OE71", "QLS18"):
        with pytest.raises(InvalidSetupCode, match="does not fit"):
            base38_decode(too_big)
    for bad in ("0\x01", "[0", " 0", "!0", "*0", "@0", "a0"):
        with pytest.raises(InvalidSetupCode, match="bad character"):
            base38_decode(bad)


def test_verhoeff_vectors() -> None:
    # connectedhomeip src/lib/support/verhoeff/tests/TestVerhoeff.cpp.
    assert verhoeff_check_digit("236") == "3"
    assert verhoeff_check_digit("0") == "4"
    assert verhoeff_check_digit("11111") == "5"
    assert verhoeff_check_digit("4356678912349008") == "7"
    assert verhoeff_check_digit("78324562830019274123748") == "4"
    assert verhoeff_check_digit("") == "0"
    for good in ("123451", "0987652", "150"):
        assert verhoeff_is_valid(good)
    for bad in ("123456", "0987651", "157", ""):
        assert not verhoeff_is_valid(bad)
    for a, b in (("12345", "13245"), ("1122334455", "1122334545"), ("12345", "14325"), ("876543", "678543")):
        assert verhoeff_check_digit(a) != verhoeff_check_digit(b)
    with pytest.raises(InvalidSetupCode):
        verhoeff_check_digit("123F4567")


def test_manual_code_digits_from_chip_manual_code_tests() -> None:
    # connectedhomeip src/setup_payload/tests/TestManualCode.cpp, TestPayloadParser_FullPayload:
    # digits without check digit -> (passcode, discriminator, vendor, product).
    for body, passcode, discriminator, vendor, product in (
        ("52927623630456200032", 38728284, 1280, 4562, 32),
        ("40000100000000100001", 1, 0, 1, 1),
    ):
        code = parse_manual(body + verhoeff_check_digit(body))
        assert code.passcode == passcode
        assert code.short_discriminator == discriminator >> 8
        assert (code.vendor_id, code.product_id) == (vendor, product)
    short = parse_manual("0000010000" + verhoeff_check_digit("0000010000"))
    assert (short.passcode, short.short_discriminator, short.vendor_id) == (1, 0, None)


def test_long_manual_code_on_request_and_with_flow() -> None:
    long_code = encode_manual(WELL_KNOWN, long=True)
    assert len(long_code) == 21 and long_code[0] == "7"
    assert long_code.startswith("7497011233" + "65521" + "32768")
    parsed = parse_manual(long_code)
    assert (parsed.vendor_id, parsed.product_id, parsed.passcode) == (0xFFF1, 0x8000, 20202021)
    custom = SetupPayload(passcode=20202021, discriminator=3840, flow=FLOW_CUSTOM)
    assert len(encode_manual(custom)) == 21


def test_manual_code_tolerates_dashes_and_spaces() -> None:
    assert parse_manual("3497-011-2332").passcode == 20202021
    assert parse_manual(" 3497 011 2332 ").short_discriminator == 15


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "wrong length"),
        ("2456" + verhoeff_check_digit("2456"), "wrong length"),
        ("24184.2196" + verhoeff_check_digit("2418412196"), "bad character"),
        ("12749875380" + verhoeff_check_digit("12749875380"), "wrong length"),
        ("123456789123456785671" + verhoeff_check_digit("123456789123456785671"), "wrong length"),
        # first digit says "short code" but the code has 21 digits
        ("23456789123456785610" + verhoeff_check_digit("23456789123456785610"), "wrong length"),
        # a long code's first digit with a short length
        ("6361087535" + verhoeff_check_digit("6361087535"), "wrong length"),
        ("2327680000" + verhoeff_check_digit("2327680000"), "invalid passcode"),
        ("02684354589", "bad check digit"),
        ("34970112331", "bad check digit"),
        ("01120767810", "invalid passcode"),  # TestSetupPayload.cpp: passcode 111111111
        ("2361087535" + verhoeff_check_digit("2361087535"), "invalid passcode"),  # 123456780
        ("8497011233" + verhoeff_check_digit("8497011233"), "first digit"),
    ],
)
def test_manual_code_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidSetupCode, match=message):
        parse_manual(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("AT:M5L90MP500K64J00000", "bad prefix"),
        ("M5L90MP500K64J00000", "bad prefix"),
        ("MT:", "wrong length"),
        ("MT:M5L90MP500K64J0000", "wrong length"),  # one character short (TestQRCode WrongLength)
        ("MT:M5L90MP500K64J0000 ", "wrong length"),  # trailing space is stripped: still short
        ("MT:M5L90MP500K64J000 0", "bad character"),
        ("MT:M5L90MP500K64J00", "wrong length"),
        ("MT:M5L90MP500W-GT68D20", "invalid passcode"),  # TestQRCode: passcode 111111111
        ("MT:M5L90MP500K64J00000*M5L90MP500W-GT68D20", "invalid passcode"),
        ("MT:M5L90MP500K64J00000*", "wrong length"),
    ],
)
def test_qr_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidSetupCode, match=message):
        parse_qr(text)


def test_qr_unsupported_version() -> None:
    raw = bytearray(base38_decode(CHIP_DEFAULT_QR[3:]))
    raw[0] |= 0x01  # version 1
    with pytest.raises(InvalidSetupCode, match="unsupported payload version"):
        parse_qr("MT:" + base38_encode(bytes(raw)))


def test_qr_embedded_between_percent_signs() -> None:
    assert parse_qr("Z%MT:" + CHIP_DEFAULT_QR[3:] + "%DDD") == [CHIP_DEFAULT]


def test_payload_validation() -> None:
    with pytest.raises(InvalidSetupCode, match="invalid passcode"):
        SetupPayload(passcode=12345678, discriminator=1)
    with pytest.raises(InvalidSetupCode, match="discriminator"):
        SetupPayload(passcode=20202021, discriminator=4096)
    with pytest.raises(InvalidSetupCode, match="vendor_id"):
        SetupPayload(passcode=20202021, discriminator=1, vendor_id=0x10000)
    with pytest.raises(InvalidSetupCode, match="flow"):
        SetupPayload(passcode=20202021, discriminator=1, flow=3)
    with pytest.raises(InvalidSetupCode, match="version"):
        SetupPayload(passcode=20202021, discriminator=1, version=1)
    assert "20202021" not in repr(WELL_KNOWN)
    assert SetupPayload(passcode=1, discriminator=0).discovery == DISCOVERY_ON_NETWORK


def test_round_trip_random_payloads() -> None:
    for _ in range(200):
        payload = SetupPayload(passcode=generate_passcode(), discriminator=generate_discriminator())
        assert parse_qr(encode_qr(payload)) == [payload]
        manual = parse_manual(encode_manual(payload))
        assert manual.passcode == payload.passcode
        assert manual.matches_discriminator(payload.discriminator)


def test_passcode_rules() -> None:
    assert passcode_is_valid(1) and passcode_is_valid(99999998) and passcode_is_valid(20202021)
    for bad in (0, -1, 99999999, 12345678, 87654321, 100000000, 2**27):
        assert not passcode_is_valid(bad)
    for k in range(1, 9):
        assert not passcode_is_valid(11111111 * k)
    assert passcode_is_valid(99999998)
    assert not passcode_is_valid(True)
    draws = {generate_passcode() for _ in range(50)}
    assert len(draws) > 45 and all(passcode_is_valid(d) for d in draws)
    assert all(0 <= generate_discriminator() < 4096 for _ in range(50))


# -- any form -------------------------------------------------------------------------------------


def test_parse_setup_code_forms() -> None:
    qr = parse_setup_code("  MT:Y.K9042C00KA0648G00\n")
    assert qr.kind is CodeKind.QR
    assert (qr.passcode, qr.discriminator, qr.vendor_id) == (20202021, 3840, 0xFFF1)
    assert qr.payloads == (WELL_KNOWN,)
    assert qr.matches_discriminator(3840) and not qr.matches_discriminator(3841)

    manual = parse_setup_code("3497-011-2332")
    assert manual.kind is CodeKind.MANUAL
    assert (manual.passcode, manual.short_discriminator, manual.discriminator) == (20202021, 15, None)
    assert manual.matches_discriminator(3841) and not manual.matches_discriminator(0x0E00)

    long_code = parse_setup_code("745492075300001000013")
    assert long_code.kind is CodeKind.MANUAL and long_code.vendor_id == 1

    bare = parse_setup_code("2020-2021")
    assert bare.kind is CodeKind.PASSCODE and bare.passcode == 20202021
    assert bare.matches_discriminator(123)
    assert parse_setup_code("7").passcode == 7
    assert "20202021" not in repr(bare)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("12345678", "invalid passcode"),
        ("0", "invalid passcode"),
        ("123456789", "wrong length"),
        ("hello", "not a setup code"),
        ("MT:!!", "bad character"),
        ("34970112331", "bad check digit"),
    ],
)
def test_parse_setup_code_errors(text: str, message: str) -> None:
    with pytest.raises(InvalidSetupCode, match=message):
        parse_setup_code(text)


def test_invalid_setup_code_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_setup_code("nonsense")


# -- display mode ---------------------------------------------------------------------------------


def test_format_display_pin_groups() -> None:
    # OSP network.bs Appendix B example: 61488548833 -> 0614-8854-8833.
    assert format_display_pin(61488548833, 11) == "0614-8854-8833"
    assert format_display_pin(123456789, 9) == "123-456-789"
    assert format_display_pin(123456, 6) == "123-456"
    assert format_display_pin(1234567, 7) == "001-234-567"
    assert format_display_pin(5, 7) == "000-000-005"
    assert format_display_pin(1234567890, 10) == "0012-3456-7890"
    assert format_display_pin(123456789012, 12) == "1234-5678-9012"
    with pytest.raises(ValueError):
        format_display_pin(1000, 3)
    with pytest.raises(ValueError):
        format_display_pin(-1, 3)


def test_display_pin_round_trips() -> None:
    assert parse_display_pin("0614-8854-8833") == 61488548833
    assert parse_display_pin(" 001 234 567 ") == 1234567
    assert display_pin_qr_text(61488548833) == "E5100CBE1"
    assert parse_display_pin_qr("e5100cbe1") == 61488548833
    for bad in ("", "12a4", "--"):
        with pytest.raises(InvalidSetupCode):
            parse_display_pin(bad)
    for bad in ("", "0x12", "XYZ"):
        with pytest.raises(InvalidSetupCode):
            parse_display_pin_qr(bad)


def test_generate_display_pin() -> None:
    values = set()
    for _ in range(100):
        value, digits = generate_display_pin()
        assert 0 <= value < 2**20 and digits == 7
        assert parse_display_pin(format_display_pin(value, digits)) == value
        assert parse_display_pin_qr(display_pin_qr_text(value)) == value
        values.add(value)
    assert len(values) > 90
    value, digits = generate_display_pin(40)
    assert value < 2**40 and digits == 13
    assert len(format_display_pin(value, digits)) == len("0000-0000-0000-0000")
    for bad in (19, 81):
        with pytest.raises(ValueError):
            generate_display_pin(bad)
