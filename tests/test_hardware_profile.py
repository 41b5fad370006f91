"""Board profiles: the built-in ones, the schema's validation, plugins and the embedded copies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from device_sdk.errors import ConfigError
from device_sdk.hardware.boards import (
    available_profiles,
    builtin_profile_names,
    builtin_profiles_dir,
    load_profile,
    parse_profile_text,
)
from device_sdk.hardware.profile import parse_profile

REPO_BOARDS = Path(__file__).resolve().parents[1] / "device_sdk" / "hardware" / "board_profiles"
BUILTIN = ("pi-4b", "pi-5", "pi-zero-2w", "sim")


def board(*parts: str, extra: str = "") -> str:
    """A profile text with the usual button (GPIO17) and LED (GPIO27) and the given parts."""
    head = '[board]\nname = "t"\n[pairing_button]\npin = 17\n[status_led]\npin = "GPIO27"\n' + extra
    return head + "".join(f"[[parts]]\n{p}\n" for p in parts)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_profile_text(text, source="my.toml")
    return str(info.value)


# -- built-in profiles ------------------------------------------------------------------------------


def test_builtin_profiles_are_found_in_the_repo() -> None:
    assert Path(str(builtin_profiles_dir())) == REPO_BOARDS
    assert builtin_profile_names() == BUILTIN


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_profile_loads(name: str) -> None:
    prof = load_profile(name)
    assert prof.name == name
    assert prof.pairing_button is not None and prof.pairing_button.pin == 17
    assert prof.pairing_button.hold_s == 10.0
    assert prof.status_led is not None and prof.status_led.pin == 27
    assert prof.source.endswith(f"{name}.toml")


def test_sim_profile_has_the_channels_others_rely_on() -> None:
    prof = load_profile("sim")
    assert prof.simulated
    chans = {c.name: c for c in prof.channels}
    t = chans["temperature"]
    assert (t.kind, t.type, t.unit, t.rate_hz) == ("sensor", "float", "C", 10.0)
    assert t.min is not None and t.max is not None and t.min < 21 < t.max
    assert (chans["led"].kind, chans["led"].type) == ("actuator", "bool")
    assert (chans["sound_level"].type, chans["sound_level"].unit) == ("float", "dB")
    assert (chans["button"].kind, chans["button"].type) == ("input", "bool")
    assert (chans["night_light"].type, chans["night_light"].min, chans["night_light"].max) == (
        "float",
        0.0,
        1.0,
    )
    t = chans["temperature"]
    assert (t.name, t.kind, t.type, t.unit, t.min, t.max, t.rate_hz, t.description) == (
        "temperature",
        "sensor",
        "float",
        "C",
        10.0,
        35.0,
        10.0,
        "Room temperature (simulated: a slow drift around 21 C)",
    )


@pytest.mark.parametrize("name", ["pi-4b", "pi-5", "pi-zero-2w"])
def test_commented_example_parts_are_valid(name: str) -> None:
    """The example parts in the Pi profiles parse once uncommented (the docs stay honest)."""
    text = (REPO_BOARDS / f"{name}.toml").read_text()
    block = text.split("# --- example parts")[1].split("# --- end of example parts")[0]
    lines = block.splitlines()[1:]
    uncommented = "\n".join(re.sub(r"^# ?", "", line) for line in lines)
    prof = parse_profile_text(text + "\n" + uncommented, source=name)
    types = {p.type for p in prof.parts}
    assert types == {"relay", "button", "motion_sensor", "pwm_led", "mcp3008", "distance_sensor"}
    relay = prof.part("relay")
    assert relay.pins["pin"] == 22 and relay.options["active_high"] is False


# -- files ----------------------------------------------------------------------------------------------


def test_load_profile_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(board('type = "relay"\nchannel = "pump"\npin = "BCM22"'))
    prof = load_profile(path)
    assert prof.part("pump").pins == {"pin": 22}
    assert load_profile(str(path)).name == "t"


def test_missing_file_and_bad_toml_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_profile(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[board\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: invalid TOML"):
        load_profile(bad)


def test_unknown_board_name_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown board 'pi-9'.*pi-4b.*sim"):
        load_profile("pi-9", entry_points=[])


# -- validation ---------------------------------------------------------------------------------------


def test_unknown_pin() -> None:
    msg = error_of(board('type = "led"\nchannel = "x"\npin = 28'))
    assert msg.startswith("my.toml: part 1 ('x', led)")
    assert "unknown pin GPIO28" in msg and "GPIO2..GPIO27" in msg
    assert "unknown pin GPIO1 " in error_of(board(extra="").replace("pin = 17", "pin = 1"))
    assert "BCM number" in error_of(board('type = "led"\nchannel = "x"\npin = "pin7"'))
    assert "BCM number" in error_of(board('type = "led"\nchannel = "x"\npin = true'))


def test_pin_used_twice() -> None:
    msg = error_of(board('type = "led"\nchannel = "x"\npin = 17'))
    assert "part 1 ('x', led)" in msg and "GPIO17 is already used by the pairing button" in msg
    msg = error_of(board('type = "led"\nchannel = "a"\npin = 5', 'type = "relay"\nchannel = "b"\npin = "GPIO5"'))
    assert "part 2 ('b', relay)" in msg and "already used by part 1 ('a', led)" in msg
    led_on_button = board().replace('pin = "GPIO27"', "pin = 17")
    assert "[status_led]: pin GPIO17 is already used by the pairing button" in error_of(led_on_button)


def test_spi_pins_count_and_are_shared_by_adc_inputs() -> None:
    adc = 'type = "mcp3008"\nchannel = "a{n}"\nadc_channel = {n}'
    prof = parse_profile_text(board(adc.format(n=0), adc.format(n=1)), source="ok")
    assert prof.part("a0").pins == {"sclk": 11, "mosi": 10, "miso": 9, "ce0": 8}
    msg = error_of(board(adc.format(n=0), 'type = "led"\nchannel = "x"\npin = 10'))
    assert "GPIO10 is already used by the SPI bus (mcp3008)" in msg
    msg = error_of(board(adc.format(n=3), adc.format(n=3).replace('"a3"', '"b3"')))
    assert "mcp3008 CE0 input 3 is already used" in msg
    second_chip = adc.format(n=3).replace('"a3"', '"b3"') + "\ndevice = 1"
    prof = parse_profile_text(board(adc.format(n=3), second_chip), source="ok")
    assert prof.part("b3").pins["ce1"] == 7


def test_unknown_part_type_and_missing_fields() -> None:
    assert "unknown part type 'servo'" in error_of(board('type = "servo"\nchannel = "x"\npin = 5'))
    assert "part 1 ('x'): missing 'type'" in error_of(board('channel = "x"\npin = 5'))
    assert "missing 'channel'" in error_of(board('type = "led"\npin = 5'))
    assert "part 1 ('x', led): missing 'pin'" in error_of(board('type = "led"\nchannel = "x"'))
    assert "missing 'echo'" in error_of(board('type = "distance_sensor"\nchannel = "d"\ntrigger = 5'))
    assert "missing 'adc_channel'" in error_of(board('type = "mcp3008"\nchannel = "a"'))
    assert "missing 'signal'" in error_of(board('type = "simulated"\nchannel = "s"'))
    assert "need 'min' and 'max'" in error_of(board('type = "simulated"\nchannel = "s"\nsignal = "drift"'))
    assert "missing [board]" in error_of("[pairing_button]\npin = 17\n")
    assert "[board]: missing 'name'" in error_of('[board]\nmodel = "x"\n')
    assert "[pairing_button]: missing 'pin'" in error_of('[board]\nname = "x"\n[pairing_button]\nhold_s = 3\n')


def test_duplicate_channel_names() -> None:
    msg = error_of(board('type = "led"\nchannel = "x"\npin = 5', 'type = "button"\nchannel = "x"\npin = 6'))
    assert "part 2 ('x', button): duplicate channel name 'x' (also my.toml: part 1 ('x', led))" in msg


def test_typos_and_misplaced_options_are_errors() -> None:
    assert "unknown key 'activ_high'" in error_of(board('type = "led"\nchannel = "x"\npin = 5\nactiv_high = true'))
    assert "kind 'sensor' is not allowed for led" in error_of(
        board('type = "led"\nchannel = "x"\npin = 5\nkind = "sensor"')
    )
    assert "rate_hz applies to sampled sensors" in error_of(board('type = "led"\nchannel = "x"\npin = 5\nrate_hz = 2'))
    assert "debounce_ms applies to buttons" in error_of(
        board('type = "mcp3008"\nchannel = "a"\nadc_channel = 0\ndebounce_ms = 5')
    )
    assert "'scale' must be a number" in error_of(
        board('type = "mcp3008"\nchannel = "a"\nadc_channel = 0\nscale = "x"')
    )
    assert "adc_channel must be 0..7" in error_of(board('type = "mcp3008"\nchannel = "a"\nadc_channel = 8'))
    assert "min 5.0 is above max 1.0" in error_of(
        board('type = "mcp3008"\nchannel = "a"\nadc_channel = 0\nmin = 5\nmax = 1')
    )
    assert "can never read as pressed" in error_of(
        board('type = "button"\nchannel = "b"\npin = 5\npull_up = true\nactive_high = true')
    )
    assert "unknown pin_factory 'gpiod'" in error_of('[board]\nname = "x"\npin_factory = "gpiod"\n')
    assert "unknown key 'led'" in error_of(board(extra="[led]\npin = 4\n"))
    assert "custom parts need driver" in error_of(board('type = "custom"\nchannel = "c"\ndriver = "nocolon"'))


def test_defaults_per_type() -> None:
    prof = parse_profile_text(
        board(
            'type = "button"\nchannel = "b"\npin = 5',
            'type = "motion_sensor"\nchannel = "m"\npin = 6',
            'type = "mcp3008"\nchannel = "a"\nadc_channel = 2\nscale = 330\noffset = -50\nunit = "C"',
            'type = "distance_sensor"\nchannel = "d"\necho = 24\ntrigger = 23\nmax_distance = 2',
            'type = "button"\nchannel = "ext"\npin = 13\nactive_high = true\nkind = "sensor"\ndebounce_ms = 0',
        ),
        source="ok",
    )
    b, m, a, d, ext = prof.parts
    assert (b.kind, b.value_type, b.debounce_ms, b.options["pull_up"], b.rate_hz) == (
        "input",
        "bool",
        50.0,
        True,
        None,
    )
    assert (m.kind, m.options["pull_up"]) == ("sensor", False)
    assert (a.kind, a.rate_hz, a.unit, a.options["scale"], a.options["device"]) == (
        "sensor",
        1.0,
        "C",
        330,
        0,
    )
    assert (d.unit, d.min, d.max, d.rate_hz) == ("m", 0.0, 2.0, 2.0)
    assert (ext.kind, ext.options["pull_up"], ext.options["active_high"], ext.debounce_ms) == (
        "sensor",
        None,
        True,
        0,
    )


def test_valid_pins_override() -> None:
    text = board('type = "led"\nchannel = "x"\npin = 40', extra="").replace(
        'name = "t"', 'name = "t"\nvalid_pins = [17, 27, 40]'
    )
    assert parse_profile_text(text, source="cm4").part("x").pins["pin"] == 40
    assert "unknown pin GPIO5" in error_of(text.replace("pin = 40", "pin = 5"))


# -- plugins --------------------------------------------------------------------------------------------


class FakeEntryPoint:
    """Stands in for importlib.metadata.EntryPoint."""

    def __init__(self, name: str, value: str, obj: object) -> None:
        self.name = name
        self.value = value
        self._obj = obj

    def load(self) -> Any:
        if isinstance(self._obj, Exception):
            raise self._obj
        return self._obj


def test_plugin_profiles(tmp_path: Path) -> None:
    table = tomllib.loads(board('type = "relay"\nchannel = "heater"\npin = 22').replace('"t"', '"acme-hat"'))
    path = tmp_path / "hat.toml"
    path.write_text(board('type = "led"\nchannel = "l"\npin = 5').replace('"t"', '"file-hat"'))
    eps = [
        FakeEntryPoint("acme-hat", "acme.boards:profile", table),
        FakeEntryPoint("file-hat", "acme.boards:path", lambda: str(path)),
        FakeEntryPoint("broken", "acme.boards:gone", ImportError("no module acme")),
        FakeEntryPoint("weird", "acme.boards:weird", 42),
        FakeEntryPoint("sim", "acme.boards:sim", table),
    ]
    assert load_profile("acme-hat", entry_points=eps).part("heater").type == "relay"
    prof = load_profile("file-hat", entry_points=eps)
    assert (prof.name, prof.source) == ("file-hat", str(path))
    with pytest.raises(ConfigError, match=r"board plugin 'broken' \(acme.boards:gone\): failed to load"):
        load_profile("broken", entry_points=eps)
    with pytest.raises(ConfigError, match="must give a profile dict or a path"):
        load_profile("weird", entry_points=eps)
    assert load_profile("sim", entry_points=eps).simulated  # built-ins win
    listed = available_profiles(eps)
    assert listed["sim"] == "built-in" and listed["acme-hat"] == "plugin acme.boards:profile"
    bad = dict(table, parts=[{"type": "led", "channel": "x", "pin": 99}])
    with pytest.raises(ConfigError, match=r"board plugin 'bad'.*unknown pin GPIO99"):
        load_profile("bad", entry_points=[FakeEntryPoint("bad", "acme:bad", bad)])


def test_installed_entry_points_are_read() -> None:
    # no distribution in the venv registers boards: only the built-ins are available
    assert set(available_profiles()) >= set(BUILTIN)


def test_parse_profile_takes_a_dict() -> None:
    prof = parse_profile({"board": {"name": "bare"}}, source="dict")
    assert (prof.name, prof.model, prof.pairing_button, prof.parts) == ("bare", "bare", None, ())
