"""Baby monitor example, device side: sound level with an alert, room temperature, a PWM night light
and a live 16 kHz audio stream, all simulated.

The simulated microphone hears a quiet hum with noise, and every ``--burst-every`` seconds a one-second
burst of crying. The level (dB) is published at 10 Hz; ``alert`` turns true while the level is above the
``threshold`` actuator, which the controller can set.

    .venv/bin/python examples/baby_monitor/device.py --state-dir /tmp/baby --ready-file /tmp/baby/ready.json \\
        --loopback --setup-code 20202021 --duration 60
"""

from __future__ import annotations

import argparse
import array
import asyncio
import contextlib
import math
import random
import signal
import time
from pathlib import Path
from typing import Any

from device_sdk.device import Device, DeviceConfig, DeviceEvent, Paired, PairingWindowChanged
from device_sdk.device.sticker import format_manual_code

RATE = 16000
CHUNK_S = 0.02
SAMPLES = int(RATE * CHUNK_S)  # 320 samples, 640 bytes of pcm_s16le
LEVEL_EVERY = 5  # chunks between level readings: 10 Hz


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state-dir", type=Path, required=True, help="identity, setup code and trust store")
    p.add_argument("--ready-file", type=Path, help="write the port and fingerprint here once serving")
    p.add_argument("--name", default="Baby Monitor")
    p.add_argument("--loopback", action="store_true", help="serve on 127.0.0.1 only, without mDNS")
    p.add_argument("--setup-code", type=int, help="use this passcode instead of the factory one")
    p.add_argument("--burst-every", type=float, default=6.0, help="seconds between simulated cries")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    return p.parse_args(argv)


class Microphone:
    """A simulated microphone: 20 ms chunks of a 220 Hz hum plus noise, with periodic bursts."""

    def __init__(self, burst_every: float, seed: int | None = None) -> None:
        self.burst_every = burst_every
        self.rng = random.Random(seed)
        self.n = 0

    def crying_at(self, t: float) -> bool:
        """Whether the simulated baby cries ``t`` seconds after start (the last second of each period)."""
        return t % self.burst_every >= self.burst_every - 1.0

    def chunk(self) -> bytes:
        """The next 20 ms of audio."""
        t0 = self.n / RATE
        loud = self.crying_at(t0)
        tone, amp, noise = (450.0, 12000.0, 3000.0) if loud else (220.0, 300.0, 150.0)
        samples = array.array("h", bytes(2 * SAMPLES))
        for i in range(SAMPLES):
            t = (self.n + i) / RATE
            v = amp * math.sin(2 * math.pi * tone * t) + self.rng.gauss(0.0, noise)
            samples[i] = max(-32768, min(32767, int(v)))
        self.n += SAMPLES
        return samples.tobytes()


def level_db(pcm: bytes) -> float:
    """A sound level from PCM: dB relative to full scale, shifted so that silence is about 0 dB."""
    samples = array.array("h", pcm)
    rms = math.sqrt(sum(s * s for s in samples) / max(1, len(samples)))
    return round(20 * math.log10(max(rms, 1.0) / 32768) + 96.0, 1)


class BabyMonitor:
    """The monitor's channels and behaviour."""

    def __init__(self, device: Device, burst_every: float) -> None:
        self.mic = Microphone(burst_every)
        self.level = device.sensor("sound_level", type="float", unit="dB", rate_hz=10)
        self.alert = device.sensor("alert", type="bool")
        self.temperature = device.sensor("temperature", type="float", unit="C", rate_hz=0.5)
        self.threshold = device.actuator(
            "threshold", type="float", unit="dB", min=0, max=120, initial=60.0, handler=self.set_threshold
        )
        self.light = device.actuator("night_light", type="float", min=0, max=1, initial=0.0, handler=self.set_light)
        self.audio = device.stream("audio", format={"codec": "pcm_s16le", "rate": RATE, "channels": 1})
        self.limit = 60.0
        self.alerting = False
        self.alert.publish(False)

    def set_threshold(self, value: Any) -> float:
        self.limit = float(value)
        print(f"alert threshold {self.limit:.1f} dB", flush=True)
        return self.limit

    def set_light(self, value: Any) -> float:
        duty = float(value)
        print(f"night light PWM duty {duty:.2f}", flush=True)
        return duty

    async def listen(self) -> None:
        """Produce audio in real time (deadline-paced, so the average rate is exact) and the level."""
        start = time.monotonic()
        chunks = 0
        window = bytearray()
        while True:
            pcm = self.mic.chunk()
            self.audio.write(pcm)
            window += pcm
            chunks += 1
            if chunks % LEVEL_EVERY == 0:
                self.publish_level(level_db(bytes(window)))
                window.clear()
            delay = start + chunks * CHUNK_S - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            elif chunks % 50 == 0:
                await asyncio.sleep(0)  # behind: catch up, but let the network run

    def publish_level(self, db: float) -> None:
        self.level.publish(db)
        loud = db > self.limit
        if loud != self.alerting:
            self.alerting = loud
            self.alert.publish(loud)

    async def thermometer(self) -> None:
        while True:
            self.temperature.publish(round(21.0 + 0.5 * math.sin(time.time() / 60) + random.gauss(0, 0.05), 2))
            await asyncio.sleep(2.0)


def on_event(event: DeviceEvent) -> None:
    if isinstance(event, PairingWindowChanged):
        print(f"pairing window {'open' if event.open else 'closed'} ({event.reason})", flush=True)
    elif isinstance(event, Paired):
        print(f"paired with {event.name!r} as {event.role}", flush=True)


async def main(args: argparse.Namespace) -> None:
    device = Device(
        DeviceConfig(
            state_dir=args.state_dir,
            name=args.name,
            model="device_sdk baby monitor",
            advertise=not args.loopback,
            host="127.0.0.1" if args.loopback else "::",
            interfaces=("127.0.0.1",) if args.loopback else None,
            setup_code=args.setup_code,
            ready_file=args.ready_file,
        )
    )
    monitor = BabyMonitor(device, args.burst_every)
    device.subscribe(on_event)
    print(f"manual code: {format_manual_code(device.factory.manual_code)}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await device.start()
    tasks = [asyncio.create_task(monitor.listen()), asyncio.create_task(monitor.thermometer())]
    try:
        print(f"serving on UDP port {device.port}", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.duration)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await device.stop()
        print("stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
