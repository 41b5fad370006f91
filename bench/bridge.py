"""MQTT bridge benchmark (issue 18): one bridge, 50 simulated devices x 10 Hz, a local Mosquitto.

The devices run in child processes (``_bridge_peers.py devices``, 25 a process, real mDNS on lo and QUIC
on 127.0.0.1); each publishes its wall-clock time as the value of a float sensor ``value``, so latency is
the arrival time minus the value (one machine, one clock). Everything is measured over the same window
of ``--duration`` seconds, after every device is online:

(baseline) A bare Controller in its own process (``_bridge_peers.py controller``) subscribed to every
    device: readings delivered, device -> controller latency, its CPU. What any controller pays.
(bridge) ``device-sdk bridge mqtt`` in its own process into a Mosquitto started here; a subscriber in
    this process counts the state messages. Readings delivered (goal 100%), device -> broker ->
    subscriber latency p99 (goal <= 50 ms; the broker -> subscriber hop on loopback adds ~0.1 ms),
    the bridge's CPU (goal < 50% of one core: its process's utime + stime over the window) and its RSS.
    The ratios are against the baseline measured in this run.

Other helpers' tests and benchmarks may load this 2-core machine: the figures move with that load.

Usage: .venv/bin/python bench/bridge.py [--devices N] [--rate HZ] [--duration S] [--quick]
       (~60 s; --quick ~35 s). Needs /usr/sbin/mosquitto.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _util import ms, percentile, print_table, verdict

from device_sdk import Controller, ControllerConfig, DeviceTarget
from tests._mosquitto import MOSQUITTO, Mosquitto, Recorder

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


def start_bridge(broker: Mosquitto, ctl_dir: Path, log_path: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "device_sdk", "bridge", "mqtt", "--broker", broker.url, "--state-dir", str(ctl_dir)]
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
    args = parser.parse_args()
    duration = 8.0 if args.quick else args.duration
    if MOSQUITTO is None:
        sys.exit("bench/bridge.py needs mosquitto (Debian's package; .ci/run installs it)")

    tmp = Path(tempfile.mkdtemp(prefix="bench-bridge-"))
    broker = Mosquitto(tmp / "broker")
    broker.start()
    devices: list[Child] = []
    baseline: Child | None = None
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
        print(f"{len(ready_files)} devices up and paired in {time.monotonic() - started:.1f} s")

        # -- baseline: a bare controller ------------------------------------------------------------
        baseline = Child.start("controller", str(ctl_dir))
        await baseline.read()
        await asyncio.sleep(5.0)  # every device found over mDNS and subscribed
        start = time.time() + 0.5
        end = start + duration
        base_answer, base_published = await asyncio.gather(
            baseline.ask({"cmd": "window", "start": start, "end": end}), window(devices, start, end)
        )
        baseline.stop()
        baseline = None

        # -- the bridge -----------------------------------------------------------------------------
        bridge = start_bridge(broker, ctl_dir, tmp / "bridge.log")
        async with Recorder(broker, "device_sdk/+/value/state", "device_sdk/+/availability") as rec:
            await rec.wait_for(
                lambda: (
                    len({m.topic for m in rec.messages if m.topic.endswith("/availability") and m.payload == b"online"})
                    >= args.devices
                ),
                timeout=60,
            )
            await asyncio.sleep(2.0)  # settle (the states republished after the announce)
            start = time.time() + 0.5
            end = start + duration
            await asyncio.sleep(max(0.0, start - time.time()))
            cpu0 = cpu_seconds(bridge.pid)
            mark = len(rec.messages)
            published_task = asyncio.create_task(window(devices, start, end))
            await asyncio.sleep(max(0.0, end - time.time()))
            cpu = cpu_seconds(bridge.pid) - cpu0
            rss = rss_mib(bridge.pid)
            published = await published_task
            await asyncio.sleep(0.5)
            values: list[tuple[float, float]] = []
            for message in rec.messages[mark:]:
                if message.topic.endswith("/value/state"):
                    value = float(message.payload)
                    if start <= value <= end:
                        values.append((value, message.arrived))
        latencies = [arrived - value for value, arrived in values]
        base_latencies: list[float] = base_answer["latencies"]

        delivered = len(values) / published if published else 0.0
        base_delivered = base_answer["count"] / base_published if base_published else 0.0
        p99, base_p99 = percentile(latencies, 99), percentile(base_latencies, 99)
        cpu_share, base_cpu_share = cpu / duration, base_answer["cpu"] / duration
        print_table(
            ("", "delivered", "median", "p99", "CPU (1 core)", "RSS"),
            [
                [
                    "bare controller",
                    f"{base_delivered:.2%}",
                    ms(percentile(base_latencies, 50)),
                    ms(base_p99),
                    f"{base_cpu_share:.1%}",
                    "-",
                ],
                [
                    "bridge -> Mosquitto",
                    f"{delivered:.2%}",
                    ms(percentile(latencies, 50)),
                    ms(p99),
                    f"{cpu_share:.1%}",
                    f"{rss:.0f} MiB",
                ],
                [
                    "ratio",
                    f"{delivered / base_delivered:.3f}x" if base_delivered else "-",
                    "",
                    f"{p99 / base_p99:.2f}x",
                    f"{cpu_share / base_cpu_share:.2f}x" if base_cpu_share else "-",
                    "",
                ],
            ],
            title=f"{args.devices} devices x {args.rate:g} Hz, {duration:g} s window ({published} readings published)",
        )
        print(f"delivered 100%     {verdict(len(values) >= published)}  ({len(values)} of {published})")
        print(f"p99 <= 50 ms       {verdict(p99 <= 0.050)}  ({ms(p99)})")
        print(f"CPU < 50% of core  {verdict(cpu_share < 0.5)}  ({cpu_share:.1%})")
    finally:
        if bridge is not None:
            bridge.send_signal(signal.SIGTERM)
            try:
                bridge.wait(timeout=15)
            except subprocess.TimeoutExpired:
                bridge.kill()
        if baseline is not None:
            baseline.stop()
        for device in devices:
            device.stop()
        broker.stop()


if __name__ == "__main__":
    asyncio.run(main())
