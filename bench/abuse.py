"""Abuse benchmark on loopback (issue 13 item 8): does the device keep serving while strangers press it?

The device runs in its own process (``_channels_peer.py device``, as in bench/channels.py), the attackers
in another (``_abuse_peer.py``, at the lowest CPU priority, standing in for other machines: on this
2-core machine its own TLS handshakes would otherwise take the honest controller's CPU), the honest
controller in this one. Each figure is measured with the
device idle, then while the attackers run, then idle again once they have left; the ratio is to the
mean of the two idle runs (so that a drift of the machine's load over the run does not pass for the
attack's effect):

* readings/s: one paired controller subscribed (``min_interval_ms=0``) to a sensor the device publishes
  as fast as it can for --seconds, as in bench/channels.py (a). Goal: under attack >= 0.8x idle.
* pairing time: a new controller pairs (the admin opens the pairing window through the admin channel
  first, outside the timing), --pairings times; the median. Goal: under attack <= 2x idle.
* the device's peak RSS (VmHWM of its process, over its whole life) and its RSS once the attackers have
  left. Goal: peak <= 120 MB.
* hostile 1 MiB messages (``tests/_abuse.py``): the time the message decoder takes to decode each, or to
  refuse it (every CBOR tag is a 400 before cbor2 sees it), as a multiple of an ordinary 1 MiB message
  (one byte string). The cost is linear in the size; shown so that a regression shows.
* the device's CPU (its process's user + system time over wall time) with nobody but the attackers,
  beside the same with nobody at all: what the attack costs the device, less sensitive than the ratios
  above to whatever else the machine runs.

The attack: --connections unauthenticated connections (default 200) that never start pairing, plus one
gap filler (one byte just under each stream's receive limit, every 20 ms, never the bytes before it).
What the device closes (429 when over max_unauthenticated_connections, idlest first; 401 at the pairing
deadline) is opened again --reconnect seconds later, so the pressure stays.

Usage: .venv/bin/python bench/abuse.py [--quick] [--connections N] [--seconds S] [--pairings K]
       [--reconnect S]   (~60 s; --quick ~20 s)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _channels_parts import Peer, Tally, consuming, count_readings
from _util import ms, print_table, rate, verdict

from device_sdk.controller import Controller, ControllerConfig, DeviceConnection, DeviceTarget
from device_sdk.errors import RemoteProtocolError
from device_sdk.transport.limits import ResourceLimits
from device_sdk.wire import MessageDecoder
from tests._abuse import hostile_messages

HOST = "127.0.0.1"
SETUP_CODE = 20202021
BURST = 16
READINGS_GOAL = 0.8
PAIRING_GOAL = 2.0
RSS_GOAL_MB = 120.0
ATTACK_SCRIPT = Path(__file__).with_name("_abuse_peer.py")


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def cpu_over(pid: int, seconds: float) -> float:
    """Cores process ``pid`` used over the next ``seconds``."""
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    await asyncio.sleep(seconds)
    return (cpu_seconds(pid) - cpu) / (time.perf_counter() - wall)


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) of process ``pid`` in MB, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def decode_time(data: bytes, repeat: int) -> tuple[float, str]:
    """The best of ``repeat`` decodes of ``data`` fed in 1200-byte packets, and the outcome."""
    best = float("inf")
    outcome = ""
    for _ in range(repeat):
        dec = MessageDecoder()
        start = time.perf_counter()
        try:
            for i in range(0, len(data), 1200):
                dec.feed(data[i : i + 1200])
            outcome = "decoded"
        except RemoteProtocolError as exc:
            outcome = f"refused ({exc.code})"
        best = min(best, time.perf_counter() - start)
    return best, outcome


def hostile_decoding(repeat: int) -> float:
    """Print the decoding table; return the worst multiple of the baseline."""
    rows: list[list[object]] = []
    baseline = 0.0
    worst = 0.0
    for name, data in hostile_messages().items():
        seconds, outcome = decode_time(data, repeat)
        baseline = baseline or seconds
        worst = max(worst, seconds / baseline)
        rows.append([name, f"{len(data):,}", outcome, ms(seconds), f"{seconds / baseline:.1f}x"])
    print_table(("message", "bytes", "outcome", "best time", "ratio"), rows, title="hostile messages, decoded")
    return worst


async def readings_per_second(conn: DeviceConnection, device: Peer, seconds: float) -> tuple[float, float]:
    """Readings per second delivered to ``conn``'s subscription while the device publishes as fast as it
    can, and the device's CPU microseconds per reading published (less sensitive to what else runs)."""
    tally = Tally()
    async with consuming(lambda ready: count_readings(conn, "fast", tally, ready, min_interval_ms=0)):
        run = await device.command(cmd="burst", seconds=seconds, burst=BURST)
        await asyncio.sleep(0.3)
    return tally.per_second(), 1e6 * run["cpu"] / max(1, run["published"])


async def pairing_times(admin: DeviceConnection, device: Peer, base: Path, count: int, tag: str) -> list[float]:
    times: list[float] = []
    for i in range(count):
        await admin.open_pairing_window()
        ctl = Controller(ControllerConfig(state_dir=base / f"{tag}{i}", name=f"{tag} {i}"))
        start = time.perf_counter()
        conn = await ctl.pair(DeviceTarget.from_ready_file(Path(device.ready), HOST), SETUP_CODE)
        times.append(time.perf_counter() - start)
        await conn.close()
    return times


async def sample_rss(pid: int, peaks: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peaks.append(rss_mb(pid)[0])
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.2):
                await stop.wait()


async def run(args: argparse.Namespace) -> None:
    limits = ResourceLimits()
    worst_decode = hostile_decoding(1 if args.quick else 3)
    print(
        f"{os.cpu_count()} CPUs, 1-minute load average before the run {os.getloadavg()[0]:.2f}; device limits: "
        f"{limits.max_unauthenticated_connections} unauthenticated connections, pairing deadline "
        f"{limits.pairing_deadline:g} s, {limits.unauthenticated_connection_window // 1024} KiB before authentication\n"
    )
    with tempfile.TemporaryDirectory(prefix="bench-abuse-") as tmp:
        base = Path(tmp)
        device = await Peer.start("device", base)
        attacker: Peer | None = None
        conn: DeviceConnection | None = None
        try:
            ctl = Controller(ControllerConfig(state_dir=base / "controller", name="Honest"))
            conn = await ctl.pair(DeviceTarget.from_ready_file(Path(device.ready), HOST), SETUP_CODE)
            start_rss = rss_mb(device.pid)[0]
            idle_cpu = await cpu_over(device.pid, args.seconds)
            idle_rate, idle_us = await readings_per_second(conn, device, args.seconds)
            idle_pair = await pairing_times(conn, device, base, args.pairings, "idle")
            idle_rss, idle_peak = rss_mb(device.pid)

            attacker = await Peer.start(str(device.ready), base / "attacker", script=ATTACK_SCRIPT)
            started = time.perf_counter()
            opened = await attacker.command(
                cmd="start", connections=args.connections, gap=True, reconnect_after=args.reconnect
            )
            print(
                f"attack: {opened['handshakes']} connections opened in {time.perf_counter() - started:.1f} s "
                f"({opened['open']} open now), gap filler running\n"
            )
            samples: list[float] = []
            stop = asyncio.Event()
            sampler = asyncio.get_running_loop().create_task(sample_rss(device.pid, samples, stop))
            await asyncio.sleep(1.0)
            attack_cpu = await cpu_over(device.pid, args.seconds)
            attacker_cpu, attacker_wall = cpu_seconds(attacker.pid), time.perf_counter()
            attack_rate, attack_us = await readings_per_second(conn, device, args.seconds)
            attacker_cores = (cpu_seconds(attacker.pid) - attacker_cpu) / (time.perf_counter() - attacker_wall)
            attack_pair = await pairing_times(conn, device, base, args.pairings, "attacked")
            during = await attacker.command(cmd="status")
            stop.set()
            await sampler
            _, attack_peak = rss_mb(device.pid)
            final = await attacker.command(cmd="quit")
            await attacker.close()
            attacker = None
            await asyncio.sleep(args.settle)
            after_rss, _ = rss_mb(device.pid)
            again_rate, again_us = await readings_per_second(conn, device, args.seconds)
            idle_pair += await pairing_times(conn, device, base, args.pairings, "again")
        finally:
            if attacker is not None:
                await attacker.close()
            if conn is not None:
                await conn.close()
            await device.close()

    first_rate, idle_rate = idle_rate, (idle_rate + again_rate) / 2
    rate_ratio = attack_rate / idle_rate if idle_rate else 0.0
    pair_idle, pair_attack = statistics.median(idle_pair), statistics.median(attack_pair)
    pair_ratio = pair_attack / pair_idle if pair_idle else 0.0
    print_table(
        ("", "device idle", "under attack", "ratio"),
        [
            ["readings/s to one controller", rate(idle_rate), rate(attack_rate), f"{rate_ratio:.2f}x"],
            ["  (idle: before the attack / after it)", f"{rate(first_rate)} / {rate(again_rate)}", "", ""],
            [
                "device CPU per reading published",
                f"{(idle_us + again_us) / 2:.1f} us",
                f"{attack_us:.1f} us",
                f"{2 * attack_us / (idle_us + again_us):.2f}x",
            ],
            ["pairing, median", ms(pair_idle), ms(pair_attack), f"{pair_ratio:.2f}x"],
        ],
        title="the honest controller",
    )
    print_table(
        ("", "value"),
        [
            ["device CPU, nobody connected but the controller", f"{idle_cpu:.3f} core"],
            ["device CPU, the attackers alone", f"{attack_cpu:.3f} core"],
            ["the attackers' own CPU while readings were counted", f"{attacker_cores:.3f} core"],
            ["device RSS after start and pairing", f"{start_rss:.1f} MB"],
            ["device RSS / peak after the idle phase", f"{idle_rss:.1f} / {idle_peak:.1f} MB"],
            ["device RSS under attack, highest sample", f"{max(samples, default=0.0):.1f} MB"],
            ["device peak RSS (VmHWM, whole run)", f"{attack_peak:.1f} MB"],
            [f"device RSS {args.settle:g} s after the attackers left", f"{after_rss:.1f} MB"],
            ["attack connections open (status during the run)", during["open"]],
            ["attack handshakes made / failed", f"{final['handshakes']} / {final['failed']}"],
            ["closed by the device, by error code", _codes(final["closes"])],
            ["gap bytes the filler could place", f"{final['gap_offered']:,} ({final['gap_connections']} connections)"],
        ],
        title=f"the device under {args.connections} unauthenticated connections and a gap filler",
    )
    print_table(
        ("goal", "measured", "target", ""),
        [
            ["readings/s under attack / idle", f"{rate_ratio:.2f}x", f">= {READINGS_GOAL}x",
             verdict(rate_ratio >= READINGS_GOAL)],
            ["pairing time under attack / idle", f"{pair_ratio:.2f}x", f"<= {PAIRING_GOAL:g}x",
             verdict(pair_ratio <= PAIRING_GOAL)],
            ["device peak RSS", f"{attack_peak:.1f} MB", f"<= {RSS_GOAL_MB:g} MB", verdict(attack_peak <= RSS_GOAL_MB)],
            ["slowest hostile 1 MiB message / a plain one", f"{worst_decode:.1f}x", "", ""],
        ],
        title="summary",
    )  # fmt: skip


def _codes(closes: dict[str, Any]) -> str:
    shown = {k: v for k, v in closes.items() if k != "ours"}
    return ", ".join(f"{code}: {count}" for code, count in sorted(shown.items())) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run with 20 connections (a smoke test)")
    parser.add_argument("--connections", type=int, default=None, help="unauthenticated connections (default 200)")
    parser.add_argument("--seconds", type=float, default=None, help="seconds of each readings run (default 5)")
    parser.add_argument("--pairings", type=int, default=None, help="pairings timed in each phase (default 5)")
    parser.add_argument("--reconnect", type=float, default=1.0, help="seconds before a closed attacker reconnects")
    parser.add_argument("--settle", type=float, default=None, help="seconds to wait after the attack (default 3)")
    args = parser.parse_args()
    args.connections = args.connections or (20 if args.quick else 200)
    args.seconds = args.seconds or (1.0 if args.quick else 5.0)
    args.pairings = args.pairings or (2 if args.quick else 5)
    args.settle = args.settle if args.settle is not None else (0.5 if args.quick else 3.0)
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
