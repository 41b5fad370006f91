"""The device side of bench/pairing.py, run as a child process (as it would run on its own board).

Usage: python _pairing_peer.py device STATE_DIR   (the role argument is what ``_channels_parts.Peer`` passes)

The parent sends one JSON command per line on stdin and reads one JSON answer per line on stdout
(the first line is ``{"ready": true}``):

* ``{"cmd": "new"}`` stops the current device, if any, and starts a fresh, unpaired one (its own state
  directory, no mDNS, 127.0.0.1, setup code 20202021); the answer is what a controller would learn from
  discovery: ``port``, ``fingerprint`` (hex), ``token`` (``at``), ``discriminator`` and ``name``.
* ``{"cmd": "quit"}`` stops the device and exits.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from device_sdk.device import Device, DeviceConfig

HOST = "127.0.0.1"
SETUP_CODE = 20202021


async def serve(state: Path) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    device: Device | None = None
    count = 0

    def answer(value: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(value) + "\n")
        sys.stdout.flush()

    answer({"ready": True})
    try:
        while line := await reader.readline():
            cmd = json.loads(line)["cmd"]
            if device is not None:
                await device.stop()
                device = None
            if cmd == "quit":
                break
            count += 1
            config = DeviceConfig(
                state_dir=state / f"d{count}", name="Bench", advertise=False, host=HOST, setup_code=SETUP_CODE
            )
            device = Device(config)
            await device.start()
            rec = device.txt_record()
            answer(
                {
                    "name": device.instance_name,
                    "port": device.port,
                    "fingerprint": device.identity.fingerprint.hex(),
                    "sn": rec.sn,
                    "token": rec.at,
                    "discriminator": rec.d,
                }
            )
    finally:
        if device is not None:
            await device.stop()


if __name__ == "__main__":
    asyncio.run(serve(Path(sys.argv[2])))
