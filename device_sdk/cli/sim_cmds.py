"""`device-sdk sim`: press the buttons of a running simulated device, force its sensors, read it."""

from __future__ import annotations

import argparse
import asyncio
import math
from pathlib import Path
from typing import Any

from ..errors import ConfigError, HardwareError
from ..hardware.sim_control import sim_request
from ..hardware.sim_protocol import DEFAULT_HOLD_S, PAIRING_BUTTON, Force, Press, SetInput, SimRequest, Status
from .common import default_state_dir, seconds
from .messages import unknown
from .render import emit_json, say


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser(
        "sim",
        help="drive a running simulated device (device-sdk run --board sim)",
        description="Talks to the sim control socket (<state dir>/sim.sock) of a device running on mock pins.",
    )
    cmds = sim.add_subparsers(dest="sim_command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--state-dir", type=Path, help="the device's state directory (as given to `run`)")
        p.add_argument("--json", action="store_true", help="print the result as JSON")

    press = cmds.add_parser("press", help="press a button (default: the pairing button) and release it")
    press.add_argument("button", nargs="?", default=PAIRING_BUTTON, help=f"button name (default {PAIRING_BUTTON})")
    press.add_argument(
        "--hold",
        type=seconds,
        default=DEFAULT_HOLD_S,
        metavar="S",
        help=f"hold it S seconds (default {DEFAULT_HOLD_S}; the pairing button's hold_s, 10 s, is a factory reset)",
    )
    common(press)
    press.set_defaults(func=cmd_press)

    status = cmds.add_parser("status", help="the status LED, outputs, inputs and the pairing window")
    common(status)
    status.set_defaults(func=cmd_status)

    set_ = cmds.add_parser("set", help="drive an input (button, motion sensor) active or inactive and leave it")
    set_.add_argument("input", help="input name, e.g. motion")
    set_.add_argument("state", choices=("on", "off"), help="on = pressed / motion seen")
    common(set_)
    set_.set_defaults(func=cmd_set)

    force = cmds.add_parser(
        "force",
        help="make a sensor report a value: simulated sensors, MCP3008 inputs, distance sensors ('none' resumes)",
    )
    force.add_argument("sensor", help="sensor name, e.g. temperature or soil_moisture")
    force.add_argument("value", help="a number, or 'none'")
    common(force)
    force.set_defaults(func=cmd_force)


def _call(args: argparse.Namespace, request: SimRequest) -> dict[str, Any]:
    state_dir: Path = args.state_dir or default_state_dir("device")
    try:
        return asyncio.run(sim_request(state_dir, request))
    except HardwareError:
        names = _names_for(request, asyncio.run(sim_request(state_dir, Status())))
        name = getattr(request, "name", None)
        if name is None or names is None or name in names:
            raise
    what = "sensor that can be forced" if isinstance(request, Force) else "button or motion sensor"
    listed = f"; it has: {', '.join(names)}" if names else ""
    raise HardwareError(unknown(f"the simulated device has no {what} {name!r}", name, names, listed))


def _names_for(request: SimRequest, status: dict[str, Any]) -> list[str] | None:
    """The names ``request`` may use on the device whose status this is (None: any)."""
    if isinstance(request, Force):
        return sorted(status.get("forced") or {})
    if isinstance(request, Press | SetInput):
        button = [PAIRING_BUTTON] if status.get("pairing_button") else []
        return button + sorted(status.get("inputs") or {})
    return None


def cmd_press(args: argparse.Namespace) -> int:
    result = _call(args, Press(name=args.button, hold_s=args.hold))
    if args.json:
        emit_json(result)
    else:
        say(f"pressed {result['pressed']} for {result['hold_s']:g} s")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    result = _call(args, SetInput(name=args.input, active=args.state == "on"))
    if args.json:
        emit_json(result)
    else:
        say(f"{result['name']} {'on' if result['active'] else 'off'}")
    return 0


def cmd_force(args: argparse.Namespace) -> int:
    if args.value.lower() == "none":
        value: float | None = None
    else:
        try:
            value = float(args.value)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise ConfigError(f"{args.value!r} is not a number: give a value such as 21.5, or 'none'")
    result = _call(args, Force(name=args.sensor, value=value))
    if args.json:
        emit_json(result)
    elif result["value"] is None:
        say(f"{result['name']} follows its signal again")
    else:
        say(f"{result['name']} forced to {result['value']:g}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    result = _call(args, Status())
    if args.json:
        emit_json(result)
        return 0
    say(f"board           {result.get('board')}")
    led = result.get("status_led")
    if led:
        say(f"status LED      {led['pattern']} ({'lit' if led['lit'] else 'dark'})")
    window = result.get("pairing_window")
    if window:
        state = f"open ({window['reason']})" if window["open"] else "closed"
        say(f"pairing window  {state}, {window['mode']} mode")
    if "paired" in result:
        say(f"paired with     {result['paired']} controller(s)")
    for title, key in (("outputs", "outputs"), ("inputs", "inputs"), ("forced", "forced"), ("values", "values")):
        items = result.get(key) or {}
        if items:
            say(f"{title:<15} " + ", ".join(f"{k}={_fmt(v)}" for k, v in sorted(items.items())))
    return 0


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "-"
    return str(value)
