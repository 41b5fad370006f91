"""Pairing benchmark on loopback, one run: full pairing (connect, SPAKE2, confirmation) and the
reconnect of a paired controller, each against a bare aioquic handshake with the same certificates
measured in the same run; and the SPAKE2 computation per side.

Goals: pairing <= 1.5x the bare handshake, reconnect <= 1.2x, SPAKE2 <= 2 ms per side.
"Reconnect" is ``Controller.connect`` returning an authenticated connection to a pinned device (mutual
TLS with both fingerprints checked; the device knows the controller from its trust store). It is
also shown with a first request (agent-info) on top, one round trip more, for which there is no goal.
Pairing ends when the device has committed (``pair()`` waits for an agent-info answer after the auth
exchange), and both sides run in this one process, so the device's work is on the critical path too.
Usage: .venv/bin/python bench/pairing.py [--runs N]   (stops by itself in well under a minute)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import tempfile
import time
from pathlib import Path

from _util import COMPARISON_HEADERS, comparison_rows, median, print_table, verdict
from aioquic.asyncio.client import connect as quic_connect
from aioquic.quic.configuration import QuicConfiguration

from device_sdk.config import ControllerConfig, DeviceConfig
from device_sdk.controller import Controller, DeviceTarget
from device_sdk.device import Device
from device_sdk.pairing.spake2 import Spake2, password_from_psk

HOST = "127.0.0.1"
SETTLE_S = 0.1
"""A pause before each measurement, so that none starts while the previous one's background work
(state-file writes, the device asking a new controller's name) is still running."""


def target(device: Device) -> DeviceTarget:
    rec = device.txt_record()
    return DeviceTarget(
        name=device.instance_name,
        addresses=(HOST,),
        port=device.port,
        fingerprint=device.identity.fingerprint,
        sn=rec.sn,
        token=rec.at,
        discriminator=rec.d,
    )


async def bare_handshake(device: Device, ctl: Controller) -> float:
    qc = QuicConfiguration(is_client=True, alpn_protocols=["osp"], verify_mode=ssl.CERT_NONE)
    qc.load_cert_chain(ctl.identity.cert_path, ctl.identity.key_path)
    start = time.perf_counter()
    async with quic_connect(HOST, device.port, configuration=qc):
        elapsed = time.perf_counter() - start
    return elapsed


async def run(runs: int) -> None:
    bare: list[float] = []
    pairing: list[float] = []
    reconnect: list[float] = []
    first_request: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        for i in range(runs):
            device = Device(
                DeviceConfig(state_dir=base / f"d{i}", name="Bench", advertise=False, host=HOST, setup_code=20202021)
            )
            await device.start()
            try:
                ctl = Controller(ControllerConfig(state_dir=base / f"c{i}", name="Bench Controller"))
                await asyncio.sleep(SETTLE_S)
                bare.append(await bare_handshake(device, ctl))
                await asyncio.sleep(SETTLE_S)
                start = time.perf_counter()
                conn = await ctl.pair(target(device), 20202021)
                pairing.append(time.perf_counter() - start)
                await conn.close()
                await asyncio.sleep(SETTLE_S)
                start = time.perf_counter()
                conn = await ctl.connect(target(device))
                reconnect.append(time.perf_counter() - start)
                await conn.close()
                await asyncio.sleep(SETTLE_S)
                start = time.perf_counter()
                conn = await ctl.connect(target(device))
                await conn.agent_info()
                first_request.append(time.perf_counter() - start)
                await conn.close()
            finally:
                await device.stop()
    rows = comparison_rows(
        ("bare aioquic handshake", bare),
        ("full pairing", pairing),
        ("reconnect", reconnect),
        ("reconnect + agent-info", first_request),
    )
    print_table(COMPARISON_HEADERS, rows, title=f"pairing on loopback ({runs} runs each, interleaved)")
    p = median(pairing) / median(bare)
    r = median(reconnect) / median(bare)
    print(f"pairing / bare   {p:.2f}x  goal <= 1.5x  {verdict(p <= 1.5)}")
    f = median(first_request) / median(bare)
    print(f"reconnect / bare {r:.2f}x  goal <= 1.2x  {verdict(r <= 1.2)}")
    print(f"reconnect + agent-info / bare {f:.2f}x  (one request round trip more; no goal)")


def spake2_per_side(n: int) -> float:
    ids = (os.urandom(32), os.urandom(32))
    pw = password_from_psk(20202021)
    start = time.perf_counter()
    for _ in range(n):
        a = Spake2("A", pw, *ids)
        b = Spake2("B", pw, *ids)
        a.finish(b.public_value)
        b.finish(a.public_value)
    return (time.perf_counter() - start) / (2 * n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    asyncio.run(run(args.runs))
    per_side = spake2_per_side(200)
    print(f"SPAKE2 per side  {per_side * 1000:.3f} ms  goal <= 2 ms  {verdict(per_side <= 0.002)}")


if __name__ == "__main__":
    main()
