"""The controller side of the CLI: discover, pair, peers, unpair, info, watch, set, do, listen."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import (
    ActuatorError,
    ChannelError,
    ChannelOpenFailed,
    ConfigError,
    ConnectionClosed,
    DeviceNotFound,
    DeviceSDKError,
    TransportError,
)
from ..identity import fingerprint_text
from ..pairing.setup_code import parse_setup_code
from ..pairing.trust import PinnedDevice
from ..wire import CloseCode
from .common import non_negative, positive_count, seconds, usable_state_dir
from .messages import ErrorContext, channel_misuse, unknown
from .render import emit_json, emit_json_line, is_terminal, note, say

if TYPE_CHECKING:  # the controller side is imported when a command runs: `device-sdk run` loads none of it
    from ..channels import Catalog, ChannelDescriptor, StreamFormat
    from ..controller import Controller, DeviceConnection, DeviceTarget
    from ..controller.recording import StreamRecorder
    from ..discovery import DiscoveredDevice


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
    p.add_argument("--timeout", type=seconds, default=3.0, help="how long to listen (default 3 s)")
    p.add_argument("--pairable", action="store_true", help="only devices with an open pairing window")
    p.set_defaults(func=controller_command(cmd_discover))

    p = sub.add_parser("pair", parents=[common], help="pair with a device by its setup code")
    p.add_argument("device", help="name, fingerprint prefix or discriminator ('-' finds it by the code)")
    p.add_argument("code", help="MT: QR text, manual code or passcode; 0 for button mode; 'pin' to type one")
    p.set_defaults(func=controller_command(cmd_pair))

    p = sub.add_parser("peers", parents=[common], help="list paired devices")
    p.set_defaults(func=controller_command(cmd_peers))

    p = sub.add_parser("info", parents=[common], help="agent-info and channel catalog of a paired device")
    p.add_argument("device")
    p.set_defaults(func=controller_command(cmd_info))

    p = sub.add_parser(
        "watch", parents=[common], help="show a sensor's or input's readings, or an actuator's state as it changes"
    )
    _device_and_channel(p)
    p.add_argument("--count", type=positive_count, help="stop after this many readings")
    p.add_argument("--min-interval-ms", type=non_negative, help="at most one reading per this many ms")
    p.add_argument("--follow", action="store_true", help="when the device goes away, wait for it and go on watching")
    p.set_defaults(func=controller_command(cmd_watch, on_stop=0))

    p = sub.add_parser("set", parents=[common], help='set an actuator (VALUE is JSON: true, 0.5, "text")')
    _device_and_channel(p)
    p.add_argument("value")
    p.set_defaults(func=controller_command(cmd_set))

    p = sub.add_parser("do", parents=[common], help="run an actuator action")
    _device_and_channel(p)
    p.add_argument("action")
    p.set_defaults(func=controller_command(cmd_do))

    p = sub.add_parser(
        "listen",
        parents=[common],
        help="save a byte stream (WAV for PCM audio, raw bytes otherwise) to a file or to stdout",
    )
    _device_and_channel(p)
    p.add_argument("--out", type=Path, help="write here (default: stdout, e.g. piped into a player)")
    p.add_argument("--seconds", type=seconds, help="stop after this much of the stream (default: until Ctrl-C)")
    p.add_argument("--raw", action="store_true", help="write the bytes as they come, even for PCM audio")
    p.set_defaults(func=controller_command(cmd_listen, on_stop=0))


def _device_and_channel(p: argparse.ArgumentParser) -> None:
    p.add_argument("device", help="name, fingerprint prefix or discriminator of a paired device")
    p.add_argument("channel", help="a channel of its catalog (`device-sdk info DEVICE` lists them)")


INTERRUPTED = 130
"""Exit code of a command stopped by Ctrl-C or SIGTERM before it finished (128 + SIGINT)."""


def controller_command(
    fn: Callable[[Controller, argparse.Namespace], Awaitable[int]],
    *,
    on_stop: int = INTERRUPTED,
) -> Callable[[argparse.Namespace], int]:
    """A command run in its own event loop; SIGINT/SIGTERM end it cleanly with exit code ``on_stop``
    (0 for ``watch`` and ``listen``, which run until stopped)."""

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
            from ..controller import Controller, ControllerConfig

            config = ControllerConfig(
                state_dir=usable_state_dir(args.state_dir, "controller"),
                name=args.name,
                interfaces=tuple(args.interfaces) if args.interfaces else None,
            )
            try:
                async with Controller(config) as ctl:
                    context(args).devices = [p.name for p in ctl.peers()]
                    return await fn(ctl, args)
            except asyncio.CancelledError:
                if not stopped:
                    raise
                task.uncancel()
                return on_stop

        return asyncio.run(main())

    return run


def from_ready_file(path: Path) -> DeviceTarget:
    """The device whose ready file is at ``path`` (``--ready-file``)."""
    from ..controller import DeviceTarget

    return DeviceTarget.from_ready_file(path)


def context(args: argparse.Namespace) -> ErrorContext:
    """The command's error context (created by ``main``; a fresh one when called otherwise)."""
    ctx = getattr(args, "context", None)
    if not isinstance(ctx, ErrorContext):
        ctx = args.context = ErrorContext(device=getattr(args, "device", None))
    return ctx


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
        return from_ready_file(args.ready_file)
    ctx = context(args)
    try:
        if args.device == "-" and code is not None:
            return await ctl.find_for_code(code)
        found = await ctl.find(args.device)
    except DeviceNotFound:
        browser = await ctl.browser()
        ctx.devices = sorted({*ctx.devices, *(d.display_name for d in browser.devices.values())})
        if args.device == "-":
            raise DeviceNotFound(
                "no device with an open pairing window matches this setup code on the network: "
                "check that it is switched on and its window is open (press its pairing button)"
            ) from None
        raise DeviceNotFound(
            unknown(
                f"no device called {args.device!r} answered on the network",
                args.device,
                ctx.devices,
                ": `device-sdk discover` lists the devices it can see",
            )
        ) from None
    ctx.device = found.display_name
    return found


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
    context(args).code = code
    ask = None
    if code == "pin":
        code = None

        async def ask_pin() -> str:
            return await _read_line("code shown on the device: ")

        ask = ask_pin
    elif code is not None and code.strip() != "0":
        parse_setup_code(code)  # a mistyped code is reported before the network is searched
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


def _pinned(ctl: Controller, args: argparse.Namespace) -> PinnedDevice:
    """The paired device the user named; DeviceNotFound with the closest names when none is."""
    ctx = context(args)
    try:
        pinned = ctl.pins.find(args.device)
    except DeviceNotFound:
        raise DeviceNotFound(
            unknown(
                f"no paired device is called {args.device!r}",
                args.device,
                ctx.devices,
                ": `device-sdk peers` lists the paired ones, `device-sdk pair` adds one",
            )
        ) from None
    ctx.device = pinned.name
    return pinned


async def connect_device(ctl: Controller, args: argparse.Namespace) -> DeviceConnection:
    """A connection to the paired device the command names (or its ready file), as every command that
    uses one device makes it (the admin commands too)."""
    if args.ready_file:
        target = from_ready_file(args.ready_file)
        context(args).device = target.name
        return _watch_closure(await ctl.connect(target), args)
    pinned = _pinned(ctl, args)
    try:
        return _watch_closure(await ctl.connect(pinned), args)
    except DeviceNotFound:
        raise DeviceNotFound(
            f"{pinned.name} is paired but was not found on the network: check that it is switched on "
            "and on this network (or choose the interface with --interface)"
        ) from None


def _watch_closure(conn: DeviceConnection, args: argparse.Namespace) -> DeviceConnection:
    """Keep how ``conn`` ends in the error context: a channel that fails because the device closed the
    connection is then explained by why it closed it."""
    ctx = context(args)

    def ended(closed: asyncio.Future[ConnectionClosed]) -> None:
        if closed.cancelled() or closed.exception() is not None:
            return
        why = closed.result()
        if why.by_peer or why.code != CloseCode.NORMAL:  # not the command's own close when it is done
            ctx.closed = why

    conn.agent.closed.add_done_callback(ended)
    return conn


async def _catalog(conn: DeviceConnection, args: argparse.Namespace) -> Catalog:
    """The device's channels, kept in the error context for the messages."""
    catalog = await conn.catalog()
    context(args).catalog = catalog
    return catalog


async def _channel(conn: DeviceConnection, args: argparse.Namespace, kinds: tuple[str, ...]) -> ChannelDescriptor:
    """The descriptor of ``args.channel`` when it is one of ``kinds``; else the sentence saying why not."""
    catalog = await _catalog(conn, args)
    found = catalog.get(args.channel)
    if found is None or found.kind not in kinds:
        raise ChannelError(channel_misuse(context(args).device or conn.name, args.channel, catalog))
    return found


async def cmd_info(ctl: Controller, args: argparse.Namespace) -> int:
    conn = await connect_device(ctl, args)
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
        conn = await connect_device(ctl, args)
        try:
            await _watch(conn, args, seen)
        finally:
            await conn.close()
        return 0
    device: DeviceTarget | PinnedDevice = from_ready_file(args.ready_file) if args.ready_file else _pinned(ctl, args)
    name = context(args).device = device.name
    lost = False
    async for conn in ctl.connections(device):
        if lost:
            note(f"{name} is back; watching {args.channel!r} again")
            lost = False
        try:
            if await _watch(conn, args, seen):
                break
        except TransportError:
            pass  # the connection failed (lost contact, closed by the device, no answer): wait for it
        except ChannelError:
            if not conn.closed:
                raise  # the channel ended on a live connection (the channel was removed): no loss of contact
        else:
            continue  # the channel ended with the connection still up: open it again
        lost = True
        note(f"lost contact with {name}; waiting for it to come back")
        if not conn.closed:
            await conn.close()
    return 0


async def _watch(conn: DeviceConnection, args: argparse.Namespace, seen: list[int]) -> bool:
    """Print readings (or an actuator's confirmed states) until ``--count`` is reached (True) or the
    channel ends (False)."""
    channel = await _channel(conn, args, ("sensor", "input", "actuator"))
    async for seq, t, value in _watched(conn, channel, args):
        if args.json:
            emit_json_line({"s": seq, "t": t, "v": value} if seq is not None else {"t": t, "v": value})
        else:
            say(f"{args.channel} = {_show(value)}" + (f"  (#{seq})" if seq is not None else ""))
        seen[0] += 1
        if args.count is not None and seen[0] >= args.count:
            return True
    return False


async def _watched(
    conn: DeviceConnection, channel: ChannelDescriptor, args: argparse.Namespace
) -> AsyncGenerator[tuple[int | None, float | None, Any], None]:
    """``(seq, t, value)`` of each reading of a sensor or input, or ``(None, t, state)`` of each state
    an actuator confirms (its current state first)."""
    if channel.kind == "actuator":
        async with contextlib.aclosing(conn.actuator_states(channel.name)) as states:
            async for state in states:
                yield None, state.t, state.value
        return
    if channel.kind == "input":
        source = conn.input(channel.name)
    else:
        source = conn.subscribe(channel.name, min_interval_ms=args.min_interval_ms)
    async with contextlib.aclosing(source) as readings:
        async for reading in readings:
            yield reading.seq, reading.t, reading.value


def _show(value: Any) -> str:
    """A value as a person reads it: JSON for true/false/null, text as it is."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return str(value)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


async def _request(conn: DeviceConnection, args: argparse.Namespace, call: Awaitable[Any]) -> Any:
    """Run an actuator request; a refused channel is explained with the device's catalog."""
    try:
        return await call
    except ChannelOpenFailed:
        with contextlib.suppress(DeviceSDKError):
            await _catalog(conn, args)  # for the message: which channel was meant, and of what kind
        raise


async def cmd_set(ctl: Controller, args: argparse.Namespace) -> int:
    conn = await connect_device(ctl, args)
    try:
        state = await _request(conn, args, conn.set(args.channel, _parse_value(args.value)))
    finally:
        await conn.close()
    if args.json:
        emit_json({"channel": args.channel, "v": state})
    else:
        say(f"{args.channel} = {_show(state)}")
    return 0


async def cmd_do(ctl: Controller, args: argparse.Namespace) -> int:
    conn = await connect_device(ctl, args)
    try:
        try:
            state = await _request(conn, args, conn.do(args.channel, args.action))
        except ActuatorError as exc:
            if exc.code != "unknown-op":
                raise
            channel = await _channel(conn, args, ("actuator",))
            actions = channel.actions
            listed = f"; its actions are {', '.join(repr(a) for a in actions)}" if actions else "; it has no actions"
            raise ChannelError(
                unknown(f"{conn.name}'s {args.channel!r} has no action {args.action!r}", args.action, actions, listed)
            ) from None
    finally:
        await conn.close()
    if args.json:
        emit_json({"channel": args.channel, "action": args.action, "v": state})
    else:
        say(f"{args.channel}: {args.action} done" + (f" -> {_show(state)}" if state is not None else ""))
    return 0


async def cmd_listen(ctl: Controller, args: argparse.Namespace) -> int:
    if args.out is None and is_terminal():
        raise ConfigError(
            "give --out FILE to save the stream, or pipe the output into a player (`... | aplay -f S16_LE -r 16000`)"
        )
    conn = await connect_device(ctl, args)
    try:
        channel = await _channel(conn, args, ("stream",))
        recorder: StreamRecorder | None = None
        try:
            async with contextlib.aclosing(conn.stream(channel.name)) as chunks:
                async for chunk in chunks:
                    if recorder is None:
                        from ..controller.recording import format_from_catalog

                        fmt = conn.stream_format(channel.name) or format_from_catalog(channel)
                        recorder = _recorder(args, fmt)
                    if recorder.write(chunk.data):
                        break
        finally:
            if recorder is not None:
                recorder.close()
                _report_saved(args, recorder)
    finally:
        await conn.close()
    return 0


def _recorder(args: argparse.Namespace, fmt: StreamFormat | None) -> StreamRecorder:
    from ..controller.recording import StreamRecorder

    if args.out is not None:
        return StreamRecorder.to_file(args.out, fmt, seconds=args.seconds, raw=args.raw)
    return StreamRecorder.to_stream(sys.stdout.buffer, fmt, seconds=args.seconds)


def _report_saved(args: argparse.Namespace, recorder: StreamRecorder) -> None:
    where = f" to {args.out}" if args.out is not None else ""
    summary = f"saved {recorder.describe()}{where}"
    if args.json and args.out is not None:
        emit_json({"out": str(args.out), **recorder.summary()})
    else:
        note(summary)
