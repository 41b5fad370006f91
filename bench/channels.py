"""Channels benchmark on loopback (issue 6). The device runs in a child process (``_channels_peer.py``),
the controllers in this one; the bare aioquic baselines run the same way, in the same run.

(a) Sensor throughput: readings per second reaching one controller's ``conn.subscribe(...,
    min_interval_ms=0)`` iterator while the device publishes as fast as it can (a burst of readings per
    event-loop turn), against a bare aioquic server writing the same data-frame bytes on one stream
    (stopping while 64 KiB are unacknowledged; device_sdk stops sensor streams at 4 KiB so that a
    stalled controller gets the newest readings) to a bare aioquic client that decodes them with the
    same MessageDecoder + cbor2.loads (the codec has its own figures in bench/transport.py, so the ratio
    is the cost of the channel layer and its flow control). Goal: >= 0.5 of raw.
(b) Input latency: a game-pad state at 1000 Hz for --duration seconds; one-way latency from
    ``publish()`` in the device to the controller's ``conn.input()`` iterator (``time.perf_counter``,
    CLOCK_MONOTONIC, carried in the state), beside bare aioquic datagrams at the same rate; then both
    again with one CPU-bound process beside them (2 cores here). Goals: p99 <= 2 ms idle, <= 5 ms
    loaded, no frame delivered after a newer one. Frames dropped because a newer one replaced them are
    expected (the newest state wins); the fraction delivered is shown.
(c) Fan-out: N controllers (default 50; each its own identity and state directory, paired one after
    the other through the admin channel's open-pairing-window) subscribed to a 100 Hz sensor. Device
    CPU is the device process's own CPU time (``time.process_time``) over the wall time of the run.
    Goals: >= 99% of the readings delivered to every iterator, device under one core.
(d) Byte stream: 16 kHz 16-bit mono audio written in 100 ms blocks as fast as flow control allows
    (a block is written when the controller's buffer has room, so none is dropped). Goal: >= 20x
    real time (32,000 B/s).

Usage: .venv/bin/python bench/channels.py [--quick] [--duration S] [--controllers N] [--parts abcd]
       [--profile DIR]   (~50 s; --quick ~13 s; --profile writes cProfile data of every process)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import multiprocessing
import os
import ssl
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _channels_parts import (
    LATENCY_HEADERS,
    Latencies,
    Peer,
    RawClient,
    Tally,
    consuming,
    count_audio,
    count_readings,
    time_inputs,
)
from _util import ms, print_table, rate, verdict
from aioquic.asyncio.client import connect as quic_connect
from aioquic.quic.configuration import QuicConfiguration

from device_sdk.controller import Controller, ControllerConfig, DeviceConnection, DeviceTarget
from device_sdk.transport import ALPN

HOST = "127.0.0.1"
SETUP_CODE = 20202021
THROUGHPUT_GOAL = 0.5
IDLE_P99_GOAL = 0.002
LOADED_P99_GOAL = 0.005
DELIVERED_GOAL = 0.99
CPU_GOAL = 1.0
AUDIO_REAL_TIME = 16_000 * 2
AUDIO_GOAL = 20.0
AUDIO_WRITE = 3_200  # 100 ms of audio per write
BURST = 16  # readings published per event-loop turn in (a)
INPUT_HZ = 1000
FANOUT_HZ = 100


@dataclass(frozen=True, kw_only=True)
class Plan:
    throughput_s: float
    input_s: float
    fanout_s: float
    audio_s: float
    controllers: int
    parts: str = "abcd"
    profile: Path | None = None


def _busy() -> None:
    while True:
        pass


def _cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def cpu_hog() -> Iterator[None]:
    """One CPU-bound process beside the benchmark while the block runs; prints the cores it used."""
    proc = multiprocessing.get_context("spawn").Process(target=_busy, daemon=True)
    proc.start()
    assert proc.pid is not None
    try:
        time.sleep(0.5)  # let it start spinning
        cpu, wall = _cpu_seconds(proc.pid), time.perf_counter()
        yield
        print(f"the CPU-bound process used {(_cpu_seconds(proc.pid) - cpu) / (time.perf_counter() - wall):.2f} core\n")
    finally:
        proc.terminate()
        proc.join()


# -- (a) --------------------------------------------------------------------------------------------


async def throughput(conn: DeviceConnection, device: Peer, raw: Peer, client: RawClient, seconds: float) -> float:
    sdk = Tally()
    async with consuming(lambda ready: count_readings(conn, "fast", sdk, ready, min_interval_ms=0)):
        cpu = time.process_time()
        sdk_run = await device.command(cmd="burst", seconds=seconds, burst=BURST)
        sdk_cpu = _cpu(sdk_run, time.process_time() - cpu)
        await asyncio.sleep(0.3)  # what is still on the way
    cpu = time.process_time()
    raw_run = await raw.command(cmd="burst", seconds=seconds, burst=BURST)
    raw_cpu = _cpu(raw_run, time.process_time() - cpu)
    await asyncio.sleep(0.3)
    bare = client.readings
    ratio = sdk.per_second() / bare.per_second() if bare.per_second() else 0.0
    print_table(
        ("", "published", "delivered", "delivered/s", "CPU publisher/receiver", "ratio"),
        [
            ["bare aioquic stream", raw_run["published"], bare.count, rate(bare.per_second()), raw_cpu, "1.00x"],
            ["device_sdk subscribe()", sdk_run["published"], sdk.count, rate(sdk.per_second()), sdk_cpu,
             f"{ratio:.2f}x"],
        ],
        title=f"(a) sensor readings to one controller, {seconds:g} s each, published {BURST} per loop turn",
    )  # fmt: skip
    return ratio


def _cpu(run: dict[str, Any], receiver: float | None = None) -> str:
    """The child's CPU over the run (cores), and ours beside it when given."""
    sender = f"{run['cpu'] / run['wall']:.2f}"
    return sender if receiver is None else f"{sender} / {receiver / run['wall']:.2f}"


# -- (b) --------------------------------------------------------------------------------------------


async def input_latency(
    conn: DeviceConnection, device: Peer, raw: Peer, client: RawClient, seconds: float, label: str
) -> tuple[Latencies, Latencies]:
    sdk, wire = Latencies(), Latencies()
    async with consuming(lambda ready: time_inputs(conn, sdk, wire, ready)):
        cpu = time.process_time()
        sdk_run = await device.command(cmd="input", seconds=seconds, rate=INPUT_HZ)
        sdk_cpu = _cpu(sdk_run, time.process_time() - cpu)
        await asyncio.sleep(0.2)
    client.inputs = bare = Latencies()
    cpu = time.process_time()
    raw_run = await raw.command(cmd="input", seconds=seconds, rate=INPUT_HZ)
    raw_cpu = _cpu(raw_run, time.process_time() - cpu)
    await asyncio.sleep(0.2)
    path = "datagrams" if all(sdk_run["datagrams"]) else "stream"
    print_table(
        LATENCY_HEADERS,
        [
            bare.row("bare aioquic datagrams", raw_run["published"], raw_cpu),
            sdk.row(f"device_sdk input() ({path})", sdk_run["published"], sdk_cpu),
            wire.row("  arriving, before the filter", sdk_run["published"]),
        ],
        title=f"(b) input states at {INPUT_HZ} Hz for {seconds:g} s, {label}: one-way latency device -> controller",
    )
    return sdk, bare


# -- (c) --------------------------------------------------------------------------------------------


async def pair_more(admin: DeviceConnection, device: Peer, base: Path, count: int) -> list[DeviceConnection]:
    """Pair ``count`` more controllers, each its own identity, one after the other."""
    conns: list[DeviceConnection] = []
    for i in range(count):
        await admin.open_pairing_window()
        ctl = Controller(ControllerConfig(state_dir=base / f"controller{i + 1}", name=f"Bench {i + 1}"))
        conns.append(await ctl.pair(DeviceTarget.from_ready_file(Path(device.ready), HOST), SETUP_CODE))
    return conns


async def fanout(conns: list[DeviceConnection], device: Peer, seconds: float) -> tuple[float, float]:
    tallies = [Tally() for _ in conns]
    async with contextlib.AsyncExitStack() as stack:
        for conn, tally in zip(conns, tallies, strict=True):
            await stack.enter_async_context(
                consuming(lambda ready, c=conn, t=tally: count_readings(c, "level", t, ready))  # type: ignore[misc]
            )
        run = await device.command(cmd="paced", seconds=seconds, rate=FANOUT_HZ)
        await asyncio.sleep(0.5)
    expected = run["published"] * len(conns)
    delivered = sum(t.count for t in tallies)
    fraction = delivered / expected if expected else 0.0
    worst = min(t.count for t in tallies) / max(1, run["published"])
    cpu = run["cpu"] / run["wall"]
    print_table(
        ("", "value"),
        [
            ["controllers subscribed", run["sessions"]],
            ["readings published", run["published"]],
            ["readings delivered (all controllers)", f"{delivered} of {expected}"],
            ["fraction delivered", f"{100 * fraction:.2f}%"],
            ["worst controller", f"{100 * worst:.2f}%"],
            ["dropped in the device's queues", run["dropped"]],
            ["device CPU", f"{run['cpu']:.2f} s in {run['wall']:.2f} s = {cpu:.2f} core"],
        ],
        title=f"(c) {len(conns)} controllers on a {FANOUT_HZ} Hz sensor for {seconds:g} s",
    )
    return fraction, cpu


# -- (d) --------------------------------------------------------------------------------------------


async def audio(conn: DeviceConnection, device: Peer, seconds: float) -> float:
    tally = Tally()
    async with consuming(lambda ready: count_audio(conn, tally, ready)):
        run = await device.command(cmd="audio", seconds=seconds, write=AUDIO_WRITE)
        await asyncio.sleep(0.3)
    per_s = tally.per_second()
    multiple = per_s / AUDIO_REAL_TIME
    print_table(
        ("", "value"),
        [
            ["bytes written / delivered", f"{run['written']:,} / {tally.units + AUDIO_WRITE:,}"],
            ["chunks dropped", run["dropped_chunks"]],
            ["throughput", f"{per_s / 1e6:.2f} MB/s"],
            ["multiple of real time", f"{multiple:.0f}x"],
            ["device CPU (cores)", _cpu(run)],
        ],
        title=f"(d) audio byte stream (16 kHz 16-bit mono, {AUDIO_WRITE} B writes) for {seconds:g} s",
    )
    return multiple


# -- main ----------------------------------------------------------------------------------------------


async def run(plan: Plan) -> None:
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, 1-minute load average before the run {load:.2f} (anything else running skews (b))\n")
    goals: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="bench-channels-") as tmp:
        base = Path(tmp)
        device = await Peer.start("device", base, profile=plan.profile)
        raw = await Peer.start("raw", base, profile=plan.profile)
        conns: list[DeviceConnection] = []
        try:
            ctl = Controller(ControllerConfig(state_dir=base / "controller0", name="Bench 0"))
            conn = await ctl.pair(DeviceTarget.from_ready_file(Path(device.ready), HOST), SETUP_CODE)
            conns.append(conn)
            qc = QuicConfiguration(
                is_client=True, alpn_protocols=[ALPN], verify_mode=ssl.CERT_NONE, max_datagram_frame_size=65536
            )
            async with quic_connect(HOST, int(raw.ready), configuration=qc, create_protocol=RawClient) as client:
                assert isinstance(client, RawClient)
                client.open_stream()
                if "a" in plan.parts:
                    goals += await part_a(conn, device, raw, client, plan)
                if "b" in plan.parts:
                    goals += await part_b(conn, device, raw, client, plan)
            if "d" in plan.parts:
                multiple = await audio(conn, device, plan.audio_s)
                goals.append(["(d) audio stream, multiple of real time", f"{multiple:.0f}x", ">= 20x",
                              verdict(multiple >= AUDIO_GOAL)])  # fmt: skip
            if "c" in plan.parts:
                start = time.perf_counter()
                conns += await pair_more(conn, device, base, plan.controllers - 1)
                print(f"paired {len(conns) - 1} more controllers in {time.perf_counter() - start:.1f} s\n")
                fraction, cpu = await fanout(conns, device, plan.fanout_s)
                goals += [
                    ["(c) readings delivered, 100 Hz sensor", f"{100 * fraction:.2f}%", ">= 99%",
                     verdict(fraction >= DELIVERED_GOAL)],
                    [f"(c) device CPU, {plan.controllers} controllers", f"{cpu:.2f} core", "< 1 core",
                     verdict(cpu < CPU_GOAL)],
                ]  # fmt: skip
        finally:
            for c in conns:
                await c.close()
            await device.close()
            await raw.close()
    print_table(("goal", "measured", "target", ""), goals, title="summary")


async def part_a(conn: DeviceConnection, device: Peer, raw: Peer, client: RawClient, plan: Plan) -> list[list[object]]:
    ratio = await throughput(conn, device, raw, client, plan.throughput_s)
    return [["(a) readings/s, device_sdk / bare aioquic", f"{ratio:.2f}x", f">= {THROUGHPUT_GOAL}x",
             verdict(ratio >= THROUGHPUT_GOAL)]]  # fmt: skip


async def part_b(conn: DeviceConnection, device: Peer, raw: Peer, client: RawClient, plan: Plan) -> list[list[object]]:
    idle, idle_raw = await input_latency(conn, device, raw, client, plan.input_s, "idle")
    with cpu_hog():
        loaded, loaded_raw = await input_latency(
            conn, device, raw, client, plan.input_s, "one CPU-bound process beside"
        )
    stale = idle.stale + loaded.stale
    return [
        ["(b) input p99, idle", ms(idle.p99()), "<= 2 ms", verdict(idle.p99() <= IDLE_P99_GOAL)],
        ["    (bare aioquic datagrams, idle)", ms(idle_raw.p99()), "", ""],
        ["(b) input p99, one busy process", ms(loaded.p99()), "<= 5 ms", verdict(loaded.p99() <= LOADED_P99_GOAL)],
        ["    (bare aioquic datagrams, loaded)", ms(loaded_raw.p99()), "", ""],
        ["(b) frames delivered after a newer one", stale, "0", verdict(stale == 0)],
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="short runs and 5 controllers (a smoke test)")
    parser.add_argument("--duration", type=float, default=None, help="seconds of each input run (default 5)")
    parser.add_argument("--controllers", type=int, default=None, help="controllers in (c) (default 50)")
    parser.add_argument("--parts", default="abcd", help="which parts to run (default abcd)")
    parser.add_argument(
        "--profile", type=Path, help="write cProfile data of the device, raw and controller processes to this directory"
    )
    args = parser.parse_args()
    if args.quick:
        plan = Plan(throughput_s=1.0, input_s=1.0, fanout_s=1.0, audio_s=1.0, controllers=5)
    else:
        plan = Plan(throughput_s=3.0, input_s=5.0, fanout_s=5.0, audio_s=3.0, controllers=50)
    if args.duration is not None:
        plan = Plan(**{**plan.__dict__, "input_s": args.duration})
    if args.controllers is not None:
        plan = Plan(**{**plan.__dict__, "controllers": max(1, args.controllers)})
    plan = Plan(**{**plan.__dict__, "parts": args.parts, "profile": args.profile})
    if plan.profile is None:
        asyncio.run(run(plan))
        return
    plan.profile.mkdir(parents=True, exist_ok=True)
    with cProfile.Profile() as profiler:
        asyncio.run(run(plan))
    profiler.dump_stats(plan.profile / "controllers.prof")
    print(f"profiles in {plan.profile}: device.prof, raw.prof, controllers.prof (python -m pstats FILE)")


if __name__ == "__main__":
    main()
