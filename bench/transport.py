"""Transport and codec benchmark on loopback; prints a small table with the goals beside the figures.

(a) Connection setup, interleaved runs:
    * device_sdk: ``connect()`` to a ``serve()`` server (QUIC + mutual TLS + fingerprint check) and one
      agent-info request/response;
    * bare aioquic: ``aioquic.asyncio.connect`` to ``aioquic.asyncio.serve`` with the same certificates and
      ALPN ``osp``, handshake only. The server does NOT request a client certificate (aioquic has no public
      switch for it), so this baseline skips the client's certificate and signature;
    * for reference: bare aioquic with mutual TLS (the same private flag device_sdk sets), and
      device_sdk connect() without the agent-info round trip.
    Goal: device_sdk median <= 1.3x the bare aioquic median.
(b) The codec on one core, for a sensor-reading-sized message: a data-frame whose payload is the frame
    ``{"s": seq, "t": time, "v": 21.5}``. Encode = dumps_item (the tag-free frame encoder) +
    encode_message; decode = MessageDecoder.feed (one message per call, as packets arrive) + loads_item
    of the payload. Goal: >= 100,000 messages/s encode + decode.
    Beside it, in the same run (alternating, median of the runs), bare cbor2 on the same two items:
    cbor2.dumps of the frame and of the message's body (with the varint type key), cbor2.loads of both.
    Goal (issue 15): the codec at >= 0.5x the speed of bare cbor2.

Usage: .venv/bin/python bench/transport.py [--runs N] [--messages N]   (stops by itself in ~10 s)
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import tempfile
import time
from pathlib import Path
from typing import Any

import cbor2
from _util import COMPARISON_HEADERS, comparison_rows, median, print_table, rate, verdict
from aioquic.asyncio.client import connect as quic_connect
from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer
from aioquic.asyncio.server import serve as quic_serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

from device_sdk.identity import AgentIdentity
from device_sdk.transport import ALPN, ConnectionHandler, Credentials, connect, serve
from device_sdk.transport._aioquic_compat import require_client_certificate
from device_sdk.wire import AgentInfo, DataFrame, MessageDecoder, dumps_item, encode_message, encode_varint, loads_item
from device_sdk.wire.messages import ENCODING_ARRAY_BUFFER

SETUP_GOAL = 1.3
CODEC_GOAL = 100_000
CODEC_RATIO_GOAL = 0.5
CODEC_RUNS = 5
HOST = "127.0.0.1"
INFO = AgentInfo("Bench Device", "device_sdk bench", (1100, 1300), "Bench001", ("en",))


# -- (a) connection setup ------------------------------------------------------------------------


class MutualProtocol(QuicConnectionProtocol):
    def __init__(self, quic: QuicConnection, stream_handler: Any = None) -> None:
        super().__init__(quic, stream_handler)
        require_client_certificate(quic)


def _port(server: QuicServer) -> int:
    transport = server._transport
    assert transport is not None
    return int(transport.get_extra_info("sockname")[1])


async def _bare_server(creds: Credentials, *, mutual: bool) -> QuicServer:
    qc = QuicConfiguration(is_client=False, alpn_protocols=[ALPN])
    qc.load_cert_chain(creds.cert_path, creds.key_path)
    protocol = MutualProtocol if mutual else QuicConnectionProtocol
    return await quic_serve(HOST, 0, configuration=qc, create_protocol=protocol)


async def bare_setup(port: int, creds: Credentials, server_name: str) -> float:
    """One aioquic handshake (configuration built per connection, as device_sdk does); seconds."""
    start = time.perf_counter()
    qc = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], verify_mode=ssl.CERT_NONE, server_name=server_name)
    qc.load_cert_chain(creds.cert_path, creds.key_path)
    async with quic_connect(HOST, port, configuration=qc) as client:
        elapsed = time.perf_counter() - start  # the context is entered once the handshake is done
        client.close()
    return elapsed


async def sdk_setup(port: int, creds: Credentials, device: AgentIdentity, *, agent_info: bool = True) -> float:
    """device_sdk connect() plus (by default) one agent-info round trip; seconds."""
    start = time.perf_counter()
    conn = await connect(
        HOST,
        port,
        credentials=creds,
        expected_fingerprint=device.fingerprint,
        server_name=device.hostname,
        local_info=lambda: INFO,
    )
    if agent_info:
        assert await conn.agent_info() == INFO
    elapsed = time.perf_counter() - start
    conn.close()
    await conn.wait_closed()
    return elapsed


async def measure_setup(state: Path, runs: int) -> dict[str, list[float]]:
    device = AgentIdentity.load_or_create(state / "device", model_name="device_sdk bench", instance_name="Bench")
    controller = AgentIdentity.load_or_create(
        state / "controller", model_name="device_sdk bench", instance_name="Bench Controller"
    )
    device_creds = Credentials.from_identity(device)
    controller_creds = Credentials.from_identity(controller)

    sdk_server = await serve(
        credentials=device_creds,
        local_info=lambda: INFO,
        on_connection=lambda _c: ConnectionHandler(),
        host=HOST,
    )
    bare = await _bare_server(device_creds, mutual=False)
    bare_mtls = await _bare_server(device_creds, mutual=True)
    names = (
        "device_sdk (mTLS + agent-info)",
        "aioquic (no client cert)",
        "aioquic (mTLS)",
        "device_sdk connect() only",
    )
    kinds = {
        names[0]: lambda: sdk_setup(sdk_server.port, controller_creds, device),
        names[1]: lambda: bare_setup(_port(bare), controller_creds, device.hostname),
        names[2]: lambda: bare_setup(_port(bare_mtls), controller_creds, device.hostname),
        names[3]: lambda: sdk_setup(sdk_server.port, controller_creds, device, agent_info=False),
    }
    samples: dict[str, list[float]] = {name: [] for name in names}
    try:
        for i in range(runs + 3):  # the first 3 rounds warm up and are not counted
            order = list(names) if i % 2 == 0 else list(reversed(names))  # interleaved, alternating
            for name in order:
                elapsed = await kinds[name]()
                if i >= 3:
                    samples[name].append(elapsed)
    finally:
        sdk_server.close()
        bare.close()
        bare_mtls.close()
        await asyncio.sleep(0.05)  # let the closing tasks of the last connections run
    return samples


# -- (b) codec rate --------------------------------------------------------------------------------


def _frames(count: int) -> list[dict[str, Any]]:
    now = time.time()
    return [{"s": seq, "t": now + seq / 1000, "v": 21.5} for seq in range(count)]


def measure_codec(count: int) -> tuple[float, float, int]:
    """Seconds to encode ``count`` readings, seconds to decode them, and the message size."""
    frames = _frames(count)
    encoded: list[bytes] = []
    start = time.perf_counter()
    for frame in frames:
        encoded.append(encode_message(DataFrame(dumps_item(frame))))
    t_encode = time.perf_counter() - start

    decoder = MessageDecoder()
    last: Any = None
    start = time.perf_counter()
    for data in encoded:
        for msg in decoder.feed(data):
            assert isinstance(msg, DataFrame)
            last = loads_item(msg.payload)
    t_decode = time.perf_counter() - start
    assert last["s"] == count - 1
    return t_encode, t_decode, len(encoded[0])


def measure_bare_cbor2(count: int) -> float:
    """Seconds bare cbor2 takes for the same items: dumps of the frame and of the message body (with
    the type key), loads of both."""
    frames = _frames(count)
    key = encode_varint(DataFrame.TYPE_KEY)
    start = time.perf_counter()
    encoded = [key + cbor2.dumps({0: ENCODING_ARRAY_BUFFER, 4: cbor2.dumps(frame)}) for frame in frames]
    last: Any = None
    for data in encoded:
        last = cbor2.loads(cbor2.loads(data[len(key) :])[4])
    assert last["s"] == count - 1
    return time.perf_counter() - start


def compare_codec(count: int, runs: int = 5) -> tuple[float, float, float, float]:
    """Alternating runs of the codec and of bare cbor2: the codec's median encode and decode seconds,
    bare cbor2's median seconds, and the median of the per-run ratios (bare time / codec time)."""
    encodes, decodes, bares, ratios = [], [], [], []
    for _ in range(runs):
        t_encode, t_decode, _size = measure_codec(count)
        bare = measure_bare_cbor2(count)
        encodes.append(t_encode)
        decodes.append(t_decode)
        bares.append(bare)
        ratios.append(bare / (t_encode + t_decode))
    return median(encodes), median(decodes), median(bares), median(ratios)


# -- main ------------------------------------------------------------------------------------------


async def main_async(runs: int, messages: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-transport-") as tmp:
        async with asyncio.timeout(45):
            samples = await measure_setup(Path(tmp), runs)
    names = list(samples)
    sdk, bare, bare_mtls, sdk_connect = (samples[n] for n in names)
    print_table(
        COMPARISON_HEADERS,
        comparison_rows((names[1], bare), (names[0], sdk), (names[2], bare_mtls), (names[3], sdk_connect)),
        title=f"(a) connection setup on loopback, {runs} interleaved runs each (ratio to bare aioquic)",
    )
    ratio = median(sdk) / median(bare)
    ratio_mtls = median(sdk) / median(bare_mtls)

    size = len(encode_message(DataFrame(dumps_item(_frames(1)[0]))))
    count = max(1, messages // CODEC_RUNS)
    t_encode, t_decode, t_bare, codec_ratio = compare_codec(count, CODEC_RUNS)
    combined = count / (t_encode + t_decode)
    print_table(
        ("", "rate"),
        [
            ["encode (dumps_item + encode_message)", rate(count / t_encode)],
            ["decode (MessageDecoder.feed + loads_item)", rate(count / t_decode)],
            ["encode + decode", rate(combined)],
            ["bare cbor2, the same items (dumps x2 + loads x2)", rate(count / t_bare)],
        ],
        title=f"(b) codec, one core, {CODEC_RUNS} alternating runs of {count:,} sensor readings of {size} bytes",
    )
    goals: list[list[object]] = [
        ["setup: device_sdk / bare aioquic (no client cert)", f"{ratio:.3f}x", f"<= {SETUP_GOAL}x"],
        ["setup: device_sdk / aioquic with mTLS (reference)", f"{ratio_mtls:.3f}x", ""],
        ["codec encode + decode", rate(combined), f">= {rate(CODEC_GOAL)}"],
        ["codec speed / bare cbor2 (median of per-run ratios)", f"{codec_ratio:.2f}x", f">= {CODEC_RATIO_GOAL}x"],
    ]
    goals[0].append(verdict(ratio <= SETUP_GOAL))
    goals[1].append("")
    goals[2].append(verdict(combined >= CODEC_GOAL))
    goals[3].append(verdict(codec_ratio >= CODEC_RATIO_GOAL))
    print_table(("goal", "measured", "target", ""), goals, title="goals")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=30, help="connection setups of each kind (default 30)")
    parser.add_argument("--messages", type=int, default=200_000, help="messages for the codec rate")
    args = parser.parse_args()
    asyncio.run(main_async(args.runs, args.messages))


if __name__ == "__main__":
    main()
