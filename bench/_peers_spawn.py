"""The figures of bench/peers.py that need a fresh interpreter: process start to serving, idle RSS and
import time.

Start to serving is from just before the process is spawned to the first successful exchange with
it: for device_sdk a QUIC handshake (mutual TLS, a client certificate of a probe identity), tried
once the device's UDP port is bound (seen in /proc/net/udp*; an unbound port would swallow the
Initial packet); for HAP an HTTP request answered (HAP answers an unencrypted GET /accessories with
status 470), tried every millisecond until the TCP port accepts. The time the device's ready file
appeared is kept too (JSON). The idle RSS is VmRSS after the process has served for a moment with
no controller connected.

Import time is what a program of the stack needs imported before it can work: the modules the
device program had loaded when it had started and answered its first exchange (recorded as it ends,
_peers_child.loaded_modules), or those the controller child had loaded once paired and connected,
imported again in that order by a fresh interpreter and timed there (interpreter start-up left out).
The same rule for both stacks: what each one's public API pulls in, what starting and serving loads
on top (lazily imported parts included, and none that the program did not use), nothing else.

Every figure here is taken with the bytecode compiled (:func:`compile_bytecode`), as a package
installed from a wheel is; without it each start compiles the sources again (PYTHONDONTWRITEBYTECODE
set, or a source tree nobody has imported from), which costs more than the imports themselves.
"""

from __future__ import annotations

import asyncio
import compileall
import contextlib
import importlib.util
import json
import os
import signal
import ssl
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _peers_child import HOST
from aioquic.asyncio.client import connect as quic_connect
from aioquic.quic.configuration import QuicConfiguration

from device_sdk.identity import AgentIdentity
from device_sdk.transport import ALPN

START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Started:
    serving_s: float
    """Spawn to the first successful exchange."""
    rss_mib: float
    """VmRSS after the idle pause."""
    ready_file_s: float | None
    """Spawn to the ready file's appearance (device_sdk only)."""


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, all threads) process ``pid`` has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def udp_bound(port: int) -> bool:
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                if int(line.split()[1].rsplit(":", 1)[1], 16) == port:
                    return True
    return False


class QuicProbe:
    """A QUIC handshake with a device, as a controller not yet paired makes it."""

    def __init__(self, state: Path) -> None:
        identity = AgentIdentity.load_or_create(state, model_name="bench", instance_name="Probe")
        self.cert, self.key = identity.cert_path, identity.key_path

    async def __call__(self, port: int) -> float:
        """When the handshake completed (``time.perf_counter``; closing the connection comes after)."""
        while not udp_bound(port):  # noqa: ASYNC110 (nothing tells when another process binds a port)
            await asyncio.sleep(0.001)
        qc = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], verify_mode=ssl.CERT_NONE)
        qc.load_cert_chain(self.cert, self.key)
        async with quic_connect(HOST, port, configuration=qc, wait_connected=True):
            return time.perf_counter()


async def http_probe(port: int) -> float:
    """When an HTTP request was answered by the HAP accessory (``time.perf_counter``)."""
    while True:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except ConnectionRefusedError:
            await asyncio.sleep(0.001)
            continue
        try:
            writer.write(f"GET /accessories HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
            line = await reader.readline()
            answered = time.perf_counter()
        finally:
            writer.close()
        if not line.startswith(b"HTTP/1.1 "):
            raise RuntimeError(f"the accessory answered {line!r}")
        return answered


def _forget(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def _written(path: Path | None, begin: float) -> float | None:
    """Seconds from ``begin`` (``time.perf_counter``) to the last change of ``path``; None if it is missing."""
    if path is None or not path.exists():
        return None
    return time.perf_counter() - (time.time() - path.stat().st_mtime) - begin


async def start(
    argv: list[str],
    port: int,
    probe: Callable[[int], Coroutine[Any, Any, float]],
    *,
    idle_s: float,
    ready_file: Path | None = None,
    env: dict[str, str] | None = None,
) -> Started:
    """Spawn ``argv`` (a server on ``port``), time it to serving, read its idle RSS, terminate it.
    ``env``: variables set for it on top of this process's environment."""
    _forget(ready_file)  # a previous run's
    environ = {**os.environ, **(env or {})}
    with tempfile.TemporaryFile() as err:
        begin = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(*argv, stdin=asyncio.subprocess.DEVNULL,
                                                    stdout=asyncio.subprocess.DEVNULL, stderr=err,
                                                    env=environ)  # fmt: skip
        probing = asyncio.create_task(probe(port))
        exiting = asyncio.create_task(proc.wait())
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await asyncio.wait({probing, exiting}, return_when=asyncio.FIRST_COMPLETED)
            if not probing.done():
                raise RuntimeError(f"{' '.join(argv[:3])} exited with {proc.returncode} before serving")
            serving = probing.result() - begin
            await asyncio.sleep(idle_s)
            rss = rss_mib(proc.pid)
            ready_s = _written(ready_file, begin)
        except BaseException:
            err.seek(0)
            sys.stderr.write(err.read().decode(errors="replace")[-3000:])
            raise
        finally:
            probing.cancel()
            exiting.cancel()
            await stop(proc)
    return Started(serving, rss, ready_s)


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(5):
            await proc.wait()
    except TimeoutError:
        proc.kill()
        await proc.wait()


def compile_bytecode(packages: list[str], *dirs: Path) -> None:
    """Write the bytecode of ``packages`` (import names) and of the modules in ``dirs`` where it is
    missing or stale."""
    for name in packages:
        spec = importlib.util.find_spec(name)
        for location in (spec.submodule_search_locations or []) if spec else []:
            compileall.compile_dir(location, quiet=1)
    for path in dirs:
        compileall.compile_dir(path, maxlevels=0, quiet=1)


_IMPORT_ALL = """
import importlib, json, sys, time
modules = json.loads(open(sys.argv[1]).read())
failed = []
start = time.perf_counter()
for name in modules:
    try:
        importlib.import_module(name)
    except Exception:
        failed.append(name)
print(json.dumps({"seconds": time.perf_counter() - start, "failed": failed}))
"""


async def import_seconds(modules: Path) -> tuple[float, list[str]]:
    """Seconds a fresh interpreter takes to import the modules listed in the JSON file ``modules``, in
    their order, and those that failed to import alone (none, normally)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _IMPORT_ALL, str(modules), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"importing the modules of {modules} failed ({proc.returncode})")
    result = json.loads(out)
    return float(result["seconds"]), list(result["failed"])
