"""`device-sdk run`: the device."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..device import (
    ControllerRemoved,
    DeviceEvent,
    FactoryData,
    LockoutStarted,
    Paired,
    PairingFailed,
    PairingWindowChanged,
    PinShown,
)
from ..device.sticker import format_manual_code, sticker_text
from ..errors import ConfigError
from ..pairing.window import PairingMode
from .common import usable_state_dir, whole_number
from .render import emit_json_line, is_terminal, output_is_journal, say

if TYPE_CHECKING:  # the device (and the transport under it) is imported when `run` runs, not by the CLI
    from ..device import Device


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run a device")
    run.add_argument("--board", help="board profile name or file (sim, pi-zero-2w, pi-4b, pi-5, ./my.toml)")
    run.add_argument("--config", type=Path, help="TOML config file ([device] table of DeviceConfig fields)")
    run.add_argument("--name", help="the device's name (mDNS instance name)")
    run.add_argument("--model", help="the model name")
    run.add_argument("--state-dir", type=Path, help="state directory (default $STATE_DIRECTORY or user data dir)")
    run.add_argument("--port", type=whole_number, help="UDP port of the QUIC server (0 = any free port)")
    run.add_argument("--interface", action="append", dest="interfaces", help="advertise on this interface (repeatable)")
    run.add_argument("--pairing", choices=("sticker", "display", "button"), help="pairing mode")
    run.add_argument(
        "--setup-code", type=whole_number, help="use this setup passcode for this run (factory data are kept)"
    )
    run.add_argument(
        "--discriminator", type=whole_number, help="use this discriminator for this run (factory data are kept)"
    )
    run.add_argument("--open-window", action="store_true", help="open the pairing window at start")
    run.add_argument("--no-advertise", action="store_true", help="do not publish over mDNS")
    run.add_argument("--ready-file", type=Path, help="write port/fp/name/sn/at/cm as JSON once serving")
    run.add_argument("--json", action="store_true", help="events as JSON lines")
    run.set_defaults(func=cmd_run)


def _values(args: argparse.Namespace) -> dict[str, Any]:
    from ..device import load_config_file

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
    values["state_dir"] = usable_state_dir(
        Path(values["state_dir"]) if values.get("state_dir") is not None else None, "device"
    )
    return values


def _make_device(values: dict[str, Any]) -> Device:
    """The device. Without --name/--model it keeps its stored names; ``setup_code``/``discriminator``
    apply to this run only once factory data exist (the provisioned file is never rewritten)."""
    from ..device import Device, device_config_from

    return Device(device_config_from(values))


def _render(event: DeviceEvent, as_json: bool) -> None:
    if as_json:
        emit_json_line({"event": type(event).__name__, **{k: v for k, v in vars(event).items()}})
        return
    if isinstance(event, PairingWindowChanged):
        say(f"pairing window {'open' if event.open else 'closed'} ({event.reason})")
    elif isinstance(event, PinShown):
        say(f"pairing code: {event.text}  (valid {event.valid_s:.0f} s)")
    elif isinstance(event, Paired):
        say(f"paired with {event.name} ({event.role}) {event.fingerprint[:12]}…")
    elif isinstance(event, ControllerRemoved):
        say(f"{event.name} is no longer paired (it unpaired, or an admin removed it) {event.fingerprint[:12]}…")
    elif isinstance(event, PairingFailed):
        # a refusal tested no code and counts as no failure: say so, not "failed"
        say(f"pairing refused: {event.reason}" if event.refused else f"pairing attempt failed: {event.reason}")
    elif isinstance(event, LockoutStarted):
        say("too many failed attempts: pairing locked for a while")


def _setup_code(device: Device) -> dict[str, Any] | None:
    """The setup code the running device accepts (sticker mode), and where it comes from."""
    if device.config.pairing_mode is not PairingMode.STICKER:
        return None
    stored = FactoryData.load(device.config.state_dir)
    this_run_only = stored is None or stored.passcode != device.factory.passcode
    return {
        "qr": device.factory.qr_text,
        "manual": device.factory.manual_code,
        "source": "this run" if this_run_only else "factory data",
    }


def _show_setup_code(device: Device, code: dict[str, Any] | None) -> None:
    """The code a controller pairs with, as the sticker shows it: the QR code on a terminal, the manual
    code always. Never into the system journal (a log): there, where to find it instead."""
    mode = device.config.pairing_mode
    if mode is PairingMode.BUTTON:
        say("pairing: press the pairing button, then pair with code 0 (`device-sdk pair NAME 0`)")
        return
    if mode is PairingMode.DISPLAY:
        say("pairing: a fresh code is shown here for each attempt")
        return
    assert code is not None
    if output_is_journal():
        say(
            "setup code: on the device's sticker (`device-sdk provision --state-dir "
            f"{device.config.state_dir}` shows it; it is not written to the journal)"
        )
        return
    if is_terminal():
        say(sticker_text(device.factory.payload).rstrip("\n"))
    if code["source"] == "this run":
        say(f"setup code {format_manual_code(code['manual'])} (given for this run: the sticker's code is not accepted)")
    else:
        say(f"setup code {format_manual_code(code['manual'])} (the sticker's; `device-sdk provision` shows it too)")


async def _start(device: Device) -> None:
    try:
        await device.start()
    except OSError as exc:
        if exc.filename is not None:
            raise
        port = device.config.port
        if exc.errno == errno.EADDRINUSE:
            why = "another program uses it: choose another with --port, or 0 for any free port"
        elif exc.errno in (errno.EACCES, errno.EPERM):
            why = "ports below 1024 need privileges: choose a port above 1023, or 0 for any free port"
        else:
            why = f"the system refused ({exc.strerror or 'unknown reason'})"
        raise ConfigError(f"cannot serve on UDP port {port}: {why}") from None


async def _run(args: argparse.Namespace) -> int:
    device = _make_device(_values(args))
    device.subscribe(lambda ev: _render(ev, args.json))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await _start(device)
    info = {
        "name": device.instance_name,
        "port": device.port,
        "fp": device.fingerprint,
        "state_dir": str(device.config.state_dir),
    }
    code = _setup_code(device)
    try:
        if args.json:
            shown = code if code is not None and not output_is_journal() else None
            emit_json_line({"event": "serving", **info, "setup_code": shown})
        else:
            say(f"device {info['name']!r} serving on UDP port {info['port']}")
            say(f"fingerprint {info['fp']}")
            _show_setup_code(device, code)
        await stop.wait()
    finally:
        await device.stop()
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))
