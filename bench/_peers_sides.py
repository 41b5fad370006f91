"""The commands of bench/peers.py's children, with every clock and loop written once for both stacks.

A stack's device child and controller child subclass :class:`DeviceSide` and :class:`ControllerSide`
and implement each operation (pair, connect, read, set, subscribe, publish) with their own library;
what is timed, how often and what is counted is here, the same for device_sdk and for HAP.
Standard library only, like _peers_child.py.

Device commands (``base`` offsets the values published, so that a run's values are told from older ones):

* ``{"cmd": "fresh"}`` starts a second, unpaired device (a fresh state) for a pairing sample and
  answers ``{"target"}``; ``{"cmd": "drop"}`` stops it.
* ``{"cmd": "burst", "seconds", "base"}`` publishes ``base + i`` on the ``fast`` value as fast as the
  device can (``per_turn`` values per event-loop turn). Answer ``{"published"}``.
* ``{"cmd": "paced", "seconds", "rate", "base", "out"}`` publishes ``base + i`` at ``rate`` Hz. Answer
  ``{"published"}``; the file ``out`` gets the JSON list of ``time.perf_counter()`` at each publication
  (CLOCK_MONOTONIC, one clock for every process on Linux). Long lists go through files: the pipes
  carry one line per answer, and a reader's line has a limit.

Both answer ``{"cmd": "modules"}`` with ``{"modules"}``, the modules the child has loaded so far
(_peers_child.loaded_modules).

Controller commands:

* ``{"cmd": "pair_main", "target"}`` pairs with the device and keeps the connection the other
  commands use.
* ``{"cmd": "pair", "target"}`` pairs with a fresh device. Whatever the pairing needs beforehand (a new
  controller identity) is made before the clock starts. Answer ``{"seconds"}``.
* ``{"cmd": "reconnect", "count", "settle"}``: ``count`` times, close the connection (``close``: until
  it returned), pause ``settle`` seconds, connect again and read the temperature once (``connect``:
  both; ``first``: the reading alone), pause again. Answer the three lists of seconds.
* ``{"cmd": "sets", "seconds", "out"}`` switches the switch on, off, ... one set after the other. Answer
  ``count``, ``elapsed``, and where the stack counts them ``packets_out`` / ``packets_in`` meanwhile;
  the file ``out`` gets the JSON list of the round trips (seconds).
* ``{"cmd": "listen", "base", "out"}`` subscribes to the ``fast`` value and answers once the
  subscription is in place; ``{"cmd": "collect"}`` ends it and answers what :class:`Arrivals` recorded
  (with ``out``, each arrival goes to that file).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, Generic, TypeVar

from _peers_child import burst, command_loop, loaded_modules, paced

D = TypeVar("D")

PAIRING_TRIES = 3
"""Attempts at one timed pairing when it fails with one of a side's known flakes."""


class Arrivals:
    """What a controller records while listening: values ``>= base`` (older ones are a current value or
    a previous run's), how many, when the first and the last came, and, with ``out``, each value's
    offset from ``base`` and its arrival time (``time.perf_counter``, comparable with the device's),
    written to the file ``out`` as a JSON list of pairs by :meth:`result`."""

    def __init__(self, base: float, out: str | None) -> None:
        self.base = base
        self.out = out
        self.keep = out is not None
        self.count = 0
        self.first = self.last = 0.0
        self.arrivals: list[tuple[float, float]] = []

    def hit(self, value: float) -> None:
        if value < self.base:
            return
        now = time.perf_counter()
        if not self.count:
            self.first = now
        self.last = now
        self.count += 1
        if self.keep:
            self.arrivals.append((value - self.base, now))

    def result(self) -> dict[str, Any]:
        if self.out is not None:
            dump(self.out, self.arrivals)
        return {"count": self.count, "first": self.first, "last": self.last}


def dump(path: str, value: Any) -> None:
    Path(path).write_text(json.dumps(value))


class Side(ABC):
    """A child's side of the commands."""

    @abstractmethod
    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]: ...

    @abstractmethod
    async def shutdown(self) -> None:
        """Close everything (the child is quitting)."""

    async def serve(self, ready: Any) -> None:
        """Answer ``{"ready": ready}`` and the commands until quit; then shut down."""

        async def handle(cmd: dict[str, Any]) -> dict[str, Any]:
            if cmd["cmd"] == "modules":
                return {"modules": loaded_modules()}
            return await self.handle(cmd)

        try:
            await command_loop(ready, handle)
        finally:
            await self.shutdown()


class DeviceSide(Side, Generic[D]):
    """A device child: ``D`` is what :meth:`start_fresh` gives and :meth:`stop_fresh` takes."""

    per_turn = 1
    """Values published per event-loop turn in a burst."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.fresh: D | None = None
        self.count = 0

    @abstractmethod
    async def start_fresh(self, state: Path, name: str) -> tuple[D, Any]:
        """Start an unpaired device beside the main one, its state at ``state`` (a directory or a file
        name without suffix); return it and its target."""

    @abstractmethod
    async def stop_fresh(self, device: D) -> None: ...

    @abstractmethod
    async def stop_main(self) -> None: ...

    @abstractmethod
    def publish(self, value: float) -> None:
        """Publish ``value`` on the main device's ``fast`` value."""

    async def drop(self) -> None:
        if self.fresh is not None:
            await self.stop_fresh(self.fresh)
            self.fresh = None

    async def shutdown(self) -> None:
        await self.drop()
        await self.stop_main()

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd["cmd"]
        if name == "fresh":
            await self.drop()
            self.count += 1
            self.fresh, target = await self.start_fresh(self.state / f"fresh{self.count}", f"Fresh {self.count}")
            return {"target": target}
        if name == "drop":
            await self.drop()
            return {}
        base = float(cmd["base"])
        if name == "burst":
            return {"published": await burst(float(cmd["seconds"]), self.per_turn, lambda i: self.publish(base + i))}
        if name == "paced":
            times: list[float] = []

            def tick(i: int) -> None:
                times.append(time.perf_counter())
                self.publish(base + i)

            published = await paced(float(cmd["seconds"]), float(cmd["rate"]), tick)
            dump(cmd["out"], times)
            return {"published": published}
        raise ValueError(f"unknown command {name!r}")


class ControllerSide(Side):
    pairing_flakes: tuple[type[BaseException], ...] = ()
    """Failures of :meth:`pair` that are a known flaw of the library, not of the attempt: the pairing
    is made again (at most :data:`PAIRING_TRIES` times), and only the attempt that succeeded is timed."""

    def __init__(self) -> None:
        self.arrivals = Arrivals(0.0, None)

    @abstractmethod
    async def pair_main(self, target: Any) -> None:
        """Pair with the main device; keep the connection."""

    @abstractmethod
    async def prepare_pairing(self, target: Any) -> Any:
        """What pairing with ``target`` needs made before the clock starts."""

    @abstractmethod
    async def pair(self, prepared: Any) -> Any:
        """Pair (the timed part); return what :meth:`after_pairing` needs to clean up."""

    @abstractmethod
    async def after_pairing(self, paired: Any) -> None: ...

    @abstractmethod
    async def close(self) -> None:
        """Close the connection."""

    @abstractmethod
    async def connect(self) -> None:
        """Connect again to the paired main device."""

    @abstractmethod
    async def first_reading(self) -> None:
        """Read the temperature once on the new connection."""

    @abstractmethod
    async def end_reading(self) -> None:
        """Close what :meth:`first_reading` left open (not timed)."""

    @abstractmethod
    async def set(self, on: bool) -> None:
        """Switch the switch; return once the device has answered."""

    @abstractmethod
    async def listen(self, arrivals: Arrivals) -> None:
        """Subscribe to the ``fast`` value, handing each value to ``arrivals.hit``; return once subscribed."""

    @abstractmethod
    async def stop_listening(self) -> None: ...

    def packets(self) -> tuple[int, int] | None:
        """Packets sent and received so far, where this side counts them."""
        return None

    async def handle(self, cmd: dict[str, Any]) -> dict[str, Any]:
        name = cmd["cmd"]
        if name == "pair_main":
            await self.pair_main(cmd["target"])
            return {}
        if name == "pair":
            for retries in range(PAIRING_TRIES):
                prepared = await self.prepare_pairing(cmd["target"])
                start = time.perf_counter()
                try:
                    paired = await self.pair(prepared)
                except self.pairing_flakes as exc:
                    if retries == PAIRING_TRIES - 1:
                        raise
                    print(f"pairing failed ({type(exc).__name__}: {exc}), trying again", file=sys.stderr)
                    continue
                elapsed = time.perf_counter() - start
                await self.after_pairing(paired)
                return {"seconds": elapsed, "retries": retries}
        if name == "reconnect":
            return await self._reconnect(int(cmd["count"]), float(cmd["settle"]))
        if name == "sets":
            return await self._sets(float(cmd["seconds"]), cmd["out"])
        if name == "listen":
            await self.stop_listening()
            self.arrivals = Arrivals(float(cmd["base"]), cmd.get("out"))
            await self.listen(self.arrivals)
            return {}
        if name == "collect":
            await self.stop_listening()
            return self.arrivals.result()
        raise ValueError(f"unknown command {name!r}")

    async def _reconnect(self, count: int, settle: float) -> dict[str, Any]:
        close: list[float] = []
        connect: list[float] = []
        first: list[float] = []
        for _ in range(count):
            start = time.perf_counter()
            await self.close()
            close.append(time.perf_counter() - start)
            await asyncio.sleep(settle)
            start = time.perf_counter()
            await self.connect()
            connected = time.perf_counter()
            await self.first_reading()
            done = time.perf_counter()
            await self.end_reading()
            connect.append(done - start)
            first.append(done - connected)
            await asyncio.sleep(settle)
        return {"close": close, "connect": connect, "first": first}

    async def _sets(self, seconds: float, out: str) -> dict[str, Any]:
        rtts: list[float] = []
        before = self.packets()
        on = True
        begin = time.perf_counter()
        end = begin + seconds
        while (start := time.perf_counter()) < end:
            await self.set(on)
            rtts.append(time.perf_counter() - start)
            on = not on
        result: dict[str, Any] = {"count": len(rtts), "elapsed": time.perf_counter() - begin}
        after = self.packets()
        dump(out, rtts)
        if before is not None and after is not None:
            result.update(packets_out=after[0] - before[0], packets_in=after[1] - before[1])
        return result
