"""What a compiled QUIC stack would buy (issue 15, item 7): bare aioquic against bare qh3 on loopback,
in one run, A B A B, with the ratio qh3 / aioquic of every figure.

qh3 is a maintained fork of aioquic with the QUIC connection core (packets, loss recovery, streams),
the packet protection and the certificate and key operations compiled in Rust, and a UDP transport
that batches (GSO/GRO); its TLS 1.3 state machine is still Python. It keeps aioquic's Python API, so
each stack runs the same protocol class (_quic_stacks_peer.py) as a server process and a client
process, both driven by this process over JSON lines. Certificates: device_sdk agent identities
(ECDSA P-256, self-signed), the server's and the client's; the client does not verify the server's
(as bench/transport.py). Neither stack is wrapped by device_sdk: these are the floors under it.

Mutual TLS: qh3's server cannot ask for a client certificate (its TLS state machine has no
CertificateRequest), so the compared handshakes are server-authenticated only; aioquic with mutual
TLS (device_sdk's private switch) is measured beside them for reference.

Each round measures, for each stack, with the order of the stacks alternating from round to round:
* handshake: connect (a new configuration each time) to connected, one at a time, the stacks taking
  turns one by one; CPU per handshake of each process (its close included);
* round trip: a 30-byte request on a bidirectional stream, answered with 30 bytes from the server's
  event handler (the answer carries the ACK), the next request once the answer is in: p50 and rate;
  UDP datagrams per round trip, and each process's CPU per datagram it sent or received (the
  per-packet cost that bench/peers.py's set, 1 kHz and fan-out figures are made of);
* events: 30-byte messages on one unidirectional stream, 16 per event-loop turn, as fast as the
  server can write them; events/s as the client received them (first to last), and CPU per event of
  the sender and of the receiver.
A figure's value is the median of its per-round values (range beside it); the ratio is the median of
the per-round ratios qh3 / aioquic.

qh3 is not a project dependency (the ``bench`` extra lists it); without it this script says so and
exits 0. Usage: .venv/bin/python bench/quic_stacks.py [--quick] [--rounds N] [--json FILE] [--profile DIR]
(--profile: each child under cProfile, DIR/<stack>-<role>.prof at its end.)
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from _channels_parts import Peer
from _util import print_table
from peers import BUSY_CORES, CpuClock

from device_sdk.identity import AgentIdentity

PEER_SCRIPT = Path(__file__).with_name("_quic_stacks_peer.py")
STACKS = ("aioquic", "qh3")
MUTUAL = "aioquic mTLS"
"""The reference kind of handshake: aioquic's server asking for the client's certificate."""
COMMAND_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Plan:
    rounds: int = 10
    handshakes: int = 5
    """Handshakes per stack and round."""
    rtt_s: float = 1.0
    events_s: float = 1.0


QUICK = Plan(rounds=2, handshakes=2, rtt_s=0.3, events_s=0.3)


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: str
    """"ms", "µs" (values kept in seconds), "/s" or "" (a plain number)."""


FIGURES = (
    Figure("handshake", "handshake, connect to connected (server cert only)", "ms"),
    Figure("handshake_mtls", "  for reference: aioquic with mutual TLS (as device_sdk)", "ms"),
    Figure("handshake_cpu_client", "CPU per handshake, client (close included)", "ms"),
    Figure("handshake_cpu_server", "CPU per handshake, server (close included)", "ms"),
    Figure("rtt_p50", "round trip, 30 bytes each way, p50", "ms"),
    Figure("rtt_rate", "round trips one after another", "/s"),
    Figure("rtt_datagrams", "UDP datagrams per round trip, both ways", ""),
    Figure("packet_cpu_server", "CPU per datagram sent or received, server", "µs"),
    Figure("packet_cpu_client", "CPU per datagram sent or received, client", "µs"),
    Figure("events", "events to one client, 30-byte stream messages", "/s"),
    Figure("event_cpu_sender", "CPU per event, sender (server)", "µs"),
    Figure("event_cpu_receiver", "CPU per event, receiver (client)", "µs"),
    Figure("event_datagrams", "UDP datagrams per 100 events, both ways", ""),
)


def fmt(unit: str, value: float, *, bare: bool = False) -> str:
    """``value`` (kept in seconds for times) in ``unit``, with the unit unless ``bare``."""
    if unit == "/s":
        return f"{value:,.0f}" if bare else f"{value:,.0f}/s"
    if not unit:
        return f"{value:.2f}"
    text = f"{value * (1000 if unit == 'ms' else 1e6):.3g}"
    return text if bare else f"{text} {unit}"


class Side:
    """One stack's server and client processes."""

    def __init__(self, name: str, server: Peer, client: Peer) -> None:
        self.name = name
        self.server = server
        self.client = client
        self.port = 0
        self.mutual_port = 0

    @classmethod
    async def start(cls, name: str, base: Path, profile: Path | None) -> Side:
        server = await Peer.start(f"{name}-server", base / name / "server", profile=profile, script=PEER_SCRIPT)
        try:
            client = await Peer.start(f"{name}-client", base / name / "client", profile=profile, script=PEER_SCRIPT)
        except BaseException:
            await server.close()
            raise
        return cls(name, server, client)

    async def close(self) -> None:
        await self.client.close()
        await self.server.close()


async def ask(peer: Peer, **cmd: Any) -> dict[str, Any]:
    async with asyncio.timeout(COMMAND_TIMEOUT_S):
        return await peer.command(**cmd)


class Meter:
    """CPU seconds and datagrams sent by both processes of a side, between two moments."""

    def __init__(self, side: Side) -> None:
        self.side = side
        self.before: tuple[dict[str, Any], dict[str, Any]] | None = None

    async def _stats(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return await ask(self.side.server, cmd="stats"), await ask(self.side.client, cmd="stats")

    async def start(self) -> None:
        self.before = await self._stats()

    async def stop(self) -> dict[str, float]:
        assert self.before is not None
        after = await self._stats()
        (s0, c0), (s1, c1) = self.before, after
        return {
            "server_cpu": s1["process_cpu"] - s0["process_cpu"],
            "client_cpu": c1["process_cpu"] - c0["process_cpu"],
            "server_sent": s1["datagrams_sent"] - s0["datagrams_sent"],
            "client_sent": c1["datagrams_sent"] - c0["datagrams_sent"],
        }


class Bench:
    def __init__(self, plan: Plan, sides: dict[str, Side], certs: dict[str, str]) -> None:
        self.plan = plan
        self.sides = sides
        self.certs = certs
        self.rounds: dict[str, dict[str, list[float]]] = {f.key: {s: [] for s in STACKS} for f in FIGURES}

    def add(self, stack: str, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.rounds[key][stack].append(value)

    async def setup(self) -> None:
        for name, side in self.sides.items():
            side.port = (await ask(side.server, cmd="serve", mutual=False, **self.server_cert()))["port"]
            if name == "aioquic":
                side.mutual_port = (await ask(side.server, cmd="serve", mutual=True, **self.server_cert()))["port"]
            await ask(side.client, cmd="connect", port=side.port, **self.client_cert())

    def server_cert(self) -> dict[str, str]:
        return {"cert": self.certs["server_cert"], "key": self.certs["server_key"]}

    def client_cert(self) -> dict[str, str]:
        return {"cert": self.certs["client_cert"], "key": self.certs["client_key"]}

    async def round(self, index: int) -> None:
        order = STACKS if index % 2 == 0 else STACKS[::-1]
        await self.handshakes(order)
        for name in order:
            self.add(name, await self.round_trips(self.sides[name]))
        for name in order:
            self.add(name, await self.events(self.sides[name]))

    async def handshakes(self, order: Sequence[str]) -> None:
        kinds = [*order, MUTUAL] if order[0] == STACKS[0] else [MUTUAL, *order]
        seconds: dict[str, list[float]] = {k: [] for k in kinds}
        cpu: dict[str, list[tuple[float, float]]] = {k: [] for k in STACKS}
        for _ in range(self.plan.handshakes):
            for kind in kinds:
                side = self.sides["aioquic" if kind == MUTUAL else kind]
                port = side.mutual_port if kind == MUTUAL else side.port
                meter = Meter(side)
                await meter.start()
                r = await ask(side.client, cmd="handshakes", port=port, count=1, **self.client_cert())
                used = await meter.stop()
                seconds[kind].extend(r["seconds"])
                if kind in cpu:
                    cpu[kind].append((used["client_cpu"], used["server_cpu"]))
        for name in STACKS:
            self.add(name, {"handshake": statistics.median(seconds[name]),
                            "handshake_cpu_client": statistics.median(c for c, _ in cpu[name]),
                            "handshake_cpu_server": statistics.median(s for _, s in cpu[name])})  # fmt: skip
        self.rounds["handshake_mtls"]["aioquic"].append(statistics.median(seconds[MUTUAL]))

    async def round_trips(self, side: Side) -> dict[str, float]:
        meter = Meter(side)
        await meter.start()
        r = await ask(side.client, cmd="rtt", seconds=self.plan.rtt_s)
        used = await meter.stop()
        count = r["count"]
        packets = used["server_sent"] + used["client_sent"]
        return {
            "rtt_p50": r["p50"],
            "rtt_rate": count / r["elapsed"],
            "rtt_datagrams": packets / count,
            "packet_cpu_server": used["server_cpu"] / packets,
            "packet_cpu_client": used["client_cpu"] / packets,
        }

    async def events(self, side: Side) -> dict[str, float]:
        await ask(side.client, cmd="listen")
        meter = Meter(side)
        await meter.start()
        sent = (await ask(side.server, cmd="burst", seconds=self.plan.events_s))["sent"]
        got = await ask(side.client, cmd="collect", expect=sent)
        used = await meter.stop()
        count, span = got["count"], got["last"] - got["first"]
        if count < sent:
            print(f"note: {side.name}: {count} of {sent} events arrived", file=sys.stderr)
        return {
            "events": (count - 1) / span if count > 1 and span > 0 else 0.0,
            "event_cpu_sender": used["server_cpu"] / max(1, sent),
            "event_cpu_receiver": used["client_cpu"] / max(1, count),
            "event_datagrams": 100 * (used["server_sent"] + used["client_sent"]) / max(1, count),
        }

    def summaries(self) -> list[dict[str, Any]]:
        out = []
        for fig in FIGURES:
            values = self.rounds[fig.key]
            entry: dict[str, Any] = {"key": fig.key, "label": fig.label.strip(), "unit": fig.unit}
            for stack in STACKS:
                v = values[stack]
                entry[stack] = {"value": statistics.median(v) if v else None, "min": min(v, default=None),
                                "max": max(v, default=None), "rounds": v}  # fmt: skip
            ratios = [b / a for a, b in zip(values["aioquic"], values["qh3"], strict=False) if a]
            entry["ratio"] = statistics.median(ratios) if ratios else None
            out.append(entry)
        return out


def cell(fig: Figure, part: dict[str, Any]) -> str:
    if part["value"] is None:
        return "-"
    text = fmt(fig.unit, part["value"])
    if len(part["rounds"]) > 1:
        text += f" ({fmt(fig.unit, part['min'], bare=True)}-{fmt(fig.unit, part['max'], bare=True)})"
    return text


def print_report(summaries: list[dict[str, Any]], rounds: int) -> None:
    rows: list[list[object]] = []
    for fig, s in zip(FIGURES, summaries, strict=True):
        ratio = "-" if s["ratio"] is None else f"{s['ratio']:.2f}x"
        qh3 = cell(fig, s["qh3"]) if s["qh3"]["value"] is not None else "(no client-cert request)"
        rows.append([fig.label, cell(fig, s["aioquic"]), qh3, ratio])
    print_table(("figure", "aioquic", "qh3", "qh3/aioquic"), rows,
                title=f"median of {rounds} round(s) (min-max of the per-round values); "
                "ratio: median of the per-round ratios qh3 / aioquic")  # fmt: skip


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), "unknown CPU")  # fmt: skip
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {p: importlib.metadata.version(p) for p in STACKS},
        "load_before": [round(x, 2) for x in os.getloadavg()],
    }


async def run(plan: Plan, profile: Path | None) -> dict[str, Any]:
    info = machine()
    clock = CpuClock.now()
    with tempfile.TemporaryDirectory(prefix="bench-quic-stacks-") as tmp:
        base = Path(tmp)
        ids = {role: AgentIdentity.load_or_create(base / role, model_name="bench", instance_name=role.title())
               for role in ("server", "client")}  # fmt: skip
        certs = {f"{role}_{kind}": str(getattr(ids[role], f"{kind}_path")) for role in ids for kind in ("cert", "key")}
        sides: dict[str, Side] = {}
        try:
            for name in STACKS:
                sides[name] = await Side.start(name, base, profile)
            bench = Bench(plan, sides, certs)
            await bench.setup()
            for r in range(plan.rounds):
                print(f"round {r + 1} of {plan.rounds} ...", file=sys.stderr, flush=True)
                await bench.round(r)
            for side in sides.values():
                await ask(side.client, cmd="close")
        finally:
            for side in sides.values():
                await side.close()
    end = CpuClock.now()
    info["cpu_during_run"] = end.since(clock)
    info["load_after"] = [round(x, 2) for x in os.getloadavg()]
    info["duration_s"] = round(end.wall - clock.wall, 1)
    cpu = info["cpu_during_run"]
    print("bare aioquic vs bare qh3 on loopback, server and client in separate processes (bench/quic_stacks.py)")
    print(f"machine: {info['cpu']}, {info['cores']} cores, {info['python']}; "
          + ", ".join(f"{k} {v}" for k, v in info["packages"].items()))  # fmt: skip
    print(f"during the run: this benchmark used {cpu['benchmark_cores']:.2f} core on average, other processes "
          f"{cpu['other_cores']:.2f}, the hypervisor stole {cpu['steal_cores']:.2f}; load average before "
          f"{info['load_before']}, after {info['load_after']}")  # fmt: skip
    if cpu["other_cores"] + cpu["steal_cores"] >= BUSY_CORES:
        print("note: other work ran beside the benchmark; the ratios are steadier than the values")
    print()
    summaries = bench.summaries()
    print_report(summaries, plan.rounds)
    print(f"{plan.rounds} rounds in {info['duration_s']:g} s; handshakes without a client certificate on both "
          "stacks (qh3's server cannot request one)")  # fmt: skip
    return {"bench": "quic_stacks", "machine": info, "plan": asdict(plan), "figures": summaries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two short rounds (a smoke test)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 10; --quick 2)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE", help="also write the results as JSON")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR", help="run the children under cProfile")
    args = parser.parse_args()
    if importlib.util.find_spec("qh3") is None:
        print("bench/quic_stacks.py: qh3 is not installed, nothing to compare aioquic with; "
              "pip install -e '.[bench]' (or pip install qh3) and run it again")  # fmt: skip
        return
    plan = QUICK if args.quick else Plan()
    if args.rounds is not None:
        plan = replace(plan, rounds=max(1, args.rounds))
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    doc = asyncio.run(run(plan, args.profile))
    if args.json is not None:
        args.json.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
