"""`device-sdk run`: the device."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

from ..config import device_config_from, load_config_file
from ..device import Device
from ..events import DeviceEvent, LockedOut, Paired, PairingFailed, PairingWindowChanged, ShowPin
from .common import default_state_dir
from .render import emit_json_line, say


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run a device")
    run.add_argument("--board", help="board profile name or file (sim, pi-zero-2w, pi-4b, pi-5, ./my.toml)")
    run.add_argument("--config", type=Path, help="TOML config file ([device] table of DeviceConfig fields)")
    run.add_argument("--name", help="the device's name (mDNS instance name)")
    run.add_argument("--model", help="the model name")
    run.add_argument("--state-dir", type=Path, help="state directory (default $STATE_DIRECTORY or user data dir)")
    run.add_argument("--port", type=int, help="UDP port of the QUIC server (0 = any free port)")
    run.add_argument("--interface", action="append", dest="interfaces", help="advertise on this interface (repeatable)")
    run.add_argument("--pairing", choices=("sticker", "display", "button"), help="pairing mode")
    run.add_argument("--setup-code", type=int, help="use this setup passcode for this run (factory data are kept)")
    run.add_argument("--discriminator", type=int, help="use this discriminator for this run (factory data are kept)")
    run.add_argument("--open-window", action="store_true", help="open the pairing window at start")
    run.add_argument("--no-advertise", action="store_true", help="do not publish over mDNS")
    run.add_argument("--ready-file", type=Path, help="write port/fp/name/sn/at/cm as JSON once serving")
    run.add_argument("--json", action="store_true", help="events as JSON lines")
    run.set_defaults(func=cmd_run)


def _values(args: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = load_config_file(args.config) if args.config else {}
    overrides = {
        "board": args.board,
        "name": args.name,
        "model": args.model,
        "state_dir": args.state_dir,
        "port": args.port,
        "interfaces": tuple(args.interfaces) if args.interfaces else None,
        "pairing_mode": args.pairing,
        "setup_code": args.setup_code,
        "discriminator": args.discriminator,
        "ready_file": args.ready_file,
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    if args.open_window:
        values["open_window"] = True
    if args.no_advertise:
        values["advertise"] = False
    values.setdefault("state_dir", default_state_dir("device"))
    return values


def _make_device(values: dict[str, Any]) -> Device:
    """The device. Without --name/--model it keeps its stored names; ``setup_code``/``discriminator``
    apply to this run only once factory data exist (the provisioned file is never rewritten)."""
    return Device(device_config_from(values))


def _render(event: DeviceEvent, as_json: bool) -> None:
    if as_json:
        emit_json_line({"event": type(event).__name__, **{k: v for k, v in vars(event).items()}})
        return
    if isinstance(event, PairingWindowChanged):
        say(f"pairing window {'open' if event.open else 'closed'} ({event.reason})")
    elif isinstance(event, ShowPin):
        say(f"pairing code: {event.text}  (valid {event.valid_s:.0f} s)")
    elif isinstance(event, Paired):
        say(f"paired with {event.name} ({event.role}) {event.fingerprint[:12]}…")
    elif isinstance(event, PairingFailed):
        say(f"pairing attempt failed: {event.reason}")
    elif isinstance(event, LockedOut):
        say("too many failed attempts: pairing locked for a while")


async def _run(args: argparse.Namespace) -> int:
    device = _make_device(_values(args))
    device.subscribe(lambda ev: _render(ev, args.json))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await device.start()
    info = {
        "name": device.instance_name,
        "port": device.port,
        "fp": device.fingerprint,
        "state_dir": str(device.config.state_dir),
    }
    if args.json:
        emit_json_line({"event": "serving", **info})
    else:
        say(f"device {info['name']!r} serving on UDP port {info['port']}")
        say(f"fingerprint {info['fp']}")
        if device.config.pairing_mode.value == "sticker":
            say(f"discriminator {device.factory.discriminator} (`device-sdk provision` shows the sticker)")
    try:
        await stop.wait()
    finally:
        await device.stop()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
