"""`device-sdk doctor`: checks of the machine a device or controller runs on."""

from __future__ import annotations

import argparse
import os
import socket
import stat
import struct
from pathlib import Path
from typing import Any

import ifaddr

from .common import default_state_dir
from .render import emit_json, say

MDNS_GROUP = "224.0.0.251"


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("doctor", help="check interfaces, multicast, ports, pin factory, avahi, state dir")
    p.add_argument("--state-dir", type=Path, help="state directory to check")
    p.add_argument("--port", type=int, default=0, help="UDP port the device will use")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_doctor)


def _check(name: str, ok: bool, detail: str) -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": detail}


def _interfaces() -> dict[str, Any]:
    names = []
    for adapter in ifaddr.get_adapters():
        addrs = [a.ip if isinstance(a.ip, str) else a.ip[0] for a in adapter.ips]
        names.append(f"{adapter.nice_name}: {', '.join(str(x) for x in addrs)}")
    return _check("interfaces", bool(names), "; ".join(names) or "no interfaces")


def _multicast() -> dict[str, Any]:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if hasattr(socket, "SO_REUSEPORT"):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(("", 5353))
            mreq = struct.pack("4s4s", socket.inet_aton(MDNS_GROUP), socket.inet_aton("0.0.0.0"))
            s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        return _check("multicast", True, "joined 224.0.0.251 on UDP 5353 (shared with other mDNS stacks)")
    except OSError as exc:
        return _check("multicast", False, f"cannot join the mDNS group: {exc.strerror}")


def _udp_port(port: int) -> dict[str, Any]:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::", port))
            bound = s.getsockname()[1]
        return _check("udp port", True, f"UDP port {bound} can be bound")
    except OSError as exc:
        return _check("udp port", False, f"UDP port {port}: {exc.strerror}")


def _pin_factory() -> dict[str, Any]:
    from ..errors import HardwareError
    from ..hardware import select_pin_factory

    try:
        factory = select_pin_factory(None)
        return _check("pin factory", True, type(factory).__name__)
    except HardwareError as exc:
        return _check("pin factory", False, str(exc))


def _avahi() -> dict[str, Any]:
    running = (
        any(
            (Path("/proc") / pid / "comm").read_text().strip() == "avahi-daemon"
            for pid in os.listdir("/proc")
            if pid.isdigit() and (Path("/proc") / pid / "comm").exists()
        )
        if Path("/proc").is_dir()
        else False
    )
    detail = "avahi-daemon is running beside us (fine: both share UDP 5353)" if running else "no avahi-daemon"
    return _check("avahi", True, detail)


def _state_dir(path: Path) -> dict[str, Any]:
    if not path.exists():
        return _check("state dir", True, f"{path} does not exist yet (created 0700 at first start)")
    bad = []
    for entry in [path, *path.iterdir()]:
        mode = stat.S_IMODE(entry.stat().st_mode)
        if mode & 0o077:
            bad.append(f"{entry.name} {oct(mode)}")
    if bad:
        return _check("state dir", False, f"{path}: readable by others: {', '.join(bad)}")
    return _check("state dir", True, f"{path}: private")


def cmd_doctor(args: argparse.Namespace) -> int:
    state_dir = args.state_dir or default_state_dir("device")
    checks = [
        _interfaces(),
        _multicast(),
        _udp_port(args.port),
        _pin_factory(),
        _avahi(),
        _state_dir(state_dir),
    ]
    if args.json:
        emit_json(checks)
    else:
        for c in checks:
            say(f"{'ok  ' if c['ok'] else 'FAIL'} {c['check']:12} {c['detail']}")
    return 0 if all(c["ok"] for c in checks) else 1
