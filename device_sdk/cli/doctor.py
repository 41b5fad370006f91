"""`device-sdk doctor`: checks of the machine a device or controller runs on.

Every check ends as one line, ``ok`` or ``FAIL`` with what to do; none raises. With ``--board`` the
pin-factory check judges what that board needs; with ``--interface`` the network checks look at those
interfaces only.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import stat
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DeviceSDKError, HardwareError
from .common import default_state_dir, state_dir_problem, whole_number
from .render import emit_json, say

MDNS_GROUP = "224.0.0.251"
PI_MODEL_FILE = Path("/proc/device-tree/model")

if TYPE_CHECKING:  # ifaddr, zeroconf and gpiozero are imported when the doctor runs, not by the CLI
    import ifaddr


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="check interfaces, multicast, ports, pin factory, avahi, state dir")
    p.add_argument("--state-dir", type=Path, help="state directory to check")
    p.add_argument("--port", type=whole_number, default=0, help="UDP port the device will use")
    p.add_argument("--board", help="the board profile the device will run (sim, pi-4b, ./my.toml): check its pins")
    p.add_argument(
        "--interface", action="append", dest="interfaces", help="check this interface (repeatable; default: all)"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_doctor)


def _check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": detail}


def _addresses(adapter: ifaddr.Adapter) -> list[str]:
    return [str(a.ip if isinstance(a.ip, str) else a.ip[0]) for a in adapter.ips]


def _interfaces(chosen: Sequence[str] | None) -> tuple[dict[str, Any], list[str]]:
    """The interfaces check, and the IPv4 addresses multicast should be tried on (empty: any)."""
    import ifaddr

    from ..discovery.interfaces import resolve_interfaces

    adapters = list(ifaddr.get_adapters())
    if chosen is None:
        names = [f"{a.nice_name}: {', '.join(_addresses(a))}" for a in adapters]
        v4 = [str(ip.ip) for a in adapters for ip in a.ips if isinstance(ip.ip, str)]
        return _check("interfaces", bool(names), "; ".join(names) or "no network interfaces"), v4
    try:
        resolved = resolve_interfaces(chosen)
    except DeviceSDKError as exc:
        return _check("interfaces", False, str(exc)), []
    v4 = [e for e in resolved.zeroconf_interfaces if isinstance(e, str)]
    detail = f"{', '.join(chosen)}: {', '.join(resolved.host_addresses) or 'no addresses'}"
    return _check("interfaces", bool(resolved.host_addresses), detail), v4


def _multicast(addresses: Sequence[str]) -> dict[str, Any]:
    """Join the mDNS group on UDP 5353 on each IPv4 address (as zeroconf does); ok when one joins."""
    joined, failed = [], []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if hasattr(socket, "SO_REUSEPORT"):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(("", 5353))
            for address in addresses:
                mreq = struct.pack("4s4s", socket.inet_aton(MDNS_GROUP), socket.inet_aton(address))
                try:
                    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
                except OSError:
                    failed.append(address)
                else:
                    joined.append(address)
    except OSError:
        return _check("multicast", False, "cannot open UDP port 5353 for mDNS: another program holds it exclusively")
    if not joined:
        where = f" on {', '.join(addresses)}" if addresses else " (no IPv4 address)"
        return _check(
            "multicast",
            False,
            f"cannot join the mDNS group{where}: devices could not be discovered; "
            "check that the interface is up and allows multicast",
        )
    detail = f"joined {MDNS_GROUP} on UDP 5353 on {', '.join(joined)} (shared with other mDNS stacks)"
    if failed:
        detail += f"; not on {', '.join(failed)}"
    return _check("multicast", True, detail)


def _udp_port(port: int) -> dict[str, Any]:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::", port))
            bound = s.getsockname()[1]
        return _check("udp port", True, f"UDP port {bound} can be bound")
    except OSError:
        return _check(
            "udp port", False, f"UDP port {port} cannot be bound (in use, or privileged): choose another with --port"
        )


def _on_a_pi() -> bool:
    with contextlib.suppress(OSError):
        return "raspberry pi" in PI_MODEL_FILE.read_text(errors="replace").lower()
    return False


def _pin_factory(board: str | None) -> dict[str, Any]:
    """Whether the pins ``board`` needs can be driven here (without a board: whether any GPIO can)."""
    from ..hardware import load_profile, select_pin_factory
    from ..hardware.pins import ENV_VAR

    wanted: str | None = None
    if board is not None:
        try:
            profile = load_profile(board)
        except DeviceSDKError as exc:
            return _check("pin factory", False, str(exc))
        if profile.simulated:
            return _check("pin factory", True, f"board {profile.name!r} runs on simulated pins: none needed")
        wanted = profile.pin_factory
    env = os.environ.get(ENV_VAR)
    if (env or wanted or "").strip().lower() == "mock":
        return _check("pin factory", True, f"mock pins ({ENV_VAR}={env})" if env else "mock pins")
    try:
        factory = select_pin_factory(None, default=wanted)
    except HardwareError as exc:
        if board is None and not _on_a_pi():
            return _check(
                "pin factory",
                True,
                "no GPIO here (not a Raspberry Pi): only the simulated board runs (give --board to check another)",
            )
        return _check("pin factory", False, str(exc) if board is None else f"board {board!r}: {exc}")
    name = type(factory).__name__
    with contextlib.suppress(Exception):
        factory.close()
    return _check("pin factory", True, name if board is None else f"{name} for board {board!r}")


def _avahi() -> dict[str, Any]:
    running = False
    with contextlib.suppress(OSError):
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                with contextlib.suppress(OSError):
                    if (Path("/proc") / pid / "comm").read_text().strip() == "avahi-daemon":
                        running = True
                        break
    detail = "avahi-daemon is running beside us (fine: both share UDP 5353)" if running else "no avahi-daemon"
    return _check("avahi", True, detail)


def _state_dir(path: Path) -> dict[str, Any]:
    problem = state_dir_problem(path)
    if problem is not None:
        return _check("state dir", False, problem)
    if not path.exists():
        return _check("state dir", True, f"{path} does not exist yet (created 0700 at first start)")
    bad = []
    try:
        for entry in [path, *path.iterdir()]:
            mode = stat.S_IMODE(entry.lstat().st_mode)
            if mode & 0o077:
                bad.append(f"{entry.name} {oct(mode)}")
    except OSError:
        return _check("state dir", False, f"{path} cannot be read by this user: fix its owner or mode")
    if bad:
        return _check("state dir", False, f"{path}: readable by others: {', '.join(bad)} (chmod -R go= it)")
    return _check("state dir", True, f"{path}: private")


def cmd_doctor(args: argparse.Namespace) -> int:
    state_dir = args.state_dir or default_state_dir("device")
    interfaces, addresses = _interfaces(args.interfaces)
    checks = [
        interfaces,
        _multicast(addresses),
        _udp_port(args.port),
        _pin_factory(args.board),
        _avahi(),
        _state_dir(state_dir),
    ]
    if args.json:
        emit_json(checks)
    else:
        for c in checks:
            say(f"{'ok  ' if c['ok'] else 'FAIL'} {c['check']:12} {c['detail']}")
    return 0 if all(c["ok"] for c in checks) else 1
