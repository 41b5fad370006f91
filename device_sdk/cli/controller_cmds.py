"""The controller side of the CLI: discover, pair, peers, unpair, info, watch, set, do."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ..config import ControllerConfig
from ..controller import Controller, DeviceTarget
from ..device_connection import DeviceConnection
from ..discovery import DiscoveredDevice
from ..errors import ChannelError, DeviceNotFound, DeviceSDKError
from ..identity import fingerprint_text
from .common import default_state_dir
from .render import emit_json, emit_json_line, note, say


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", type=Path, help="the controller's state directory")
    common.add_argument("--name", default="device-sdk cli", help="this controller's name")
    common.add_argument("--interface", action="append", dest="interfaces", help="browse on this interface")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument(
        "--ready-file", type=Path, help="reach the device through its ready file instead of mDNS (tests)"
    )

    p = sub.add_parser("discover", parents=[common], help="list devices on the network")
    p.add_argument("--timeout", type=float, default=3.0)
    p.add_argument("--pairable", action="store_true", help="only devices with an open pairing window")
    p.set_defaults(func=_wrap(cmd_discover))

    p = sub.add_parser("pair", parents=[common], help="pair with a device by its setup code")
    p.add_argument("device", help="name, fingerprint prefix or discriminator ('-' finds it by the code)")
    p.add_argument("code", help="MT: QR text, manual code or passcode; 0 for button mode; 'pin' to type one")
    p.set_defaults(func=_wrap(cmd_pair))

    p = sub.add_parser("peers", parents=[common], help="list paired devices")
    p.set_defaults(func=_wrap(cmd_peers))

    p = sub.add_parser("info", parents=[common], help="agent-info and channel catalog of a paired device")
    p.add_argument("device")
    p.set_defaults(func=_wrap(cmd_info))

    p = sub.add_parser("watch", parents=[common], help="stream a sensor or input channel")
    p.add_argument("device")
    p.add_argument("channel")
    p.add_argument("--count", type=int, help="stop after this many readings")
    p.add_argument("--min-interval-ms", type=int)
    p.add_argument("--follow", action="store_true", help="when the device goes away, wait for it and go on watching")
    p.set_defaults(func=_wrap(cmd_watch, on_stop=0))

    p = sub.add_parser("set", parents=[common], help='set an actuator (VALUE is JSON: true, 0.5, "text")')
    p.add_argument("device")
    p.add_argument("channel")
    p.add_argument("value")
    p.set_defaults(func=_wrap(cmd_set))

    p = sub.add_parser("do", parents=[common], help="run an actuator action")
    p.add_argument("device")
    p.add_argument("channel")
    p.add_argument("action")
    p.set_defaults(func=_wrap(cmd_do))


INTERRUPTED = 130
"""Exit code of a command stopped by Ctrl-C or SIGTERM before it finished (128 + SIGINT)."""


def _wrap(
    fn: Callable[[Controller, argparse.Namespace], Awaitable[int]],
    *,
    on_stop: int = INTERRUPTED,
) -> Callable[[argparse.Namespace], int]:
    """A command run in its own event loop; SIGINT/SIGTERM end it cleanly with exit code ``on_stop``
    (0 for ``watch``, which runs until stopped)."""

    def run(args: argparse.Namespace) -> int:
        async def main() -> int:
            task = asyncio.current_task()
            assert task is not None
            stopped = False

            def stop() -> None:
                nonlocal stopped
                stopped = True
                task.cancel()

            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop)
            config = ControllerConfig(
                state_dir=args.state_dir or default_state_dir("controller"),
                name=args.name,
                interfaces=tuple(args.interfaces) if args.interfaces else None,
            )
            try:
                async with Controller(config) as ctl:
                    return await fn(ctl, args)
            except asyncio.CancelledError:
                if not stopped:
                    raise
                task.uncancel()
                return on_stop

        return asyncio.run(main())

    return run


def _device_json(d: DiscoveredDevice) -> dict[str, Any]:
    return {
        "name": d.display_name,
        "addresses": list(d.addresses),
        "port": d.port,
        "fp": d.txt.fp,
        "discriminator": d.txt.d,
        "cm": int(d.txt.cm),
        "mv": d.txt.mv,
        "sn": d.txt.sn,
    }


async def cmd_discover(ctl: Controller, args: argparse.Namespace) -> int:
    found = await ctl.discover(args.timeout, pairable_only=args.pairable)
    if args.json:
        emit_json([_device_json(d) for d in found])
        return 0
    if not found:
        say("no devices found")
    for d in found:
        window = "pairing window open" if d.txt.cm else "paired/closed"
        say(
            f"{d.display_name:30} {d.addresses[0] if d.addresses else '-':>15}:{d.port:<5} "
            f"d={d.txt.d if d.txt.d is not None else '-':<4} {window}  fp {d.txt.fp[:12]}…"
        )
    return 0


async def _target(ctl: Controller, args: argparse.Namespace, code: str | None = None) -> Any:
    if args.ready_file:
        return DeviceTarget.from_ready_file(args.ready_file)
    try:
        if args.device == "-" and code is not None:
            return await ctl.find_for_code(code)
        return await ctl.find(args.device)
    except DeviceNotFound:
        what = "with an open pairing window for this code" if args.device == "-" else f"matching {args.device!r}"
        raise DeviceNotFound(
            f"no device {what} found on the network (by name, fingerprint prefix or discriminator)"
        ) from None


async def _read_line(prompt: str) -> str:
    """A line typed on stdin, read by a daemon thread with ``os.read`` so that Ctrl-C at the prompt
    ends the command at once: ``asyncio.to_thread(input)`` keeps ``asyncio.run`` waiting for the
    blocked thread, and a daemon thread blocked in ``input()`` holds the stdin buffer's lock, which
    aborts the interpreter at exit."""
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def deliver(line: str | None) -> None:
        if answer.done():
            return
        if line is None:
            answer.set_exception(DeviceSDKError("no code was typed (end of input)"))
        else:
            answer.set_result(line)

    def read() -> None:
        data = b""
        with contextlib.suppress(OSError):
            while not data.endswith(b"\n"):
                chunk = os.read(fd, 256)
                if not chunk:
                    break
                data += chunk
        line = data.decode(errors="replace").strip() if data else None
        with contextlib.suppress(RuntimeError):  # the loop is gone: the command ended meanwhile
            loop.call_soon_threadsafe(deliver, line)

    fd = sys.stdin.fileno()
    sys.stderr.write(prompt)  # not stdout: that holds the --json document
    sys.stderr.flush()
    threading.Thread(target=read, name="pin-prompt", daemon=True).start()
    return await answer


async def cmd_pair(ctl: Controller, args: argparse.Namespace) -> int:
    code: str | None = args.code
    ask = None
    if code == "pin":
        code = None

        async def ask_pin() -> str:
            return await _read_line("code shown on the device: ")

        ask = ask_pin
    target = await _target(ctl, args, code)
    conn = await ctl.pair(target, code, ask_pin=ask)
    await conn.close()
    out = {"paired": True, "name": conn.name, "fp": fingerprint_text(conn.fingerprint)}
    if args.json:
        emit_json(out)
    else:
        say(f"paired with {conn.name} (fingerprint {out['fp']})")
    return 0


async def cmd_peers(ctl: Controller, args: argparse.Namespace) -> int:
    peers = ctl.peers()
    rows = [
        {
            "name": p.name,
            "fp": fingerprint_text(p.fingerprint),
            "discriminator": p.discriminator,
            "addresses": list(p.addresses),
            "port": p.port,
            "paired_at": p.paired_at,
        }
        for p in peers
    ]
    if args.json:
        emit_json(rows)
    elif not rows:
        say("no paired devices")
    else:
        for r in rows:
            d = r["discriminator"] if r["discriminator"] is not None else "-"
            say(f"{r['name']!s:30} fp {str(r['fp'])[:12]}…  d={d}")
    return 0


async def _connect(ctl: Controller, args: argparse.Namespace) -> DeviceConnection:
    if args.ready_file:
        return await ctl.connect(DeviceTarget.from_ready_file(args.ready_file))
    return await ctl.connect(args.device)


async def cmd_info(ctl: Controller, args: argparse.Namespace) -> int:
    conn = await _connect(ctl, args)
    try:
        info = await conn.agent_info()
        catalog = await conn.catalog()
    finally:
        await conn.close()
    out = {
        "name": info.display_name,
        "model": info.model_name,
        "capabilities": list(info.capabilities),
        "locales": list(info.locales),
        "channels": [c.to_frame() for c in catalog.channels],
    }
    if args.json:
        emit_json(out)
    else:
        say(f"{info.display_name} ({info.model_name})")
        for c in catalog.channels:
            unit = f" [{c.unit}]" if c.unit else ""
            say(f"  {c.kind:8} {c.name:20} {c.type}{unit}")
    return 0


async def cmd_watch(ctl: Controller, args: argparse.Namespace) -> int:
    seen = [0]
    if not args.follow:
        conn = await _connect(ctl, args)
        try:
            await _watch(conn, args, seen)
        finally:
            await conn.close()
        return 0
    device: str | DeviceTarget = DeviceTarget.from_ready_file(args.ready_file) if args.ready_file else args.device
    async for conn in ctl.connections(device):
        try:
            if await _watch(conn, args, seen):
                break
        except ChannelError as exc:
            if not conn.closed:
                raise
            note(f"connection lost ({exc}); waiting for the device to come back")
    return 0


async def _watch(conn: DeviceConnection, args: argparse.Namespace, seen: list[int]) -> bool:
    """Print readings until ``--count`` is reached (True) or the channel ends."""
    catalog = await conn.catalog()
    kind = catalog[args.channel].kind if catalog.get(args.channel) else "sensor"
    source = (
        conn.input(args.channel)
        if kind == "input"
        else conn.subscribe(args.channel, min_interval_ms=args.min_interval_ms)
    )
    async for reading in source:
        if args.json:
            emit_json_line({"s": reading.seq, "t": reading.t, "v": reading.value})
        else:
            say(f"{args.channel} = {reading.value}  (#{reading.seq})")
        seen[0] += 1
        if args.count is not None and seen[0] >= args.count:
            return True
    return False


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


async def cmd_set(ctl: Controller, args: argparse.Namespace) -> int:
    conn = await _connect(ctl, args)
    try:
        state = await conn.set(args.channel, _parse_value(args.value))
    finally:
        await conn.close()
    if args.json:
        emit_json({"channel": args.channel, "v": state})
    else:
        say(f"{args.channel} = {state}")
    return 0


async def cmd_do(ctl: Controller, args: argparse.Namespace) -> int:
    conn = await _connect(ctl, args)
    try:
        state = await conn.do(args.channel, args.action)
    finally:
        await conn.close()
    if args.json:
        emit_json({"channel": args.channel, "action": args.action, "v": state})
    else:
        say(f"{args.channel}: {args.action} done" + (f" -> {state}" if state is not None else ""))
    return 0
