"""Benchmark of the browser dashboard (docs/dashboard.md, "Performance").

1. Latency from ``Sensor.publish`` on a device to the value in the page's DOM, at 100 Hz on loopback
   (goal: p99 <= 20 ms), against the same readings arriving at a plain Controller's ``subscribe``
   iterator (the baseline, measured in the same run).
2. The dashboard server's CPU with 10 devices publishing at 10 Hz, all open in one page (its device list
   watches every paired device; goal: < 20 % of one core), against a plain Controller subscribed to
   the same sensors.

The devices run in a child process (``_dashboard_devices.py``), the dashboard server in another
(``device-sdk dashboard``), the page in the system chromium (headless, driven by Playwright). Publication
times are ``time.time()`` in the device process; the page's times are ``performance.timeOrigin +
performance.now()``, corrected by the offset between the two clocks measured before each run.

    .venv/bin/python bench/dashboard.py [--seconds 10] [--rate 100] [--devices 10] [--load-rate 10]

The numbers depend on the machine and its load: compare the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _channels_parts import Peer
from _util import median, ms, percentile, print_table, verdict

from device_sdk import Controller, ControllerConfig
from tests._chromium import CHROMIUM_ARGS, system_chromium

DEVICES_SCRIPT = Path(__file__).with_name("_dashboard_devices.py")
LOOPBACK = ("127.0.0.1",)
SETUP_CODE = 20202021
LATENCY_GOAL_S = 0.020
CPU_GOAL = 0.20


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=10.0, help="length of each measurement")
    p.add_argument("--rate", type=float, default=100.0, help="publication rate of the latency run (Hz)")
    p.add_argument("--devices", type=int, default=10, help="devices of the CPU run")
    p.add_argument("--load-rate", type=float, default=10.0, help="publication rate per device of the CPU run (Hz)")
    return p.parse_args(argv)


def controller(state: Path) -> Controller:
    return Controller(ControllerConfig(state_dir=state, name="Dashboard bench", interfaces=LOOPBACK))


async def pair_all(state: Path, devices: list[dict[str, Any]]) -> None:
    async with controller(state) as ctl:
        for device in devices:
            conn = await ctl.pair(await ctl.find(device["name"], timeout=15), SETUP_CODE)
            await conn.close()


def latencies(published: list[float], arrived: dict[int, float]) -> list[float]:
    return [arrived[i] - t for i, t in enumerate(published) if i in arrived]


async def baseline_latency(state: Path, peer: Peer, device: dict[str, Any], args: argparse.Namespace) -> list[float]:
    """Sensor.publish -> a plain Controller's subscribe iterator, in this process."""
    arrived: dict[int, float] = {}
    async with controller(state) as ctl, await ctl.connect(device["name"]) as conn:
        first = asyncio.Event()

        async def consume() -> None:
            async for reading in conn.subscribe("bench"):
                first.set()
                if isinstance(reading.value, int) and reading.value >= 0:
                    arrived[reading.value] = time.time()

        task = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 10)
        answer = await peer.command(cmd="publish", device=0, rate=args.rate, seconds=args.seconds)
        await asyncio.sleep(0.5)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return latencies(answer["published"], arrived)


async def baseline_cpu(state: Path, peer: Peer, devices: list[dict[str, Any]], args: argparse.Namespace) -> float:
    """CPU share of one core of a plain Controller subscribed to every device's ``level``."""
    async with controller(state) as ctl:
        conns = [await ctl.connect(d["name"]) for d in devices]
        counts = [0] * len(conns)

        async def consume(i: int) -> None:
            async for _ in conns[i].subscribe("level"):
                counts[i] += 1

        tasks = [asyncio.create_task(consume(i)) for i in range(len(conns))]
        await asyncio.sleep(1.0)
        cpu, wall = time.process_time(), time.perf_counter()
        await peer.command(cmd="load", rate=args.load_rate, seconds=args.seconds)
        share = (time.process_time() - cpu) / (time.perf_counter() - wall)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for conn in conns:
            await conn.close()
    return share


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of process ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.asynccontextmanager
async def dashboard_server(state: Path) -> Any:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "device_sdk",
        "dashboard",
        "--listen",
        "127.0.0.1:0",
        "--state-dir",
        str(state),
        "--interface",
        "lo",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 20)).decode()
        if "http://" not in line:
            raise RuntimeError(f"the dashboard did not start: {line!r}")
        yield proc, line.split(": ", 1)[1].strip()
    finally:
        proc.send_signal(2)
        try:
            await asyncio.wait_for(proc.wait(), 10)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def clock_offset(page: Any) -> float:
    """The page's clock minus this one (seconds), from the round trip with the smallest delay."""
    best = (float("inf"), 0.0)
    for _ in range(30):
        before = time.time()
        theirs = await page.evaluate("performance.timeOrigin + performance.now()") / 1000
        after = time.time()
        best = min(best, (after - before, theirs - (before + after) / 2))
    return best[1]


OBSERVE = """() => {
    window.__bench = [];
    const el = document.querySelector('[data-testid=value-bench]');
    new MutationObserver(() => window.__bench.push([el.textContent, performance.timeOrigin + performance.now()]))
        .observe(el, { childList: true, characterData: true, subtree: true });
}"""


async def page_latency(page: Any, peer: Peer, args: argparse.Namespace) -> list[float]:
    """Sensor.publish -> the value in the device page's DOM."""
    await page.wait_for_selector("[data-testid=value-bench]", timeout=20_000)
    await asyncio.sleep(1.0)  # the catalog and the first values have arrived: the element stays
    await page.evaluate(OBSERVE)
    offset = await clock_offset(page)
    answer = await peer.command(cmd="publish", device=0, rate=args.rate, seconds=args.seconds)
    await asyncio.sleep(0.5)
    arrived: dict[int, float] = {}
    for text, at in await page.evaluate("window.__bench"):
        with contextlib.suppress(ValueError):
            arrived.setdefault(int(text), at / 1000 - offset)
    return latencies(answer["published"], arrived)


async def page_cpu(page: Any, url: str, pid: int, peer: Peer, args: argparse.Namespace) -> float:
    """CPU share of one core of the dashboard server with every device open in one page."""
    await page.goto(url + "#/")
    # a locator, not wait_for_function: that needs eval, which the page's CSP forbids
    await page.locator("[data-testid=device-card][data-status=online]").nth(args.devices - 1).wait_for(timeout=30_000)
    await asyncio.sleep(2.0)
    cpu, wall = process_cpu(pid), time.perf_counter()
    await peer.command(cmd="load", rate=args.load_rate, seconds=args.seconds)
    return (process_cpu(pid) - cpu) / (time.perf_counter() - wall)


async def main(args: argparse.Namespace) -> int:
    from playwright.async_api import async_playwright

    with tempfile.TemporaryDirectory(prefix="dashboard-bench-") as tmp:
        state = Path(tmp)
        peer = await Peer.start(str(args.devices), state / "devices", script=DEVICES_SCRIPT)
        try:
            devices: list[dict[str, Any]] = peer.ready
            await pair_all(state / "ctl", devices)
            base_latency = await baseline_latency(state / "ctl", peer, devices[0], args)
            base_cpu = await baseline_cpu(state / "ctl", peer, devices, args)
            async with (
                dashboard_server(state / "ctl") as (proc, url),
                async_playwright() as playwright,
            ):
                browser = await playwright.chromium.launch(executable_path=system_chromium(), args=CHROMIUM_ARGS)
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                await page.goto(f"{url}#/device/{quote(devices[0]['fp'], safe='')}")
                dom_latency = await page_latency(page, peer, args)
                server_cpu = await page_cpu(page, url, proc.pid, peer, args)
                await browser.close()
        finally:
            await peer.close()

    expected = int(args.rate * args.seconds)
    rows: list[list[object]] = []
    base = median(base_latency)
    for name, samples in (("controller subscribe() (baseline)", base_latency), ("dashboard page DOM", dom_latency)):
        m = median(samples)
        rows.append([name, f"{len(samples)}/{expected}", ms(m), ms(percentile(samples, 99)), f"{m / base:.2f}x"])
    print_table(
        ["Sensor.publish ->", "values", "median", "p99", "median / baseline"],
        rows,
        title=f"Latency at {args.rate:g} Hz for {args.seconds:g} s, one device, loopback",
    )
    p99 = percentile(dom_latency, 99)
    print(f"goal: page p99 <= {LATENCY_GOAL_S * 1000:.0f} ms: {ms(p99)} {verdict(p99 <= LATENCY_GOAL_S)}")
    print()
    print_table(
        ["process", "CPU (one core)", "ratio"],
        [
            ["plain controller subscribed (baseline)", f"{base_cpu:.1%}", "1.00x"],
            ["dashboard server, one page open", f"{server_cpu:.1%}", f"{server_cpu / max(base_cpu, 1e-9):.2f}x"],
        ],
        title=f"CPU with {args.devices} devices x {args.load_rate:g} Hz for {args.seconds:g} s",
    )
    print(f"goal: dashboard server < {CPU_GOAL:.0%} of one core: {server_cpu:.1%} {verdict(server_cpu < CPU_GOAL)}")
    print(f"(load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores: other work inflates these)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
