"""Child process for the shared pin store tests: a Controller that pins and unpins its own devices.

Usage: python _pin_store_worker.py STATE_DIR WORKER ROUNDS. Prints ``ready``, waits for a line on stdin
(so that the workers start together), then in each round ``i`` pins device ``(WORKER, i)`` (through the
Controller's pin store, written on its writer thread as a pairing is), updates the addresses of the one
pinned the round before, and in every third round unpins that one again (on disk at once, as ``unpair``
is). Prints ``done`` once the controller is closed (everything on disk).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from device_sdk import Controller, ControllerConfig


def fingerprint(worker: int, index: int) -> bytes:
    return bytes([worker, index % 256, index // 256]) + bytes(29)


def unpinned(index: int) -> bool:
    """Whether device ``index`` of a worker is unpinned by the end (in round ``index + 1``)."""
    return index % 3 == 1


async def main() -> None:
    state_dir, worker, rounds = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    async with Controller(ControllerConfig(state_dir=state_dir, name=f"worker {worker}")) as ctl:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        for i in range(rounds):
            ctl.pins.add(fingerprint(worker, i), f"w{worker}-{i}", now=time.time(), port=1000 + i)
            if i:
                ctl.pins.update(fingerprint(worker, i - 1), addresses=(f"192.0.2.{i % 250}",))
                if unpinned(i - 1):
                    ctl.pins.remove(fingerprint(worker, i - 1))
            await asyncio.sleep(0.002 if i % 4 else 0.03)  # let its writer thread write now and then
    print("done", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
