"""`make demo`: a simulated device and a controller that discovers it, pairs by its code and streams
its temperature, saying what happens at each step. Runs on loopback; stops by itself."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from device_sdk.controller import Controller, ControllerConfig
from device_sdk.device import Device, DeviceConfig
from device_sdk.device.sticker import format_manual_code

SECONDS = 4.0


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="device-sdk-demo-") as tmp:
        base = Path(tmp)
        step("starting a simulated device (board 'sim') on loopback")
        device = Device(
            DeviceConfig(
                state_dir=base / "device",
                name="Demo Thermometer",
                board="sim",
                host="127.0.0.1",
                interfaces=("127.0.0.1",),
            )
        )
        await device.start()
        try:
            factory = device.factory
            step(f"device serving on UDP port {device.port}, fingerprint {device.fingerprint[:16]}…")
            step(f"its sticker reads: QR {factory.qr_text}  manual code {format_manual_code(factory.manual_code)}")

            async with Controller(
                ControllerConfig(state_dir=base / "controller", name="Demo Laptop", interfaces=("127.0.0.1",))
            ) as ctl:
                step("controller browsing _openscreen._udp.local. for a device whose code matches…")
                started = time.monotonic()
                found = await ctl.find_for_code(factory.qr_text, timeout=10)
                step(
                    f"found {found.display_name!r} at {found.addresses[0]}:{found.port} "
                    f"(discriminator {found.txt.d}, pairing window open) in {time.monotonic() - started:.2f} s"
                )
                step("pairing with SPAKE2 bound to this TLS session, using the scanned QR code…")
                conn = await ctl.pair(found, factory.qr_text)
                step("paired: the controller pinned the device; the device trusts 'Demo Laptop' as admin")
                catalog = await conn.catalog()
                step("channels: " + ", ".join(f"{c.name} ({c.kind})" for c in catalog.channels))
                step(f"streaming temperature for {SECONDS:g} s:")
                deadline = time.monotonic() + SECONDS
                readings = conn.subscribe("temperature", min_interval_ms=250)
                async for reading in readings:
                    print(f"      temperature {reading.value:6.2f} °C   (reading #{reading.seq})", flush=True)
                    if time.monotonic() >= deadline:
                        break
                await readings.aclose()
                state = await conn.set("led", True)
                step(f"turned the device's LED on: led = {state}")
                await conn.close()
        finally:
            await device.stop()
            step("device stopped (its connections closed, mDNS goodbye sent)")


def step(text: str) -> None:
    print(f"demo: {text}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
