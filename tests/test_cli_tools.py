"""The ``device-sdk`` commands that need no device: code parse/make, provision, doctor (subprocesses)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests._cli_helpers import assert_for_people, cli, error_lines

pytestmark = pytest.mark.timeout(60)

PARSE_KEYS = {
    "kind",
    "passcode",
    "discriminator",
    "short_discriminator",
    "vendor_id",
    "product_id",
    "flow",
    "discovery",
}
PROVISION_KEYS = {"state_dir", "fp", "name", "model", "discriminator", "qr", "manual", "svg", "png"}


def test_code_make_then_parse_round_trip_as_json() -> None:
    made = cli("code", "make", "--passcode", "20202021", "--discriminator", "3840", "--json").json()
    assert made == {"qr": "MT:Y.K90AFN00KA0648G00", "manual": "34970112332"}
    parsed = cli("code", "parse", made["qr"], "--json").json()
    assert set(parsed) == PARSE_KEYS
    assert (parsed["passcode"], parsed["discriminator"], parsed["vendor_id"], parsed["product_id"]) == (
        20202021,
        3840,
        0xFFF1,
        0x8000,
    )
    manual = cli("code", "parse", "3497-011-2332", "--json").json()
    assert set(manual) >= PARSE_KEYS and manual["passcode"] == 20202021 and manual["short_discriminator"] == 15
    bare = cli("code", "parse", "20202021", "--json").json()
    assert bare["passcode"] == 20202021 and bare["discriminator"] is None


@pytest.mark.parametrize(
    "args",
    [
        ("code", "parse", "MT:not-a-code"),
        ("code", "parse", "11111111", "--json"),  # a passcode Matter forbids
        ("code", "parse", "3497-011-2333", "--json"),  # bad check digit
        ("code", "make", "--passcode", "0", "--discriminator", "3840", "--json"),
        ("code", "make", "--passcode", "20202021", "--discriminator", "4096", "--json"),
    ],
)
def test_bad_code_text_gives_one_error_line(args: tuple[str, ...]) -> None:
    result = cli(*args)
    assert result.rc != 0 and result.out == ""
    assert len(error_lines(result)) == 1, result.err


def test_doctor_json_lists_every_check(tmp_path: Path) -> None:
    result = cli("doctor", "--state-dir", str(tmp_path / "state"), "--json")
    assert "Traceback" not in result.err
    checks = json.loads(result.out)
    assert [c["check"] for c in checks] == ["interfaces", "multicast", "udp port", "pin factory", "avahi", "state dir"]
    assert all(set(c) == {"check", "ok", "detail"} and isinstance(c["ok"], bool) for c in checks)
    assert result.rc == (0 if all(c["ok"] for c in checks) else 1)


def on_a_pi() -> bool:
    model = Path("/proc/device-tree/model")
    return model.exists() and "raspberry pi" in model.read_text(errors="replace").lower()


def doctor(*args: str, pins: str | None = None) -> dict[str, dict[str, object]]:
    """The checks of ``device-sdk doctor ARGS --json`` by name (whatever its exit code), with
    GPIOZERO_PIN_FACTORY set to ``pins`` (unset when None: the tests set it to mock)."""
    env = {k: v for k, v in os.environ.items() if k != "GPIOZERO_PIN_FACTORY"}
    if pins is not None:
        env["GPIOZERO_PIN_FACTORY"] = pins
    result = cli("doctor", *args, "--json", env=env)
    assert "Traceback" not in result.err and result.err == "", result.err
    checks = {c["check"]: c for c in json.loads(result.out)}
    assert result.rc == (0 if all(c["ok"] for c in checks.values()) else 1)
    for c in checks.values():
        assert_for_people(str(c["detail"]))
    return checks


def test_doctor_judges_the_pin_factory_of_the_board_given(tmp_path: Path) -> None:
    state = ("--state-dir", str(tmp_path / "state"))
    sim = doctor("--board", "sim", *state)["pin factory"]
    assert sim["ok"] is True and "none needed" in str(sim["detail"])
    unknown = doctor("--board", "pi-9", *state)["pin factory"]
    assert unknown["ok"] is False and "unknown board 'pi-9'" in str(unknown["detail"])
    if on_a_pi():
        pytest.skip("on a Raspberry Pi the pi-4b board's pins may well work")
    pi = doctor("--board", "pi-4b", *state)["pin factory"]
    assert pi["ok"] is False
    assert "board 'pi-4b'" in str(pi["detail"]) and "install python3-lgpio" in str(pi["detail"])
    plain = doctor(*state)["pin factory"]  # no board: a laptop runs the simulated board only, which is fine
    assert plain["ok"] is True and "not a Raspberry Pi" in str(plain["detail"])
    mocked = doctor("--board", "pi-4b", *state, pins="mock")["pin factory"]  # simulating a Pi board's pins
    assert mocked["ok"] is True and "mock pins" in str(mocked["detail"])


def test_doctor_reports_a_bad_state_dir_as_a_fail_line(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("not a directory")
    for path, words in ((a_file, "is a file, not a directory"), (a_file / "sub", "cannot be created")):
        check = doctor("--state-dir", str(path))["state dir"]
        assert check["ok"] is False and words in str(check["detail"]), check
    text = cli("doctor", "--state-dir", str(a_file))
    assert text.rc == 1 and "Traceback" not in text.err
    assert any(line.startswith("FAIL state dir") for line in text.out.splitlines()), text.out


def test_doctor_checks_the_interfaces_given(tmp_path: Path) -> None:
    state = ("--state-dir", str(tmp_path / "state"))
    lo = doctor("--interface", "lo", *state)
    assert lo["interfaces"]["ok"] is True and "127.0.0.1" in str(lo["interfaces"]["detail"])
    assert lo["multicast"]["ok"] is True and "127.0.0.1" in str(lo["multicast"]["detail"])
    nope = doctor("--interface", "nope0", *state)["interfaces"]
    assert nope["ok"] is False and "no network interface is called 'nope0'" in str(nope["detail"])


def test_doctor_flags_a_state_dir_readable_by_others(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    result = cli("doctor", "--state-dir", str(state), "--json")
    checks = {c["check"]: c for c in json.loads(result.out)}
    assert checks["state dir"]["ok"] is False and result.rc == 1


def test_provision_keeps_the_stored_name_unless_given(tmp_path: Path) -> None:
    state = str(tmp_path / "device")
    svg = tmp_path / "sticker.svg"
    first = cli(
        "provision", "--state-dir", state, "--name", "Porch Light", "--model", "Lamp 2", "--svg", str(svg), "--json"
    ).json()
    assert set(first) == PROVISION_KEYS
    assert (first["name"], first["model"], first["svg"], first["png"]) == ("Porch Light", "Lamp 2", str(svg), None)
    assert svg.read_text().startswith("<?xml")
    again = cli("provision", "--state-dir", state, "--json").json()
    assert again == {**first, "svg": None}, "provision without --name/--model renamed the device"
    renamed = cli("provision", "--state-dir", state, "--name", "Garden Light", "--json").json()
    assert (renamed["name"], renamed["model"], renamed["fp"]) == ("Garden Light", "Lamp 2", first["fp"])
    assert renamed["qr"] == first["qr"], "the factory data changed"


def test_provision_refuses_to_change_the_factory_data(tmp_path: Path) -> None:
    state = str(tmp_path / "device")
    cli("provision", "--state-dir", state, "--passcode", "20202021", "--discriminator", "1234", "--json").json()
    result = cli("provision", "--state-dir", state, "--passcode", "20202022", "--json")
    assert result.rc != 0 and len(error_lines(result)) == 1
