"""Baby monitor example, controller side: show the sound level, raise alerts, listen to the audio.

    .venv/bin/python examples/baby_monitor/controller.py --state-dir /tmp/parent \\
        --ready-file /tmp/baby/ready.json --code 20202021 --duration 20

Prints the level, an ``ALERT`` line whenever the device's ``alert`` turns on, the temperature, and at
the end how much audio arrived compared with real time (16 kHz, 16-bit mono: 32000 bytes/s).
With ``--save baby.wav`` it also keeps what it hears as a WAV file (play it with any audio player).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from device_sdk.controller import Controller, ControllerConfig, DeviceConnection, DeviceTarget
from device_sdk.controller.recording import StreamRecorder
from device_sdk.discovery import DiscoveredDevice
from device_sdk.errors import DeviceSDKError

BYTES_PER_S = 16000 * 2


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state-dir", type=Path, required=True, help="the controller's identity and pins")
    p.add_argument("--ready-file", type=Path, help="the monitor's ready file (else: mDNS)")
    p.add_argument("--code", required=True, help="the setup code (manual code, QR text or passcode)")
    p.add_argument("--threshold", type=float, help="set the alert threshold (dB)")
    p.add_argument("--night-light", type=float, help="set the night light (0..1)")
    p.add_argument("--duration", type=float, default=10.0, help="listen for this many seconds")
    p.add_argument("--quiet", action="store_true", help="print the level once a second only")
    p.add_argument("--save", type=Path, help="save the audio heard to this WAV file")
    return p.parse_args(argv)


@dataclass
class AudioStats:
    chunks: int = 0
    bytes: int = 0
    first_at: float | None = None
    first_bytes: int = 0
    last_at: float = 0.0

    def rate(self) -> float:
        """Bytes per second after the first chunk arrived."""
        if self.first_at is None or self.last_at <= self.first_at:
            return 0.0
        return (self.bytes - self.first_bytes) / (self.last_at - self.first_at)


async def show_levels(conn: DeviceConnection, quiet: bool) -> None:
    last_print = 0.0
    async for reading in conn.subscribe("sound_level"):
        now = time.monotonic()
        if not quiet or now - last_print >= 1.0:
            last_print = now
            print(f"level {reading.value:5.1f} dB", flush=True)


async def watch_alerts(conn: DeviceConnection) -> None:
    async for reading in conn.subscribe("alert"):
        if reading.value:
            print(f"ALERT: the baby is crying (seq {reading.seq})", flush=True)
        else:
            print("alert off", flush=True)


async def show_temperature(conn: DeviceConnection) -> None:
    async for reading in conn.subscribe("temperature"):
        print(f"room temperature {reading.value:.1f} C", flush=True)


async def listen(conn: DeviceConnection, stats: AudioStats, save: Path | None) -> None:
    recorder: StreamRecorder | None = None
    try:
        async for chunk in conn.stream("audio"):
            now = time.monotonic()
            stats.chunks += 1
            stats.bytes += len(chunk.data)
            stats.last_at = now
            if stats.first_at is None:
                stats.first_at, stats.first_bytes = now, len(chunk.data)
                fmt = conn.stream_format("audio")
                described = f"{fmt.codec} {dict(fmt.params)}" if fmt is not None else "unknown"
                print(f"audio format: {described}", flush=True)
                if save is not None:  # WAV for pcm_s16le, with the format's rate and channels
                    recorder = StreamRecorder.to_file(save, fmt)
            if recorder is not None:
                recorder.write(chunk.data)
    finally:
        if recorder is not None:
            recorder.close()
            print(f"saved {recorder.describe()} to {save}", flush=True)


async def monitor(conn: DeviceConnection, args: argparse.Namespace) -> AudioStats:
    if args.threshold is not None:
        print(f"threshold set: {await conn.set('threshold', args.threshold)}", flush=True)
    if args.night_light is not None:
        print(f"night light set: {await conn.set('night_light', args.night_light)}", flush=True)
    stats = AudioStats()
    tasks = [
        asyncio.create_task(show_levels(conn, args.quiet)),
        asyncio.create_task(watch_alerts(conn)),
        asyncio.create_task(show_temperature(conn)),
        asyncio.create_task(listen(conn, stats, args.save)),
    ]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*tasks), args.duration)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return stats


async def main(args: argparse.Namespace) -> int:
    async with Controller(ControllerConfig(state_dir=args.state_dir, name="Parent unit")) as ctl:
        target: DeviceTarget | DiscoveredDevice
        if args.ready_file is not None:
            target = DeviceTarget.from_ready_file(args.ready_file)
        else:
            target = await ctl.find_for_code(args.code)
        conn = await ctl.pair(target, args.code)
        print(f"paired with {conn.name}", flush=True)
        try:
            stats = await monitor(conn, args)
        finally:
            await conn.close()
    ratio = stats.rate() / BYTES_PER_S
    print(f"audio: {stats.chunks} chunks, {stats.bytes} bytes, {stats.rate():.0f} B/s = {ratio:.3f}x real time")
    return 0 if stats.chunks else 1


def run(argv: list[str] | None = None) -> int:
    """The script's entry point: 0 on success, 2 with a one-line error."""
    try:
        return asyncio.run(main(parse_args(argv)))
    except (DeviceSDKError, TimeoutError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(run())
