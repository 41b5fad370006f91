"""Pairing benchmark on loopback, one run: full pairing (connect, SPAKE2, confirmation) and the
reconnect of a paired controller, each against a bare aioquic handshake with the same certificates
measured in the same run; and the SPAKE2 computation per side.

Goals: pairing <= 1.5x the bare handshake, reconnect <= 1.2x, SPAKE2 <= 2 ms per side.

"Pairing" is what the goal names: connect, SPAKE2 and its key confirmation, timed until the controller
has verified the device's cB and sent its auth-status (the last message of the profile's exchange).
``pair()`` itself returns one round trip later: it also waits for the answer to an agent-status request
sent with that auth-status, which proves that the device has committed (docs/protocol.md, "When each
side is paired"). Both are printed; the goal is read on the first.
"Reconnect" is ``Controller.connect`` returning an authenticated connection to a pinned device (mutual
TLS with both fingerprints checked; the device knows the controller from its trust store). It is
also shown with a first request (agent-info) on top, one round trip more, for which there is no goal.

Both sides run on this one event loop, so all of both sides' work is on the critical path.
``--device-process`` also measures with the device in a child process (``_pairing_peer.py``), as on
its own board: every one-way trip then costs a process wake-up, and pairing has four more of them
than a handshake (``pair()`` six), so its ratios are higher there (printed for comparison; the
goals are read in the first layout).
Usage: .venv/bin/python bench/pairing.py [--runs N] [--device-process]   (well under a minute)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import ssl
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from _channels_parts import Peer
from _util import COMPARISON_HEADERS, comparison_rows, median, print_table, verdict
from aioquic.asyncio.client import connect as quic_connect
from aioquic.quic.configuration import QuicConfiguration

from device_sdk.controller import Controller, ControllerConfig, DeviceTarget
from device_sdk.device import Device, DeviceConfig
from device_sdk.pairing.spake2 import Spake2, password_from_psk
from device_sdk.transport import AgentConnection
from device_sdk.wire import AuthResult, AuthStatus, Message

HOST = "127.0.0.1"
SETUP_CODE = 20202021
SETTLE_S = 0.1
"""A pause before each measurement, so that none starts while the previous one's background work
(state-file writes, the device asking a new controller's name) is still running."""
PEER_SCRIPT = Path(__file__).with_name("_pairing_peer.py")


class Devices(Protocol):
    async def new(self) -> DeviceTarget:
        """A fresh, unpaired device, and where to reach it."""

    async def close(self) -> None: ...


class InProcess:
    """Devices on this event loop."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.device: Device | None = None
        self.count = 0

    async def new(self) -> DeviceTarget:
        await self.close()
        self.count += 1
        config = DeviceConfig(
            state_dir=self.base / f"d{self.count}", name="Bench", advertise=False, host=HOST, setup_code=SETUP_CODE
        )
        device = self.device = Device(config)
        await device.start()
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

    async def close(self) -> None:
        if self.device is not None:
            await self.device.stop()
            self.device = None


class ChildProcess:
    """Devices in a child process (``_pairing_peer.py``), one at a time."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer

    @classmethod
    async def start(cls, base: Path) -> ChildProcess:
        return cls(await Peer.start("device", base, script=PEER_SCRIPT))

    async def new(self) -> DeviceTarget:
        async with asyncio.timeout(20):
            info = await self.peer.command(cmd="new")
        return DeviceTarget(
            name=info["name"],
            addresses=(HOST,),
            port=info["port"],
            fingerprint=bytes.fromhex(info["fingerprint"]),
            sn=info["sn"],
            token=info["token"],
            discriminator=info["discriminator"],
        )

    async def close(self) -> None:
        await self.peer.close()


async def bare_handshake(port: int, ctl: Controller) -> float:
    qc = QuicConfiguration(is_client=True, alpn_protocols=["osp"], verify_mode=ssl.CERT_NONE)
    qc.load_cert_chain(ctl.identity.cert_path, ctl.identity.key_path)
    start = time.perf_counter()
    async with quic_connect(HOST, port, configuration=qc):
        elapsed = time.perf_counter() - start
    return elapsed


class KeyConfirmationClock:
    """Notes when a controller sends its auth-status authenticated: it has verified the device's cB,
    so SPAKE2 with key confirmation is complete on its side (``pair()`` then still waits one round
    trip for the device's commit). Wraps the public ``AgentConnection.send_control`` while in use."""

    def __init__(self) -> None:
        self.at: float | None = None
        self._original = AgentConnection.send_control

    def __enter__(self) -> KeyConfirmationClock:
        original = self._original

        def send_control(conn: AgentConnection, msg: Message) -> None:
            if conn.is_client and msg == AuthStatus(AuthResult.AUTHENTICATED) and self.at is None:
                self.at = time.perf_counter()
            original(conn, msg)

        setattr(AgentConnection, "send_control", send_control)  # noqa: B010 (a method replaced for the bench)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(AgentConnection, "send_control", self._original)  # noqa: B010


async def measure(devices: Devices, base: Path, runs: int) -> dict[str, list[float]]:
    """Per run, a fresh device and controller: bare handshake, pairing, reconnect, reconnect + request."""
    samples: dict[str, list[float]] = {
        "bare": [],
        "key_confirmed": [],
        "pairing": [],
        "reconnect": [],
        "first_request": [],
    }
    for i in range(runs):
        target = await devices.new()
        ctl = Controller(ControllerConfig(state_dir=base / f"c{i}", name="Bench Controller"))
        await asyncio.sleep(SETTLE_S)
        samples["bare"].append(await bare_handshake(target.port, ctl))
        await asyncio.sleep(SETTLE_S)
        with KeyConfirmationClock() as clock:
            start = time.perf_counter()
            conn = await ctl.pair(target, SETUP_CODE)
            samples["pairing"].append(time.perf_counter() - start)
        assert clock.at is not None
        samples["key_confirmed"].append(clock.at - start)
        await conn.close()
        await asyncio.sleep(SETTLE_S)
        start = time.perf_counter()
        conn = await ctl.connect(target)
        samples["reconnect"].append(time.perf_counter() - start)
        await conn.close()
        await asyncio.sleep(SETTLE_S)
        start = time.perf_counter()
        conn = await ctl.connect(target)
        await conn.agent_info()
        samples["first_request"].append(time.perf_counter() - start)
        await conn.close()
        await ctl.close()
    return samples


def report(samples: Mapping[str, Sequence[float]], title: str) -> tuple[float, float]:
    rows = comparison_rows(
        ("bare aioquic handshake", samples["bare"]),
        ("pairing to key confirmation", samples["key_confirmed"]),
        ("pair() (device committed)", samples["pairing"]),
        ("reconnect", samples["reconnect"]),
        ("reconnect + agent-info", samples["first_request"]),
    )
    print_table(COMPARISON_HEADERS, rows, title=title)
    bare = median(samples["bare"])
    return median(samples["key_confirmed"]) / bare, median(samples["reconnect"]) / bare


async def run(runs: int, device_process: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        local = InProcess(base / "one")
        try:
            one = await measure(local, base / "one", runs)
        finally:
            await local.close()
        two: dict[str, list[float]] | None = None
        if device_process:
            child = await ChildProcess.start(base / "child")
            try:
                two = await measure(child, base / "two", runs)
            finally:
                await child.close()
    p, r = report(one, f"pairing on loopback ({runs} runs each, interleaved)")
    bare = median(one["bare"])
    print(f"pairing (connect, SPAKE2, confirmation) / bare  {p:.2f}x  goal <= 1.5x  {verdict(p <= 1.5)}")
    print(f"reconnect / bare                                {r:.2f}x  goal <= 1.2x  {verdict(r <= 1.2)}")
    committed = median(one["pairing"]) / bare
    print(f"pair() / bare {committed:.2f}x  (one round trip more, to learn that the device committed; no goal)")
    f = median(one["first_request"]) / bare
    print(f"reconnect + agent-info / bare {f:.2f}x  (one request round trip more; no goal)")
    if two is not None:
        print()
        p2, r2 = report(two, f"for comparison: the device in its own process ({runs} runs each)")
        c2 = median(two["pairing"]) / median(two["bare"])
        print(f"to key confirmation {p2:.2f}x, pair() {c2:.2f}x, reconnect {r2:.2f}x")


def spake2_per_side(n: int) -> float:
    ids = (os.urandom(32), os.urandom(32))
    pw = password_from_psk(SETUP_CODE)
    start = time.perf_counter()
    for _ in range(n):
        a = Spake2("A", pw, *ids)
        b = Spake2("B", pw, *ids)
        a.finish(b.public_value)
        b.finish(a.public_value)
    return (time.perf_counter() - start) / (2 * n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--device-process", action="store_true", help="also measure with the device in a child process")
    args = parser.parse_args()
    asyncio.run(run(args.runs, args.device_process))
    per_side = spake2_per_side(200)
    print(f"SPAKE2 per side  {per_side * 1000:.3f} ms  goal <= 2 ms  {verdict(per_side <= 0.002)}")


if __name__ == "__main__":
    main()
