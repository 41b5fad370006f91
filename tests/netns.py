"""Network namespaces for tests and benchmarks: isolated links where mDNS and QUIC really run.

Needs root and iproute2. Everything created here has a name unique to this process, and is removed
on exit from the context managers, even after a failure.

    with linked_namespaces() as link:             # two namespaces joined by a veth pair
        proc = link.a.popen([sys.executable, "-c", CODE])   # runs inside namespace A
        with entered(link.b):                     # sockets made here live in namespace B
            zc = AsyncZeroconf(interfaces=[link.b_addr])

Importable as ``tests.netns`` (from the repository root, as pytest and bench/ do).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ADVERTISER_CHILD",
    "AsyncChild",
    "LinkedNamespaces",
    "Namespace",
    "entered",
    "linked_namespaces",
    "namespace",
    "skip_reason",
    "start_advertiser_child",
]

_CLONE_NEWNET = 0x40000000
_counter = itertools.count(1)
_skip_reason: str | None = None
_probed = False


def skip_reason() -> str | None:
    """Why namespace tests cannot run here (not root, no ``ip``, no namespace support), or None."""
    global _probed, _skip_reason
    if _probed:
        return _skip_reason
    _probed = True
    if os.geteuid() != 0:
        _skip_reason = "network namespace tests need root"
    elif shutil.which("ip") is None:
        _skip_reason = "network namespace tests need iproute2 (`ip`)"
    else:
        name = _unique("probe")
        try:
            _ip("netns", "add", name)
        except subprocess.CalledProcessError as exc:
            _skip_reason = f"cannot create network namespaces: {exc.stderr.strip()}"
        else:
            _ip("netns", "del", name, check=False)
    return _skip_reason


def _unique(kind: str) -> str:
    return f"dsdk-{kind}-{os.getpid()}-{next(_counter)}"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True, timeout=10)


@dataclass
class Namespace:
    """A network namespace made by :func:`namespace`; processes started with :meth:`popen` are
    killed when it is removed."""

    name: str
    processes: list[subprocess.Popen[Any]] = field(default_factory=list, repr=False)

    def command(self, argv: Sequence[str]) -> list[str]:
        """``argv`` prefixed so that it runs inside this namespace (for asyncio subprocesses too)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv: Sequence[str], *, check: bool = True, timeout: float = 10) -> str:
        """Run ``argv`` inside the namespace and return its stdout (stderr in the error)."""
        result = subprocess.run(self.command(argv), capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed in {self.name}: {result.stderr.strip()}")
        return result.stdout

    def ip(self, *args: str) -> str:
        """Run ``ip -n <namespace> args...`` and return its stdout."""
        return _ip("-n", self.name, *args).stdout

    def popen(self, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` inside the namespace (``subprocess.Popen`` keyword arguments apply)."""
        kwargs.setdefault("start_new_session", True)
        proc: subprocess.Popen[Any] = subprocess.Popen(self.command(argv), **kwargs)
        self.processes.append(proc)
        return proc

    def adopt(self, proc: subprocess.Popen[Any]) -> None:
        """Kill ``proc`` (started some other way inside the namespace) on removal."""
        self.processes.append(proc)

    def set_ipv6(self, enabled: bool, interface: str = "all") -> None:
        """Enable or disable IPv6 in the namespace (``all`` and ``default``, or one interface)."""
        value = "0" if enabled else "1"
        names = ["all", "default"] if interface == "all" else [interface]
        for name in names:
            self.run(["sysctl", "-q", "-w", f"net.ipv6.conf.{name}.disable_ipv6={value}"])

    def kill_processes(self) -> None:
        """Kill (SIGKILL, whole process group) and reap every process started with :meth:`popen`."""
        for proc in self.processes:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.processes.clear()


@contextlib.contextmanager
def namespace(*, ipv6: bool = False) -> Iterator[Namespace]:
    """A fresh namespace with ``lo`` up (multicast on); IPv6 off unless ``ipv6``. Removed on exit."""
    ns = Namespace(_unique("ns"))
    _ip("netns", "add", ns.name)
    try:
        ns.set_ipv6(ipv6)
        ns.ip("link", "set", "lo", "up")
        ns.ip("link", "set", "lo", "multicast", "on")
        yield ns
    finally:
        ns.kill_processes()
        _ip("netns", "del", ns.name, check=False)


@dataclass
class LinkedNamespaces:
    """Two namespaces joined by a veth pair: ``a_if`` (``a_addr``) in ``a``, ``b_if`` (``b_addr``) in b."""

    a: Namespace
    b: Namespace
    a_if: str
    b_if: str
    a_addr: str
    b_addr: str
    prefix_len: int

    def set_a_address(self, address: str) -> None:
        """Replace namespace A's address on its veth (simulates a DHCP change)."""
        self.a.ip("addr", "flush", "dev", self.a_if)
        self.a.ip("addr", "add", f"{address}/{self.prefix_len}", "dev", self.a_if)
        self.a_addr = address


@contextlib.contextmanager
def linked_namespaces(
    *, subnet: str = "10.231.7", ipv6: bool = False, prefix_len: int = 24
) -> Iterator[LinkedNamespaces]:
    """Namespaces A and B joined by a veth pair with ``<subnet>.1`` in A and ``<subnet>.2`` in B.

    The addresses exist only inside these namespaces, so parallel runs may reuse the subnet.
    Both veths and both ``lo`` are up with multicast on; IPv6 off unless ``ipv6``.
    """
    tag = f"{os.getpid() % 100000}{next(_counter)}"
    a_if, b_if = f"vda{tag}"[:15], f"vdb{tag}"[:15]
    with namespace(ipv6=ipv6) as ns_a, namespace(ipv6=ipv6) as ns_b:
        _ip("link", "add", a_if, "netns", ns_a.name, "type", "veth", "peer", "name", b_if, "netns", ns_b.name)
        link = LinkedNamespaces(
            ns_a, ns_b, a_if, b_if, f"{subnet}.1", f"{subnet}.2", prefix_len
        )  # veths go with the namespaces
        for ns, ifname, address in ((ns_a, a_if, link.a_addr), (ns_b, b_if, link.b_addr)):
            if not ipv6:
                ns.set_ipv6(False, ifname)
            ns.ip("addr", "add", f"{address}/{prefix_len}", "dev", ifname)
            ns.ip("link", "set", ifname, "multicast", "on")
            ns.ip("link", "set", ifname, "up")
        yield link


@contextlib.contextmanager
def entered(ns: Namespace) -> Iterator[None]:
    """Run the body with the calling thread inside ``ns``: sockets created there stay in ``ns``.

    Only for creating sockets (e.g. constructing ``AsyncZeroconf``) and reading interfaces;
    the thread returns to its own namespace on exit.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    with open("/proc/thread-self/ns/net", "rb") as home, open(f"/run/netns/{ns.name}", "rb") as target:
        if libc.setns(target.fileno(), _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns into {ns.name}: {os.strerror(err)}")
        try:
            yield
        finally:
            if libc.setns(home.fileno(), _CLONE_NEWNET) != 0:  # pragma: no cover - cannot really fail
                err = ctypes.get_errno()
                raise OSError(err, f"setns back: {os.strerror(err)}")


# -- child processes speaking JSON lines -----------------------------------------------------------


class AsyncChild:
    """A process inside a namespace driven by JSON lines: :meth:`send` to its stdin, :meth:`recv`
    from its stdout (stderr is kept for error messages). Always :meth:`close` it (or use
    ``async with``)."""

    def __init__(self, proc: asyncio.subprocess.Process, label: str) -> None:
        self.proc = proc
        self.label = label

    @classmethod
    async def start(cls, ns: Namespace, argv: Sequence[str], env: dict[str, str] | None = None) -> AsyncChild:
        """Start ``argv`` inside ``ns`` with pipes for stdin, stdout and stderr."""
        proc = await asyncio.create_subprocess_exec(
            *ns.command(argv),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            start_new_session=True,
        )
        return cls(proc, f"{argv[-1] if argv else '?'} in {ns.name}")

    async def send(self, message: dict[str, Any]) -> None:
        """Write one JSON line to the child's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def recv(self, timeout: float = 10.0) -> dict[str, Any]:
        """Read the child's next JSON line; raises with its stderr if it exits or stays silent."""
        assert self.proc.stdout is not None
        try:
            async with asyncio.timeout(timeout):
                line = await self.proc.stdout.readline()
        except TimeoutError:
            raise RuntimeError(f"{self.label}: no message within {timeout} s") from None
        if not line:
            err = b""
            if self.proc.stderr is not None:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(2):
                        err = await self.proc.stderr.read()
            raise RuntimeError(f"{self.label} exited: {err.decode(errors='replace')[-2000:]}")
        message: dict[str, Any] = json.loads(line)
        return message

    async def close(self, timeout: float = 5.0) -> None:
        """Close stdin, give the child ``timeout`` seconds to exit, then kill its process group."""
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            async with asyncio.timeout(timeout):
                await self.proc.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            await self.proc.wait()

    async def __aenter__(self) -> AsyncChild:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


ADVERTISER_CHILD = r'''
"""An Advertiser driven by JSON lines: argv[1] = {"name", "port", "interfaces", "record"}.
Commands: {"cmd": "update", "record": {...}}, {"cmd": "refresh"}, {"cmd": "stop"} (or EOF)."""
import asyncio, json, sys, time
from device_sdk.discovery import Advertiser, AdvertiserConfig, DeviceRecord

async def main() -> None:
    args = json.loads(sys.argv[1])
    t0 = time.monotonic()
    adv = Advertiser(config=AdvertiserConfig(
        instance_name=args["name"], port=args["port"], interfaces=args["interfaces"]))
    await adv.start(DeviceRecord(**args["record"]))
    def say(**msg: object) -> None:
        print(json.dumps(msg), flush=True)
    say(event="started", name=adv.instance_name, addresses=list(adv.addresses),
        host=adv.host_name, start_seconds=time.monotonic() - t0)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        cmd = json.loads(line)
        if cmd["cmd"] == "update":
            await adv.update(DeviceRecord(**cmd["record"]))
            say(event="updated", wall=time.time())
        elif cmd["cmd"] == "refresh":
            changed = await adv.refresh_addresses()
            say(event="refreshed", changed=changed, addresses=list(adv.addresses))
        elif cmd["cmd"] == "stop":
            break
    await adv.stop()
    say(event="stopped")

asyncio.run(main())
'''
"""Python code (run with ``python -c``) for a device advertiser in a namespace; see its docstring."""


async def start_advertiser_child(
    ns: Namespace, *, name: str, port: int, interfaces: list[str], record: dict[str, Any]
) -> tuple[AsyncChild, dict[str, Any]]:
    """Start :data:`ADVERTISER_CHILD` in ``ns``; return it and its ``started`` message."""
    args = json.dumps({"name": name, "port": port, "interfaces": interfaces, "record": record})
    child = await AsyncChild.start(ns, [sys.executable, "-c", ADVERTISER_CHILD, args])
    try:
        started = await child.recv(timeout=15)
    except BaseException:
        await child.close(timeout=0)
        raise
    return child, started
