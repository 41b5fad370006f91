"""Smart plug example, device side: a relay and a power meter, paired Matter-style with a sticker.

On first start the script provisions the device (a setup code kept in ``factory.json``) and prints its
sticker: a QR code and the manual code. Pairing needs the window opened by the (simulated) button:
``--press-button`` presses it once at start, and ``kill -USR1 <pid>`` presses it again.

    .venv/bin/python examples/smart_plug/device.py --state-dir /tmp/plug --ready-file /tmp/plug/ready.json \\
        --loopback --press-button --duration 120
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import signal
import time
from pathlib import Path
from typing import Any

from device_sdk.device import Device, DeviceConfig, DeviceEvent, FactoryData, Paired, PairingWindowChanged
from device_sdk.device.sticker import format_manual_code, sticker_text
from device_sdk.pairing.window import PairingMode

LOAD_W = 60.0
"""What the simulated appliance behind the relay draws."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state-dir", type=Path, required=True, help="identity, setup code and trust store")
    p.add_argument("--ready-file", type=Path, help="write the port and fingerprint here once serving")
    p.add_argument("--name", default="Smart Plug")
    p.add_argument("--loopback", action="store_true", help="serve on 127.0.0.1 only, without mDNS")
    p.add_argument("--press-button", action="store_true", help="press the pairing button once at start")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    return p.parse_args(argv)


class SmartPlug:
    """The plug's behaviour: the relay state and the power it lets through."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.on = False
        self.power = device.sensor("power", type="float", unit="W", min=0, rate_hz=2)
        self.relay = device.actuator(
            "relay", type="bool", initial=False, handler=self.set_relay, actions={"toggle": self.toggle}
        )

    def set_relay(self, value: Any) -> bool:
        self.on = bool(value)
        print(f"relay {'ON' if self.on else 'OFF'}", flush=True)
        self.publish_power()
        return self.on

    def toggle(self) -> bool:
        return self.set_relay(not self.on)

    def measure(self) -> float:
        if not self.on:
            return 0.0
        return round(LOAD_W + 2.0 * math.sin(time.time()) + random.uniform(-0.5, 0.5), 2)

    def publish_power(self) -> None:
        self.power.publish(self.measure())

    async def meter(self, period: float = 0.5) -> None:
        while True:
            self.publish_power()
            await asyncio.sleep(period)


def on_event(event: DeviceEvent) -> None:
    if isinstance(event, PairingWindowChanged):
        state = f"open ({event.reason})" if event.open else f"closed ({event.reason})"
        print(f"pairing window {state}", flush=True)
    elif isinstance(event, Paired):
        print(f"paired with {event.name!r} as {event.role}", flush=True)


async def main(args: argparse.Namespace) -> None:
    factory = FactoryData.load_or_create(args.state_dir)
    print(sticker_text(factory.payload), flush=True)
    print(f"manual code: {format_manual_code(factory.manual_code)}", flush=True)
    device = Device(
        DeviceConfig(
            state_dir=args.state_dir,
            name=args.name,
            model="device_sdk smart plug",
            pairing_mode=PairingMode.STICKER,
            advertise=not args.loopback,
            host="127.0.0.1" if args.loopback else "::",
            interfaces=("127.0.0.1",) if args.loopback else None,
            ready_file=args.ready_file,
        )
    )
    plug = SmartPlug(device)
    device.subscribe(on_event)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, lambda: device.open_pairing_window("button"))
    await device.start()
    meter = asyncio.create_task(plug.meter())
    try:
        print(f"serving on UDP port {device.port}", flush=True)
        if args.press_button:
            print("button pressed", flush=True)
            device.open_pairing_window("button")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.duration)
    finally:
        meter.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await meter
        await device.stop()
        print("stopped", flush=True)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
