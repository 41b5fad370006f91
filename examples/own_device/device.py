"""Your own device, as systemd runs it (``deploy/my-device.service``): a thermostat on a board profile.

The board's ``temperature`` sensor and ``led`` actuator come from the profile (``--board``); the script adds a
``setpoint`` actuator of its own and switches the LED (the "heater") from device code when the temperature
falls below the setpoint, so that controllers see the LED's state change as they would a ``set``.

Under systemd the state directory is ``$STATE_DIRECTORY`` (``StateDirectory=``); the script logs to stdout,
which is the journal there, and never logs the setup code (``device-sdk provision`` shows the sticker).
Try it in simulation::

    STATE_DIRECTORY=/tmp/thermostat .venv/bin/python examples/own_device/device.py --board sim --interface lo
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from device_sdk.channels import Actuator, Sensor
from device_sdk.device import Device, DeviceConfig, DeviceEvent, Paired, PairingWindowChanged
from device_sdk.errors import DeviceSDKError

log = logging.getLogger("thermostat")

HEATER = "led"
"""The board profile's actuator that the thermostat switches."""
TEMPERATURE = "temperature"
"""The board profile's sensor it regulates."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--state-dir", type=Path, help="default: $STATE_DIRECTORY (systemd's StateDirectory=)")
    p.add_argument("--board", default="sim", help="board profile with a temperature sensor and an led")
    p.add_argument("--name", default="Thermostat")
    p.add_argument("--port", type=int, default=0, help="UDP port (0: any free one; fix it for a firewall)")
    p.add_argument("--interface", action="append", dest="interfaces", help="advertise on this interface")
    p.add_argument("--ready-file", type=Path, help="write the port and fingerprint here once serving")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    return p.parse_args(argv)


def state_dir(given: Path | None) -> Path:
    """``--state-dir``, else the first of systemd's ``$STATE_DIRECTORY`` (it may list several)."""
    if given is not None:
        return given
    env = os.environ.get("STATE_DIRECTORY")
    if not env:
        raise SystemExit("give --state-dir, or run under systemd with StateDirectory= (it sets $STATE_DIRECTORY)")
    return Path(env.split(":")[0])


class Thermostat:
    """Switches the board's heater from device code as the temperature crosses the setpoint."""

    def __init__(self, device: Device) -> None:
        if device.hardware is None or HEATER not in device.hardware.runtime.sinks:
            raise DeviceSDKError(f"the board has no {HEATER!r} actuator to use as the heater")
        heater, temperature = device.channels[HEATER], device.channels[TEMPERATURE]
        assert isinstance(heater, Actuator) and isinstance(temperature, Sensor)  # as the board profile declares them
        self.hardware = device.hardware
        self.heater = heater
        self.temperature = temperature
        self.setpoint = device.actuator(
            "setpoint", type="float", unit="C", min=5, max=30, initial=20.0, handler=self.set_setpoint
        )

    def set_setpoint(self, value: float) -> float:
        log.info("setpoint %.1f C", value)
        return value

    def regulate(self) -> None:
        """One step: the heater on below the setpoint, off above it (0.2 C of hysteresis)."""
        temperature = self.temperature.value
        if temperature is None:
            return
        on = bool(self.heater.value)
        want = temperature < self.setpoint.value - 0.2 if not on else temperature < self.setpoint.value + 0.2
        if want != on:
            state = self.hardware.set(HEATER, want)  # the pin, and every controller watching the channel
            log.info("heater %s at %.2f C", "on" if state else "off", temperature)

    async def run(self) -> None:
        while True:
            self.regulate()
            await asyncio.sleep(0.5)


def on_event(event: DeviceEvent) -> None:
    if isinstance(event, PairingWindowChanged):
        log.info("pairing window %s (%s)", "open" if event.open else "closed", event.reason)
    elif isinstance(event, Paired):
        log.info("paired with %s (%s)", event.name, event.role)


async def main(args: argparse.Namespace) -> int:
    config = DeviceConfig(
        state_dir=state_dir(args.state_dir),
        name=args.name,
        model="Thermostat example",
        board=args.board,
        port=args.port,
        interfaces=tuple(args.interfaces) if args.interfaces else None,
        ready_file=args.ready_file,
    )
    device = Device(config)
    device.subscribe(on_event)
    thermostat = Thermostat(device)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # systemctl stop sends SIGTERM
        loop.add_signal_handler(sig, stop.set)
    if args.duration is not None:
        loop.call_later(args.duration, stop.set)
    async with device:
        log.info("serving as %r on UDP port %d", device.instance_name, device.port)
        log.info("the setup code is on the sticker: `device-sdk provision --state-dir %s`", config.state_dir)
        task = asyncio.create_task(thermostat.run())
        await stop.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    log.info("stopped")
    return 0


def run(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stdout)
    try:
        return asyncio.run(main(parse_args(argv)))
    except DeviceSDKError as exc:
        log.error("%s", exc)
        return 1


if __name__ == "__main__":
    sys.exit(run())
