"""The far end of bench/channels.py, run as a child process: a device_sdk Device, or a bare aioquic server.

Usage: python _channels_peer.py device|raw STATE_DIR

The parent drives it with one JSON command per line on stdin and reads one JSON answer per line on
stdout (the first line is ``{"ready": ...}``). Every answer carries the CPU seconds this process used
(``time.process_time``, all threads) and the wall seconds the command took.

device role: a Device (no mDNS, 127.0.0.1, setup code 20202021, a ready file) with
  * sensor ``fast`` (float): ``{"cmd": "burst", "seconds", "burst"}`` publishes ``burst`` readings per
    event-loop turn for ``seconds`` (as fast as the device can);
  * sensor ``level`` (float): ``{"cmd": "paced", "seconds", "rate"}`` publishes 0.0, 1.0, ... at ``rate`` Hz;
  * input ``pad`` (map): ``{"cmd": "input", "seconds", "rate"}`` publishes a game-pad state whose ``"ts"``
    is ``time.perf_counter()`` at publication (CLOCK_MONOTONIC, comparable across processes);
  * stream ``audio`` (16 kHz 16-bit mono PCM): ``{"cmd": "audio", "seconds", "write"}`` writes blocks of
    ``write`` bytes whenever every open audio channel's buffer has room for one (as fast as flow
    control allows, so nothing is dropped).
raw role: a bare aioquic server (same ALPN and certificate, QUIC DATAGRAM enabled). The client opens one
  stream and writes a byte; then ``{"cmd": "burst", ...}`` writes the same data-frame bytes a sensor
  channel carries on that stream (stopping while 64 KiB are unacknowledged), and
  ``{"cmd": "input", ...}`` sends the same input datagrams as the device, straight to aioquic.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import cbor2
from _peers_child import answer_commands
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import serve as quic_serve
from aioquic.quic import events as qe
from aioquic.quic.configuration import QuicConfiguration

from device_sdk.channels import ByteStream, Input, Reading, Sensor, StreamSession, encode_input_datagram
from device_sdk.device import Device, DeviceConfig
from device_sdk.identity import AgentIdentity
from device_sdk.transport import ALPN
from device_sdk.transport._aioquic_compat import stream_buffered
from device_sdk.wire import DataFrame, encode_message

HOST = "127.0.0.1"
SETUP_CODE = 20202021
HIGH_WATER = 64 * 1024
"""The raw writer stops while this much is unacknowledged (device_sdk's STREAM_HIGH_WATER)."""
INPUT_CHANNEL_ID = 1


def pad_state(seq: int) -> dict[str, Any]:
    """A game-pad state: two sticks, buttons, and the monotonic time of publication."""
    return {"x": (seq % 200) / 100 - 1.0, "y": 0.25, "buttons": seq % 16, "ts": time.perf_counter()}


def reading_bytes(seq: int, value: Any) -> bytes:
    """The data-frame carrying reading ``seq``: what a sensor channel puts on its stream."""
    return encode_message(DataFrame(cbor2.dumps(Reading(seq, time.time(), value).to_frame())))


async def paced(seconds: float, rate: float, tick: Any) -> int:
    """Call ``tick(i)`` at ``rate`` Hz for ``seconds`` on an absolute schedule.

    asyncio sleeps in whole milliseconds, so a tick may come up to a millisecond late; the next one then
    comes sooner and the rate holds. Only when more than two periods behind are the missed slots skipped.
    """
    loop = asyncio.get_running_loop()
    period = 1.0 / rate
    start = loop.time()
    end = start + seconds
    count = 0
    slot = 0
    while True:
        now = loop.time()
        if now >= end:
            return count
        tick(count)
        count += 1
        slot += 1
        if start + slot * period < now - 2 * period:
            slot = int((now - start) / period) + 1
        await asyncio.sleep(max(0.0, start + slot * period - loop.time()))


# -- device role ---------------------------------------------------------------------------------------


class DevicePeer:
    def __init__(self, state: Path) -> None:
        self.ready_file = state / "ready.json"
        self.device = Device(
            DeviceConfig(
                state_dir=state / "device",
                name="Bench",
                advertise=False,
                host=HOST,
                setup_code=SETUP_CODE,
                ready_file=self.ready_file,
            )
        )
        self.fast: Sensor = self.device.sensor("fast", type="float")
        self.level: Sensor = self.device.sensor("level", type="float", rate_hz=100)
        self.pad: Input = self.device.input("pad", type="map", rate_hz=1000)
        self.audio: ByteStream = self.device.stream(
            "audio", format={"codec": "pcm_s16le", "rate": 16000, "channels": 1}
        )

    async def start(self) -> dict[str, Any]:
        await self.device.start()
        # a subscriber's first reading (the current value) tells it the channel is open
        self.fast.publish(-1.0)
        self.level.publish(-1.0)
        self.pad.publish(pad_state(0))
        return {"ready": str(self.ready_file)}

    async def run(self, cmd: dict[str, Any]) -> dict[str, Any]:
        seconds = float(cmd.get("seconds", 1.0))
        name = cmd["cmd"]
        if name == "burst":
            return {"published": await self._burst(seconds, int(cmd["burst"]))}
        if name == "paced":
            count = await paced(seconds, float(cmd["rate"]), lambda i: self.level.publish(float(i)))
            return {"published": count, "sessions": self.level.session_count, "dropped": self._dropped("level")}
        if name == "input":
            count = await paced(seconds, float(cmd["rate"]), lambda i: self.pad.publish(pad_state(i)))
            return {"published": count, "datagrams": self._input_datagrams()}
        if name == "audio":
            return await self._audio(seconds, int(cmd["write"]))
        raise ValueError(f"unknown command {name!r}")

    async def _burst(self, seconds: float, burst: int) -> int:
        end = time.perf_counter() + seconds
        count = 0
        while time.perf_counter() < end:
            for _ in range(burst):
                self.fast.publish(float(count))
                count += 1
            await asyncio.sleep(0)
        return count

    def _dropped(self, label: str) -> int:
        return sum(int(getattr(s, "dropped", 0)) for s in self.device.channels.sessions if s.label == label)

    def _input_datagrams(self) -> list[bool]:
        return [bool(getattr(s, "datagrams", False)) for s in self.device.channels.sessions if s.label == "pad"]

    async def _audio(self, seconds: float, write: int) -> dict[str, Any]:
        block = bytes(range(256)) * (write // 256) + bytes(write % 256)
        limit = 256 * 1024  # the registry's default stream buffer per controller
        end = time.perf_counter() + seconds
        written = 0
        while time.perf_counter() < end:
            sessions = [s for s in self.device.channels.sessions if isinstance(s, StreamSession) and not s.closed]
            room = min((limit - s.buffered_bytes for s in sessions), default=0)
            while room >= write:
                self.audio.write(block)
                written += write
                room -= write
            await asyncio.sleep(0)
        dropped = sum(s.dropped_chunks for s in self.device.channels.sessions if isinstance(s, StreamSession))
        return {"written": written, "dropped_chunks": dropped}

    async def stop(self) -> None:
        await self.device.stop()


# -- raw role ------------------------------------------------------------------------------------------


class RawServerProtocol(QuicConnectionProtocol):
    latest: RawServerProtocol | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stream_id: int | None = None
        RawServerProtocol.latest = self

    def quic_event_received(self, event: qe.QuicEvent) -> None:
        if isinstance(event, qe.StreamDataReceived) and self.stream_id is None:
            self.stream_id = event.stream_id


class RawPeer:
    def __init__(self, state: Path) -> None:
        self.identity = AgentIdentity.load_or_create(state / "raw", model_name="bench", instance_name="Raw")
        self.server: Any = None

    async def start(self) -> dict[str, Any]:
        qc = QuicConfiguration(is_client=False, alpn_protocols=[ALPN], max_datagram_frame_size=65536)
        qc.load_cert_chain(self.identity.cert_path, self.identity.key_path)
        self.server = await quic_serve(HOST, 0, configuration=qc, create_protocol=RawServerProtocol)
        port = int(self.server._transport.get_extra_info("sockname")[1])
        return {"ready": port}

    async def run(self, cmd: dict[str, Any]) -> dict[str, Any]:
        proto = RawServerProtocol.latest
        assert proto is not None, "no client connected"
        seconds = float(cmd.get("seconds", 1.0))
        if cmd["cmd"] == "burst":
            return {"published": await self._burst(proto, seconds, int(cmd["burst"]))}
        if cmd["cmd"] == "input":

            def send(i: int) -> None:
                frame = Reading(i + 1, time.time(), pad_state(i)).to_frame()
                proto._quic.send_datagram_frame(encode_input_datagram(INPUT_CHANNEL_ID, cbor2.dumps(frame)))
                proto.transmit()

            return {"published": await paced(seconds, float(cmd["rate"]), send)}
        raise ValueError(f"unknown command {cmd['cmd']!r}")

    async def _burst(self, proto: RawServerProtocol, seconds: float, burst: int) -> int:
        sid = proto.stream_id
        assert sid is not None, "the client opened no stream"
        quic = proto._quic
        end = time.perf_counter() + seconds
        count = 0
        while time.perf_counter() < end:
            if stream_buffered(quic, sid) < HIGH_WATER:
                frames = [reading_bytes(count + i + 1, float(count + i)) for i in range(burst)]
                quic.send_stream_data(sid, b"".join(frames))
                proto.transmit()
                count += burst
            await asyncio.sleep(0)
        return count

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


# -- main ------------------------------------------------------------------------------------------------


def answer(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def serve_commands(run: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> None:
    """Answer the parent's JSON commands (one a line on stdin) with ``run``'s answers (one a line on
    stdout, with the CPU and wall seconds each command took), until ``{"cmd": "quit"}`` or the end of stdin."""
    await answer_commands(run, answer)


async def main_async(role: str, state: Path) -> None:
    peer: DevicePeer | RawPeer = DevicePeer(state) if role == "device" else RawPeer(state)
    answer(await peer.start())
    try:
        await serve_commands(peer.run)
    finally:
        await peer.stop()


def main() -> None:
    role, state = sys.argv[1], Path(sys.argv[2])
    if role not in ("device", "raw"):
        raise SystemExit(__doc__)
    asyncio.run(main_async(role, state))


if __name__ == "__main__":
    main()
