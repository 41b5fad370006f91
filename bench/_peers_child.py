"""How bench/peers.py talks to its child processes, and what they share: the JSON-lines command loop,
a pacer and a burst publisher, and a free port. Standard library only, so that neither stack's child
loads the other's packages (their import time and memory are among the figures).

A child answers ``{"ready": ...}`` once serving, then one JSON answer line per JSON command line on
stdin, until ``{"cmd": "quit"}`` or the end of stdin. Every answer carries ``cpu`` (this process's CPU
seconds, all threads) and ``wall`` (seconds) spent on the command. The answers go to the original
stdout; anything else written to stdout (a library printing a setup code) goes to stderr instead.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, TextIO

HOST = "127.0.0.1"
MODULES_ENV = "PEERS_MODULES_FILE"
"""With this variable set, a device serving until SIGTERM writes :func:`loaded_modules` to the file it
names when the signal comes (the import-time figure imports them again in a fresh interpreter)."""

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def _answers() -> TextIO:
    """The original stdout, for answers only; file descriptor 1 becomes stderr."""
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    return out


async def command_loop(ready: Any, handle: Handler) -> None:
    """Answer ``{"ready": ready}``, then run ``handle`` on each command until quit."""
    out = _answers()

    def answer(value: dict[str, Any]) -> None:
        out.write(json.dumps(value) + "\n")
        out.flush()

    answer({"ready": ready})
    await answer_commands(handle, answer)


async def answer_commands(handle: Handler, answer: Callable[[dict[str, Any]], None]) -> None:
    """Run ``handle`` on each JSON command line of stdin and ``answer`` its result, with the CPU and
    wall seconds the command took, until ``{"cmd": "quit"}`` or the end of stdin."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            break
        cpu, wall = time.process_time(), time.perf_counter()
        result = await handle(cmd)
        result.update(cpu=time.process_time() - cpu, wall=time.perf_counter() - wall)
        answer(result)


async def until_terminated() -> None:
    """Return on SIGTERM or SIGINT (a device started by the spawn measurement runs until then)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    record_modules()


def record_modules() -> None:
    """Write :func:`loaded_modules` to the file named by ``$PEERS_MODULES_FILE``, if set."""
    if record := os.environ.get(MODULES_ENV):
        Path(record).write_text(json.dumps(loaded_modules()))


def loaded_modules() -> list[str]:
    """The modules this process has loaded, in the order their imports began (a package before its
    modules), without ``__main__`` and this benchmark's own modules: what the program needed so far."""
    here = str(Path(__file__).resolve().parent)
    return [
        name
        for name, module in list(sys.modules.items())
        if name != "__main__" and not str(getattr(module, "__file__", None) or "").startswith(here)
    ]


async def paced(seconds: float, rate: float, tick: Callable[[int], object]) -> int:
    """Call ``tick(i)`` at ``rate`` Hz for ``seconds`` on an absolute schedule; return how many ticks.

    asyncio sleeps in whole milliseconds and a virtual machine's timers wake late now and then (here
    the 99th percentile of a 0.5 ms sleep is several ms), so a tick may come late. The ticks missed
    meanwhile follow at once, one per event-loop turn, and none is skipped: both stacks publish the same
    number of values in the same time, and their CPU figures are comparable.
    """
    loop = asyncio.get_running_loop()
    period = 1.0 / rate
    start = loop.time()
    total = int(seconds * rate)
    for i in range(total):
        tick(i)
        await asyncio.sleep(max(0.0, start + (i + 1) * period - loop.time()))
    return total


async def burst(seconds: float, per_turn: int, tick: Callable[[int], object]) -> int:
    """Call ``tick(i)`` ``per_turn`` times per event-loop turn for ``seconds``; return how many ticks."""
    end = time.perf_counter() + seconds
    count = 0
    while time.perf_counter() < end:
        for _ in range(per_turn):
            tick(count)
            count += 1
        await asyncio.sleep(0)
    return count


def device_main(
    usage: str,
    child: Callable[[Path], Coroutine[Any, Any, None]],
    serve: Callable[[Path, int], Coroutine[Any, Any, None]],
) -> None:
    """The command line of a device child: ``child STATE_DIR`` (driven by commands) or ``serve STATE_DIR
    PORT`` (serving until SIGTERM); ``usage`` is printed for anything else."""
    if len(sys.argv) < 3 or sys.argv[1] not in ("child", "serve") or (sys.argv[1] == "serve") != (len(sys.argv) == 4):
        raise SystemExit(usage)
    state = Path(sys.argv[2])
    state.mkdir(parents=True, exist_ok=True)
    asyncio.run(child(state) if sys.argv[1] == "child" else serve(state, int(sys.argv[3])))


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 right now (for servers that cannot report the port they bound)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])
