"""MQTT bridge benchmark (issue 18): one bridge, 50 simulated devices x 10 Hz, a local Mosquitto.

The devices run in child processes (``_bridge_peers.py devices``, 25 a process, real mDNS on lo and QUIC
on 127.0.0.1); each publishes its wall-clock time as the value of a float sensor ``value``, so latency is
the arrival time minus the value (one machine, one clock). A subscriber in this process counts what
reaches the broker. Each phase is measured over its own window of ``--duration`` seconds, once every
device is publishing through it:

(baseline) A naive bridge (``_bridge_peers.py controller``): a Controller subscribed to every device that
    publishes each reading to the broker, and does nothing else (no discovery, availability, commands).
(bridge) ``device-sdk bridge mqtt`` in its own process.

For both: readings delivered (goal 100%), device -> bridge -> broker -> subscriber latency (goal p99 <=
50 ms; the broker -> subscriber hop on loopback is ~0.1 ms), the process's CPU (utime + stime over the
window; goal < 50% of one core) and its RSS; the ratios are the bridge's figures over the baseline's.
Other helpers' tests and benchmarks may load this 2-core machine: the load average is printed, and the
latency tail moves with it.

Usage: .venv/bin/python bench/bridge.py [--devices N] [--rate HZ] [--duration S] [--quick] [--profile F]
       (~90 s; --quick ~60 s). Needs /usr/sbin/mosquitto.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _util import ms, percentile, print_table, verdict

from device_sdk import Controller, ControllerConfig, DeviceTarget
from tests._mosquitto import MOSQUITTO, Mosquitto, Recorder, terminate

PEERS = str(Path(__file__).with_name("_bridge_peers.py"))
PER_PROCESS = 25
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Child:
    """A child process that answers one JSON line per JSON command."""

    proc: subprocess.Popen[str]

    @classmethod
    def start(cls, *args: str) -> Child:
        proc = subprocess.Popen(
            [sys.executable, PEERS, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        return cls(proc)

    async def read(self) -> Any:
        assert self.proc.stdout is not None
        line = await asyncio.to_thread(self.proc.stdout.readline)
        if not line:
            raise RuntimeError(f"a child process ended (exit {self.proc.poll()})")
        return json.loads(line)

    async def ask(self, command: dict[str, Any]) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return await self.read()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps({"cmd": "stop"}) + "\n")
            self.proc.stdin.flush()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_bridge(broker: Mosquitto, ctl_dir: Path, log_path: Path, profile: Path | None) -> subprocess.Popen[bytes]:
    python = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else [sys.executable]
    argv = [*python, "-m", "device_sdk", "bridge", "mqtt", "--broker", broker.url, "--state-dir", str(ctl_dir)]
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [*argv, "--interface", "lo", "--client-id", "bench"], stdout=subprocess.DEVNULL, stderr=log
        )


async def pair_all(state_dir: Path, ready_files: list[str]) -> None:
    async with Controller(ControllerConfig(state_dir=state_dir, name="bench bridge")) as controller:
        for ready in ready_files:
            conn = await controller.pair(DeviceTarget.from_ready_file(Path(ready)), str(20202021))
            await conn.close()


async def window(devices: list[Child], start: float, end: float) -> int:
    answers = await asyncio.gather(*(d.ask({"cmd": "window", "start": start, "end": end}) for d in devices))
    return sum(sum(a["published"]) for a in answers)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--quick", action="store_true", help="a 8 s window")
    parser.add_argument("--profile", type=Path, help="run the bridge under cProfile, writing its data here")
    args = parser.parse_args()
    duration = 8.0 if args.quick else args.duration
    if MOSQUITTO is None:
        sys.exit("bench/bridge.py needs mosquitto (Debian's package; .ci/run installs it)")

    tmp = Path(tempfile.mkdtemp(prefix="bench-bridge-"))
    broker = Mosquitto(tmp / "broker")
    broker.start()
    devices: list[Child] = []
    bridge: subprocess.Popen[bytes] | None = None
    ctl_dir = tmp / "ctl"
    try:
        # -- devices, paired -------------------------------------------------------------------------
        started = time.monotonic()
        for first in range(0, args.devices, PER_PROCESS):
            count = min(PER_PROCESS, args.devices - first)
            devices.append(
                Child.start(
                    "devices", str(tmp / "devices"), f"Bench {first // PER_PROCESS}-", str(count), str(args.rate)
                )
            )
        ready_files = [f for d in devices for f in (await d.read())["ready"]]
        await pair_all(ctl_dir, ready_files)
        print(f"{len(ready_files)} devices up and paired in {time.monotonic() - started:.1f} s", flush=True)

        # -- baseline: a naive bridge, then the bridge -------------------------------------------------
        results = {}
        for phase in ("naive bridge", "bridge"):
            if phase == "naive bridge":
                child = Child.start("controller", str(ctl_dir), str(broker.port))
                proc: subprocess.Popen[Any] = child.proc
                topics = ("baseline/+/value/state",)
            else:
                child = None
                proc = bridge = start_bridge(broker, ctl_dir, tmp / "bridge.log", args.profile)
                topics = ("device_sdk/+/value/state",)
            try:
                async with Recorder(broker, *topics) as rec:
                    await rec.wait_for(every_device(rec, args.devices), timeout=90)
                    await asyncio.sleep(2.0)  # settle (the bridge's states republished after the announce)
                    results[phase] = await measure(rec, proc.pid, devices, duration)
            finally:
                if child is not None:
                    child.stop()
                else:
                    terminate(proc, timeout=15)
                    bridge = None
        base, mine = results["naive bridge"], results["bridge"]
        rows = [row(name, r) for name, r in results.items()]
        rows.append(
            [
                "ratio",
                f"{mine.delivered / base.delivered:.3f}x" if base.delivered else "-",
                f"{mine.p50 / base.p50:.2f}x",
                f"{mine.p99 / base.p99:.2f}x",
                f"{mine.cpu / base.cpu:.2f}x" if base.cpu else "-",
                f"{mine.rss / base.rss:.2f}x",
            ]
        )
        load = os.getloadavg()[0]
        print_table(
            ("", "delivered", "median", "p99", "CPU (1 core)", "RSS"),
            rows,
            title=f"{args.devices} devices x {args.rate:g} Hz, {duration:g} s windows (load average {load:.1f})",
        )
        print(f"delivered 100%     {verdict(mine.received >= mine.published)}  ({mine.received} of {mine.published})")
        print(f"p99 <= 50 ms       {verdict(mine.p99 <= 0.050)}  ({ms(mine.p99)})")
        print(f"CPU < 50% of core  {verdict(mine.cpu < 0.5)}  ({mine.cpu:.1%})")
    finally:
        if bridge is not None:
            terminate(bridge, timeout=15)
        for device in devices:
            device.stop()
        broker.stop()


def every_device(rec: Recorder, count: int) -> Callable[[], bool]:
    """A predicate: readings have arrived on ``count`` topics (every device connected and publishing)."""
    seen: set[str] = set()
    done = 0

    def check() -> bool:
        nonlocal done
        seen.update(m.topic for m in rec.messages[done:])
        done = len(rec.messages)
        return len(seen) >= count

    return check


@dataclass
class Result:
    published: int
    received: int
    p50: float
    p99: float
    cpu: float
    """Share of one core over the window."""
    rss: float
    """MiB at the end of the window."""

    @property
    def delivered(self) -> float:
        return self.received / self.published if self.published else 0.0


def row(name: str, r: Result) -> list[object]:
    return [name, f"{r.delivered:.2%}", ms(r.p50), ms(r.p99), f"{r.cpu:.1%}", f"{r.rss:.0f} MiB"]


async def measure(rec: Recorder, pid: int, devices: list[Child], duration: float) -> Result:
    """Readings published by the devices in a window, those that reached ``rec``, latencies, CPU of ``pid``."""
    start = time.time() + 0.5
    end = start + duration
    published_task = asyncio.create_task(window(devices, start, end))
    await asyncio.sleep(max(0.0, start - time.time()))
    cpu0, mark = cpu_seconds(pid), len(rec.messages)
    await asyncio.sleep(max(0.0, end - time.time()))
    cpu, rss = cpu_seconds(pid) - cpu0, rss_mib(pid)
    published = await published_task
    await asyncio.sleep(0.5)
    values = [(float(m.payload), m.arrived) for m in rec.messages[mark:]]
    values = [(v, a) for v, a in values if start <= v <= end]
    latencies = [arrived - value for value, arrived in values] or [float("nan")]
    return Result(
        published=published,
        received=len(values),
        p50=percentile(latencies, 50),
        p99=percentile(latencies, 99),
        cpu=cpu / duration,
        rss=rss,
    )


if __name__ == "__main__":
    asyncio.run(main())
