"""device_sdk side by side with the peer a maker would pick instead (issue 15): HAP-python (the
accessory) driven by aiohomekit (the controller library Home Assistant uses), measured in one run on
loopback, with the ratio device_sdk / HAP of every figure and issue 15's goal where it sets one.

Each stack runs as two processes, its device and its controller, both driven by this process over
JSON lines (_peers_child.py): _peers_device.py + _peers_controller.py, _peers_hap_accessory.py +
_peers_hap_controller.py. Both devices have a temperature sensor, a switch (device_sdk's ``led``
actuator, HAP's light bulb On) and a ``fast`` value that the benchmark publishes; neither side uses
mDNS. Every round measures each figure for device_sdk and for HAP, A B A B: the samples of the short
exchanges (pairing, reconnect) alternate one by one, the runs of a second or two (sets, events, 1 kHz)
one stack after the other, then the fresh processes. A figure's value is the median of its per-round
values, printed with their range: many short rounds, so that a burst of other work on the machine
spoils a round or two, not the median.

* pairing: a fresh, unpaired device (started beforehand in the device process) and a new controller
  identity; ``Controller.pair()`` until it returns (the device has committed) against aiohomekit's
  pair-setup M1..M6 (``async_start_pairing`` + ``finish_pairing``), connecting included.
* reconnect + first reading: ``close()`` of the open connection, then ``Controller.connect()`` and the
  first reading of ``subscribe("temperature")``, against ``load_pairing`` + pair-verify + a
  ``get_characteristics`` read of the temperature (the accessory database from aiohomekit's cache, as
  in Home Assistant). "first reading alone" is the part after the connection was made; "closing" the
  time ``close()`` took to return.
* actuator sets: one after the other for a while (``set("led", ...)``, ``put_characteristics``), p50 of
  the round trips and how many per second. device_sdk's UDP datagrams per set, both ways, are counted
  in its controller process (_peers_controller.PacketCounter wraps the asyncio datagram endpoints);
  HAP's TCP segments per write are the network namespace's /proc/net/snmp Tcp OutSegs over the run
  (loopback: every segment either side sends; other traffic in the namespace adds to it).
* max events to one controller: the device publishes as fast as it can (device_sdk 16 readings per
  event-loop turn, as bench/channels.py; HAP one immediate event per turn, as its coalescing sends
  one per characteristic per turn), the controller counts what arrives (``subscribe(min_interval_ms=0)``
  against ``subscribe`` + ``dispatcher_connect``); delivered per second, first to last arrival.
* 1 kHz latency: the device publishes 1000 values a second (an absolute schedule; late timer wake-ups
  are caught up, none skipped), each value's publication time (``time.perf_counter``, CLOCK_MONOTONIC,
  one clock for all processes on Linux) is compared with its arrival in the controller; p50, p99 and
  the fraction delivered. CPU: each process's user + system time (/proc/PID/stat) over the same run,
  in cores.
* idle RSS, import time, process start to serving: fresh processes, see _peers_spawn.py.
  device_sdk is measured as ``device-sdk run --board sim`` and as a script with one Device (the
  channels above, no board, as _peers_device.py serves them); HAP as its accessory script. Import
  time is that of the modules each stack's device script had loaded once serving, and those each
  controller child had loaded once paired and connected: what the programs need, for both stacks.
  Beside them, the floor: asyncio + aioquic + cbor2 alone, nothing of device_sdk, against HAP's device.
  Bytecode is compiled first (device_sdk, HAP-python, aiohomekit, the children), as an installed
  package's is.

Usage: .venv/bin/python bench/peers.py [--rounds N] [--quick] [--json FILE]   (~3.5 min; --quick ~35 s)
Needs the ``bench`` extra (HAP-python, aiohomekit): pip install -e '.[bench]' (part of ``dev``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import importlib.util
import itertools
import json
import os
import platform
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from _channels_parts import Peer
from _peers_child import MODULES_ENV, free_port
from _peers_report import HAP, HAP_NAME, SDK, STACKS, Results, print_report
from _peers_spawn import QuicProbe, compile_bytecode, cpu_seconds, http_probe, import_seconds, start
from _util import median, percentile

BENCH = Path(__file__).resolve().parent
SCRIPTS = {
    SDK: (BENCH / "_peers_device.py", BENCH / "_peers_controller.py"),
    HAP: (BENCH / "_peers_hap_accessory.py", BENCH / "_peers_hap_controller.py"),
}
IMPORT_PROGRAMS = {"import_device": {SDK: "script", HAP: "hap"}}
FLOOR_MODULES = ("asyncio", "aioquic.asyncio", "aioquic.quic.configuration", "cbor2")
"""What any device on aioquic and cbor2 imports before a line of device_sdk: the import-time floor, timed
as the programs are and printed beside HAP's device program (the lowest ratio device_sdk could reach)."""
"""The device programs whose modules the device's import time imports (the controller's are its child's)."""
COMPILED = ["device_sdk", "pyhap", "aiohomekit"]
"""Packages whose bytecode is compiled before measuring (with the children's directory)."""
PACKAGES = ("device_sdk", "aioquic", "zeroconf", "cryptography", "cbor2", "gpiozero", "HAP-python", "aiohomekit")
LATENCY_HZ = 1000
BASE_STEP = 10_000_000
"""Each publishing run's values start at a new multiple of this, so a run's values are told from older ones."""
DRAIN_S = 0.5
BUSY_CORES = 0.2
"""CPU of other processes (cores, on average over the run) from which a note says that the run was disturbed."""
COMMAND_TIMEOUT_S = 120.0


@dataclass(frozen=True, kw_only=True)
class Plan:
    rounds: int = 10
    pairings: int = 3
    """Pairing samples per stack and round (a fresh device each)."""
    reconnects: int = 5
    """Close + reconnect + first reading samples per stack and round."""
    sets_s: float = 1.0
    events_s: float = 1.0
    latency_s: float = 2.0
    imports: int = 2
    """Import-time samples per package and round."""
    idle_s: float = 0.5
    """How long a freshly started device serves before its RSS is read."""
    settle_s: float = 0.1
    """A pause before each measurement, so that none starts while the last one's background work runs."""


QUICK = Plan(rounds=2, pairings=2, reconnects=2, sets_s=0.3, events_s=0.3, latency_s=0.5, imports=1, idle_s=0.3,
             settle_s=0.05)  # fmt: skip


class Stack:
    """One side of the comparison: its device process and its controller process."""

    def __init__(self, name: str, device: Peer, controller: Peer) -> None:
        self.name = name
        self.device = device
        self.controller = controller

    @classmethod
    async def start(cls, name: str, base: Path) -> Stack:
        device_script, controller_script = SCRIPTS[name]
        device = await Peer.start("child", base / name / "device", script=device_script)
        try:
            controller = await Peer.start("child", base / name / "controller", script=controller_script)
        except BaseException:
            await device.close()
            raise
        stack = cls(name, device, controller)
        await stack.ask_controller(cmd="pair_main", target=device.ready)
        return stack

    async def ask_device(self, **cmd: Any) -> dict[str, Any]:
        return await _ask(self.device, cmd)

    async def ask_controller(self, **cmd: Any) -> dict[str, Any]:
        return await _ask(self.controller, cmd)

    async def close(self) -> None:
        await self.controller.close()
        await self.device.close()


async def _ask(peer: Peer, cmd: dict[str, Any]) -> dict[str, Any]:
    async with asyncio.timeout(COMMAND_TIMEOUT_S):
        return await peer.command(**cmd)


class Bench:
    def __init__(self, plan: Plan, stacks: dict[str, Stack], base: Path) -> None:
        self.plan = plan
        self.stacks = stacks
        self.base = base
        self.results = Results()
        self.runs = 0
        self.files = itertools.count()
        self.probe = QuicProbe(base / "probe")

    def scratch(self, name: str) -> Path:
        """A new file for the long lists a child hands over."""
        return self.base / f"{name}{next(self.files)}.json"

    def next_base(self) -> int:
        self.runs += 1
        return self.runs * BASE_STEP

    async def settle(self) -> None:
        await asyncio.sleep(self.plan.settle_s)

    async def round(self) -> None:
        """Every figure for both stacks: samples of the short exchanges alternate one by one, the runs
        of the longer ones (a few seconds each) one stack after the other."""
        pairings: dict[str, list[float]] = {name: [] for name in STACKS}
        reconnects: dict[str, dict[str, list[float]]] = {name: {} for name in STACKS}
        for _ in range(self.plan.pairings):
            for name in STACKS:
                pairings[name].append(await self.pair_once(self.stacks[name]))
        for _ in range(self.plan.reconnects):
            for name in STACKS:
                for key, values in (await self.reconnect_once(self.stacks[name])).items():
                    reconnects[name].setdefault(key, []).extend(values)
        for name in STACKS:
            r = reconnects[name]
            self.results.add(name, {"pairing": median(pairings[name]), "close": median(r["close"]),
                                    "reconnect": median(r["connect"]),
                                    "first_reading": median(r["first"])})  # fmt: skip
            self.results.detail("pairing_s", name, *pairings[name])
            for key, values in r.items():
                self.results.detail(f"reconnect_{key}_s", name, *values)
        for measure in (self.sets, self.events, self.latency):
            for name in STACKS:
                await self.settle()
                self.results.add(name, await measure(self.stacks[name]))
        await self.spawns()
        await self.imports()

    async def pair_once(self, stack: Stack) -> float:
        target = (await stack.ask_device(cmd="fresh"))["target"]
        await self.settle()
        seconds = float((await stack.ask_controller(cmd="pair", target=target))["seconds"])
        await stack.ask_device(cmd="drop")
        return seconds

    async def reconnect_once(self, stack: Stack) -> dict[str, list[float]]:
        """One close, reconnect and first reading (the controller pauses before and after the reconnect)."""
        r = await stack.ask_controller(cmd="reconnect", count=1, settle=self.plan.settle_s)
        return {key: r[key] for key in ("close", "connect", "first")}

    async def sets(self, stack: Stack) -> dict[str, float]:
        out = self.scratch("rtts")
        before = snmp()
        r = await stack.ask_controller(cmd="sets", seconds=self.plan.sets_s, out=str(out))
        after = snmp()
        rtts = load(out)
        count = max(1, r["count"])
        udp = (after["Udp"]["OutDatagrams"] - before["Udp"]["OutDatagrams"]) / count
        tcp = (after["Tcp"]["OutSegs"] - before["Tcp"]["OutSegs"]) / count
        self.results.detail("set_rtt_p90_s", stack.name, percentile(rtts, 90))
        self.results.detail("namespace_udp_datagrams_per_set", stack.name, udp)
        self.results.detail("namespace_tcp_segments_per_set", stack.name, tcp)
        if stack.name == SDK:
            counted = (r["packets_out"] + r["packets_in"]) / count
            self.results.detail("controller_udp_out_in_per_set", stack.name, [r["packets_out"] / count,
                                                                               r["packets_in"] / count])  # fmt: skip
        else:
            counted = tcp
        return {"set_p50": percentile(rtts, 50), "set_rate": r["count"] / r["elapsed"], "packets_per_set": counted}

    async def events(self, stack: Stack) -> dict[str, float]:
        base = self.next_base()
        await stack.ask_controller(cmd="listen", base=base, out=None)
        sent = await stack.ask_device(cmd="burst", seconds=self.plan.events_s, base=base)
        await asyncio.sleep(DRAIN_S)
        got = await stack.ask_controller(cmd="collect")
        span = got["last"] - got["first"]
        per_s = (got["count"] - 1) / span if got["count"] > 1 and span > 0 else 0.0
        self.results.detail("events_published_delivered", stack.name, [sent["published"], got["count"]])
        return {"events": per_s}

    async def latency(self, stack: Stack) -> dict[str, float]:
        base = self.next_base()
        published, arrived = self.scratch("published"), self.scratch("arrived")
        await stack.ask_controller(cmd="listen", base=base, out=str(arrived))
        pids = (stack.device.pid, stack.controller.pid)
        cpu0, wall0 = [cpu_seconds(p) for p in pids], time.perf_counter()
        sent = await stack.ask_device(
            cmd="paced", seconds=self.plan.latency_s, rate=LATENCY_HZ, base=base, out=str(published)
        )
        cpu1, wall = [cpu_seconds(p) for p in pids], time.perf_counter() - wall0
        await asyncio.sleep(DRAIN_S)
        await stack.ask_controller(cmd="collect")
        latencies = one_way(published, arrived)
        if not latencies:
            raise RuntimeError(f"{stack.name}: no value published at {LATENCY_HZ} Hz arrived")
        return {
            "latency_p50": percentile(latencies, 50),
            "latency_p99": percentile(latencies, 99),
            "delivered": len(latencies) / max(1, sent["published"]),
            "cpu_device": (cpu1[0] - cpu0[0]) / wall,
            "cpu_controller": (cpu1[1] - cpu0[1]) / wall,
        }

    # -- fresh processes ---------------------------------------------------------------------------

    def programs(self) -> dict[str, tuple[list[str], int, Callable[[int], Coroutine[Any, Any, float]], Path | None]]:
        """argv, port, probe and ready file of each program whose start is measured."""
        cli = Path(sys.executable).with_name("device-sdk")
        cli_argv = [str(cli)] if cli.exists() else [sys.executable, "-m", "device_sdk"]
        udp, udp2, tcp = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_DGRAM), free_port()
        state = self.base / "spawn"
        ready = state / "cli.ready.json"
        return {
            "cli": ([*cli_argv, "run", "--board", "sim", "--no-advertise", "--state-dir", str(state / "cli"),
                     "--port", str(udp), "--setup-code", "20202021", "--ready-file", str(ready)],
                    udp, self.probe, ready),
            "script": ([sys.executable, str(SCRIPTS[SDK][0]), "serve", str(state / "script"), str(udp2)], udp2,
                       self.probe, state / "script" / "ready.json"),
            "hap": ([sys.executable, str(SCRIPTS[HAP][0]), "serve", str(state / "hap"), str(tcp)], tcp, http_probe,
                    None),
        }  # fmt: skip

    async def spawn(self, program: str, env: dict[str, str] | None = None) -> Any:
        argv, port, probe, ready = self.programs()[program]
        return await start(argv, port, probe, idle_s=self.plan.idle_s, ready_file=ready, env=env)

    def modules_file(self, key: str, stack: str) -> Path:
        return self.base / f"modules-{key}-{stack}.json"

    async def warm_up(self) -> None:
        """Start each program once (the first start creates its state), recording the modules that the
        device programs load; the modules the controllers have loaded; import each list once."""
        for program in ("cli", "script", "hap"):
            record = {p: s for s, p in IMPORT_PROGRAMS["import_device"].items()}.get(program)
            env = {MODULES_ENV: str(self.modules_file("import_device", record))} if record else None
            await self.spawn(program, env)
        for name, stack in self.stacks.items():
            modules = (await stack.ask_controller(cmd="modules"))["modules"]
            self.modules_file("import_controller", name).write_text(json.dumps(modules))
        floor = self.modules_file("import_floor", SDK)
        listing = f"import json, sys, {', '.join(FLOOR_MODULES)}; json.dump(list(sys.modules), open(sys.argv[1], 'w'))"
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", listing, str(floor))
        if await proc.wait() != 0:
            raise RuntimeError("listing the modules of the import floor failed")
        for key in ("import_device", "import_controller", "import_floor"):
            for name in STACKS if key != "import_floor" else (SDK,):
                path = self.modules_file(key, name)
                _seconds, failed = await import_seconds(path)
                count = len(json.loads(path.read_text()))
                self.results.detail(f"{key}_modules", name, {"count": count, "failed": failed})
                if failed:
                    print(f"note: {len(failed)} of the {name} modules would not import alone: {failed[:5]}",
                          file=sys.stderr)  # fmt: skip

    async def spawns(self) -> None:
        cli = await self.spawn("cli")
        hap = await self.spawn("hap")
        script = await self.spawn("script")
        self.results.add(SDK, {"start_cli": cli.serving_s, "rss_cli": cli.rss_mib,
                               "start_script": script.serving_s, "rss_script": script.rss_mib})  # fmt: skip
        self.results.add(HAP, {"start_cli": hap.serving_s, "rss_cli": hap.rss_mib,
                               "start_script": hap.serving_s, "rss_script": hap.rss_mib})  # fmt: skip
        self.results.detail("ready_file_s", SDK, {"cli": cli.ready_file_s, "script": script.ready_file_s})

    async def imports(self) -> None:
        keys = ("import_device", "import_controller", "import_floor")
        samples: dict[str, dict[str, list[float]]] = {key: {s: [] for s in STACKS} for key in keys}
        for _ in range(self.plan.imports):
            for name in STACKS:
                for key in keys:
                    if key == "import_floor" and name == HAP:  # HAP's device program, as in import_device
                        samples[key][name].append(samples["import_device"][name][-1])
                        continue
                    seconds, _failed = await import_seconds(self.modules_file(key, name))
                    samples[key][name].append(seconds)
        for name in STACKS:
            self.results.add(name, {key: median(samples[key][name]) for key in keys})


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def one_way(published: Path, arrived: Path) -> list[float]:
    """Each arrived value's latency: its arrival time minus its publication time (both files JSON)."""
    times = load(published)
    return [t - times[int(i)] for i, t in load(arrived) if 0 <= int(i) < len(times)]


def snmp() -> dict[str, dict[str, int]]:
    """This network namespace's protocol counters (/proc/net/snmp), by protocol and name."""
    lines = Path("/proc/net/snmp").read_text().splitlines()
    out: dict[str, dict[str, int]] = {}
    for names, values in zip(lines[::2], lines[1::2], strict=True):
        proto, *keys = names.split()
        out[proto.rstrip(":")] = {k: int(v) for k, v in zip(keys, values.split()[1:], strict=True)}
    return out


@dataclass(frozen=True)
class CpuClock:
    """CPU seconds, machine-wide and this benchmark's own, at one moment (from /proc/stat and os.times)."""

    busy: float
    """The machine's CPU seconds running anything (all cores)."""
    steal: float
    """Seconds the hypervisor ran something else instead of this machine."""
    ours: float
    """This process and its children that have ended (all of them, by the end of the run)."""
    wall: float

    @classmethod
    def now(cls) -> CpuClock:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (
            int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
        )
        tick = os.sysconf("SC_CLK_TCK")
        t = os.times()
        return cls(
            busy=(user + nice + system + irq + softirq) / tick,
            steal=steal / tick,
            ours=t.user + t.system + t.children_user + t.children_system,
            wall=time.perf_counter(),
        )

    def since(self, start: CpuClock) -> dict[str, float]:
        """Cores used on average since ``start``: by this benchmark, by other processes, stolen."""
        wall = self.wall - start.wall
        ours = (self.ours - start.ours) / wall
        return {
            "benchmark_cores": round(ours, 3),
            "other_cores": round(max(0.0, (self.busy - start.busy) / wall - ours), 3),
            "steal_cores": round((self.steal - start.steal) / wall, 3),
        }


def machine() -> dict[str, Any]:
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "system": f"{platform.system()} {platform.release()} {platform.machine()}",
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "packages": versions,
    }


def print_machine(info: dict[str, Any]) -> None:
    print(f"device_sdk vs {HAP_NAME} on loopback, separate processes, no mDNS (bench/peers.py)")
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['python']}, {info['system']}")
    print("packages: " + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))
    cpu = info["cpu_during_run"]
    print(f"during the run: this benchmark used {cpu['benchmark_cores']:.2f} core on average, other processes "
          f"{cpu['other_cores']:.2f}, the hypervisor stole {cpu['steal_cores']:.2f}; load average before "
          f"{info['load_before']}, after {info['load_after']}")  # fmt: skip
    if cpu["other_cores"] + cpu["steal_cores"] >= BUSY_CORES:
        print("note: other work ran beside the benchmark and took turns on its cores, so the figures are noisier "
              "(see the ranges); run it again when the machine is quiet")  # fmt: skip
    print()


async def run(plan: Plan) -> dict[str, Any]:
    """Measure, print the table, and return the results as a JSON document."""
    info = machine()
    clock = CpuClock.now()
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        base = Path(tmp)
        stacks: dict[str, Stack] = {}
        try:
            for name in STACKS:
                stacks[name] = await Stack.start(name, base)
            bench = Bench(plan, stacks, base)
            await bench.warm_up()
            for r in range(plan.rounds):
                print(f"round {r + 1} of {plan.rounds} ...", file=sys.stderr, flush=True)
                await bench.round()
        finally:
            for stack in stacks.values():
                await stack.close()
    end = CpuClock.now()  # every child has ended: their CPU time is in os.times()
    info["cpu_during_run"] = end.since(clock)
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    info["duration_s"] = round(end.wall - clock.wall, 1)
    print_machine(info)
    figures = print_report(bench.results, plan.rounds)
    print(f"{plan.rounds} rounds in {info['duration_s']:g} s; packets per set: device_sdk's UDP datagrams counted in "
          "its controller, HAP's TCP segments from /proc/net/snmp")  # fmt: skip
    return {"bench": "peers", "machine": info, "plan": asdict(plan), "figures": figures,
            "details": bench.results.details}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two short rounds (a smoke test)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 10; --quick 2)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args()
    missing = [m for m in ("pyhap", "aiohomekit") if importlib.util.find_spec(m) is None]
    if missing:
        raise SystemExit(
            f"bench/peers.py needs HAP-python and aiohomekit ({', '.join(missing)} missing): pip install -e '.[bench]'"
        )
    plan = QUICK if args.quick else Plan()
    if args.rounds is not None:
        plan = replace(plan, rounds=max(1, args.rounds))
    compile_bytecode(COMPILED, BENCH)
    doc = asyncio.run(run(plan))
    if args.json is not None:
        args.json.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
