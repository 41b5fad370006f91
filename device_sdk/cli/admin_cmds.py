"""The CLI's commands that manage a paired device: its controllers, its pairing window, its name, and
unpairing (both sides).

    device-sdk controllers DEVICE                 # names, roles, paired and last-seen times
    device-sdk controllers DEVICE remove NAME|FP  # an admin removes another controller
    device-sdk window DEVICE open [--minutes N]   # an admin opens the pairing window
    device-sdk rename DEVICE NEW-NAME             # an admin renames the device
    device-sdk unpair DEVICE [--local-only]       # the device forgets this controller, then this side
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ActuatorError, DeviceSDKError
from ..identity import fingerprint_text
from ..pairing.trust import named_by
from .controller_cmds import connect_device, controller_command, from_ready_file
from .render import emit_json, say

if TYPE_CHECKING:  # imported when a command runs (controller_cmds.controller_command)
    from ..channels import PeerRecord
    from ..controller import Controller, DeviceConnection, DeviceTarget
    from ..pairing.trust import PinnedDevice

MIN_WINDOW_MINUTES = 3
MAX_WINDOW_MINUTES = 15


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", type=Path, help="the controller's state directory")
    common.add_argument("--name", default="device-sdk cli", help="this controller's name")
    common.add_argument("--interface", action="append", dest="interfaces", help="browse on this interface")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    common.add_argument(
        "--ready-file", type=Path, help="reach the device through its ready file instead of mDNS (tests)"
    )

    p = sub.add_parser("controllers", parents=[common], help="list a device's controllers, or remove one (admins)")
    p.add_argument("device", help="a paired device: name, fingerprint prefix or discriminator")
    p.add_argument("action", nargs="?", choices=["remove"], help="remove a controller from the device")
    p.add_argument("controller", nargs="?", help="with remove: the controller's name or fingerprint prefix")
    p.set_defaults(func=controller_command(cmd_controllers))

    p = sub.add_parser("window", parents=[common], help="open a device's pairing window (admins)")
    p.add_argument("device", help="a paired device: name, fingerprint prefix or discriminator")
    p.add_argument("action", choices=["open"])
    p.add_argument(
        "--minutes",
        type=_minutes,
        help=f"how long it stays open, {MIN_WINDOW_MINUTES}..{MAX_WINDOW_MINUTES} (default: the device's own)",
    )
    p.set_defaults(func=controller_command(cmd_window))

    p = sub.add_parser("rename", parents=[common], help="rename a device (admins)")
    p.add_argument("device", help="a paired device: name, fingerprint prefix or discriminator")
    p.add_argument("new_name", metavar="NEW-NAME")
    p.set_defaults(func=controller_command(cmd_rename))

    p = sub.add_parser("unpair", parents=[common], help="make a device forget this controller, then forget it")
    p.add_argument("device", help="a paired device: name, fingerprint prefix or discriminator")
    p.add_argument(
        "--local-only", action="store_true", help="forget the device here only, without asking it (it stays paired)"
    )
    p.set_defaults(func=controller_command(cmd_unpair))


def _minutes(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not MIN_WINDOW_MINUTES <= value <= MAX_WINDOW_MINUTES:
        raise argparse.ArgumentTypeError(f"give {MIN_WINDOW_MINUTES} to {MAX_WINDOW_MINUTES} minutes, not {text!r}")
    return value


def _when(t: float | None) -> str:
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(t))


async def _admin(conn: DeviceConnection, what: str, call: Any) -> Any:
    """Await an admin request; a "forbidden" answer becomes a sentence about roles."""
    try:
        return await call
    except ActuatorError as exc:
        if exc.code == "forbidden":
            raise DeviceSDKError(f"only an admin controller of {conn.name} can {what}") from None
        raise DeviceSDKError(f"{conn.name} could not {what}: {exc.message or exc.code}") from None


# -- controllers ---------------------------------------------------------------------------------


async def cmd_controllers(ctl: Controller, args: argparse.Namespace) -> int:
    if args.action is None and args.controller is not None:
        raise DeviceSDKError(f"to remove {args.controller!r}, run: device-sdk controllers {args.device} remove NAME")
    if args.action == "remove" and not args.controller:
        raise DeviceSDKError("name the controller to remove (its name or fingerprint prefix)")
    conn = await connect_device(ctl, args)
    try:
        peers = await _admin(conn, "list its controllers", conn.list_peers())
        if args.action == "remove":
            return await _remove(ctl, conn, peers, args)
    finally:
        await conn.close()
    me = ctl.identity.fingerprint_text
    rows = [
        {
            "name": p.name,
            "fp": p.fp,
            "role": p.role,
            "paired_at": p.paired_at,
            "last_seen": p.last_seen,
            "this_controller": p.fp == me,
        }
        for p in peers
    ]
    if args.json:
        emit_json(rows)
    elif not rows:
        say(f"{conn.name} trusts no controller")
    else:
        for r in rows:
            mark = "  (this controller)" if r["this_controller"] else ""
            say(
                f"{r['name']!s:30} {r['role']!s:5}  paired {_when(r['paired_at'])}  "
                f"last seen {_when(r['last_seen'])}  fp {str(r['fp'])[:12]}…{mark}"
            )
    return 0


async def _remove(ctl: Controller, conn: DeviceConnection, peers: list[PeerRecord], args: argparse.Namespace) -> int:
    peer = _one_controller(peers, args.controller, conn.name)
    if peer.fp == ctl.identity.fingerprint_text:
        raise DeviceSDKError(f"{peer.name!r} is this controller: to remove it, run device-sdk unpair {args.device}")
    await _admin(conn, "remove controllers", conn.remove_peer(peer.fp))
    if args.json:
        emit_json({"removed": peer.name, "fp": peer.fp})
    else:
        say(f"removed {peer.name} from {conn.name}")
    return 0


def _one_controller(peers: list[PeerRecord], query: str, device: str) -> PeerRecord:
    """The one controller ``query`` names: its exact name, its name ignoring case, or a fingerprint prefix."""
    matches = named_by(query, peers, name=lambda p: p.name, fingerprint=lambda p: p.fp)
    if len(matches) == 1:
        return matches[0]
    if matches:
        names = ", ".join(f"{p.name} ({p.fp[:8]}…)" for p in matches)
        raise DeviceSDKError(
            f"{query!r} matches {len(matches)} controllers of {device}: {names}; give a fingerprint prefix"
        )
    raise DeviceSDKError(f"no controller of {device} is named {query!r}; device-sdk controllers {device} lists them")


# -- window, rename ------------------------------------------------------------------------------


async def cmd_window(ctl: Controller, args: argparse.Namespace) -> int:
    conn = await connect_device(ctl, args)
    seconds = None if args.minutes is None else args.minutes * 60
    try:
        await _admin(conn, "open its pairing window", conn.open_pairing_window(seconds))
    finally:
        await conn.close()
    if args.json:
        emit_json({"device": conn.name, "window": "open", "minutes": args.minutes})
    else:
        length = "" if args.minutes is None else f" for {args.minutes} minutes"
        say(f"the pairing window of {conn.name} is open{length}")
    return 0


async def cmd_rename(ctl: Controller, args: argparse.Namespace) -> int:
    new_name = args.new_name.strip()
    if not new_name or len(new_name.encode()) > 255:
        raise DeviceSDKError("a device name is 1 to 255 bytes of text")
    conn = await connect_device(ctl, args)
    old = conn.name
    try:
        used = await _admin(conn, "be renamed", conn.rename(new_name))
    finally:
        await conn.close()
    name = used if isinstance(used, str) and used else new_name
    ctl.pins.update(conn.fingerprint, name=name, now=ctl.clock())
    if args.json:
        emit_json({"renamed": old, "name": name, "fp": fingerprint_text(conn.fingerprint)})
    else:
        say(f"renamed {old} to {name}")
    return 0


# -- unpair --------------------------------------------------------------------------------------


async def cmd_unpair(ctl: Controller, args: argparse.Namespace) -> int:
    device: str | DeviceTarget | PinnedDevice = args.device
    if args.ready_file:
        device = from_ready_file(args.ready_file)
    removed = await ctl.unpair(device, local_only=args.local_only)
    if args.json:
        emit_json({"unpaired": removed.name, "fp": fingerprint_text(removed.fingerprint)})
    elif args.local_only:
        say(f"forgot {removed.name} on this side only: it trusts this controller until an admin removes it")
    else:
        say(f"unpaired from {removed.name}: neither side trusts the other any more")
    return 0
