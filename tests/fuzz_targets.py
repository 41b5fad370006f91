"""The long fuzz tier (``make fuzz``): coverage-guided fuzzing of everything that decodes bytes from the
network, with atheris (libFuzzer) where it is installed, else hypothesis with a large budget.

Targets (the first input byte picks one): the message decoder fed in pieces; a channel frame (a
data-frame payload) through the tag-free decoder, then every frame parser, every controller-side
receiver and every device-side session; an input datagram. Only the errors the profile names may come
out (RemoteProtocolError 400/404/413, FrameError); anything else is a crash, and what the device sends
back must encode without a tag.

Usage: .venv/bin/python tests/fuzz_targets.py [--seconds N] [--corpus DIR]   (atheris)
       .venv/bin/python tests/fuzz_targets.py --hypothesis [--examples N]   (the fallback, forced)
Crashes are written to ./fuzz-crash-* (atheris) or reported by pytest (hypothesis).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _load(instrument: bool) -> dict[str, Any]:
    """Import the code under test (instrumented for coverage when atheris runs) and build the targets."""
    if instrument:
        import atheris

        with atheris.instrument_imports(include=["device_sdk"]):
            from device_sdk import channels, errors, wire
            from tests._every_channel import EveryChannel
    else:
        from device_sdk import channels, errors, wire
        from tests._every_channel import EveryChannel
    return {"channels": channels, "errors": errors, "wire": wire, "EveryChannel": EveryChannel}


def make_one_input(mods: dict[str, Any]) -> Any:
    channels, errors, wire = mods["channels"], mods["errors"], mods["wire"]
    parsers = [
        channels.parse_reading,
        channels.parse_subscription,
        channels.parse_state,
        channels.parse_answer,
        channels.parse_format,
        channels.parse_chunk,
        channels.parse_catalog,
        channels.parse_peers,
    ]

    def decoder(data: bytes) -> None:
        step = 1 + (data[0] if data else 0) % 64
        dec = wire.MessageDecoder(max_message_size=4096)
        try:
            out = []
            for i in range(1, len(data), step):
                out += dec.feed(data[i : i + step])
            dec.end_of_stream()
        except errors.RemoteProtocolError as exc:
            assert exc.code in (400, 404, 413), exc
            return
        for msg in out:
            assert wire.MessageDecoder().feed(wire.encode_message(msg)) == [msg]

    def frame(data: bytes) -> None:
        try:
            value = channels.loads_frame(data)
        except channels.FrameError:
            return
        for parse in parsers:
            with contextlib.suppress(channels.FrameError):
                parse(value)
        receivers = (
            channels.ReadingFilter().accept,
            channels.StreamReceiver().receive,
            channels.ActuatorClient().receive,
        )
        for receive in receivers:
            receive(value)
        device = mods["EveryChannel"]()
        device.receive(value)
        for session in device.sessions:
            for out in session.next_frames():
                channels.dumps_frame(out)

    def datagram(data: bytes) -> None:
        with contextlib.suppress(channels.FrameError):
            channels.parse_input_datagram(data)

    targets = (decoder, frame, datagram)

    def one_input(data: bytes) -> None:
        if not data:
            return
        targets[data[0] % len(targets)](data[1:])

    return one_input


def run_atheris(seconds: int, corpus: Path | None) -> None:
    import atheris

    one_input = make_one_input(_load(instrument=True))
    args = [sys.argv[0], f"-max_total_time={seconds}", "-artifact_prefix=fuzz-crash-", "-max_len=4096"]
    if corpus is not None:
        corpus.mkdir(parents=True, exist_ok=True)
        args.append(str(corpus))
    atheris.Setup(args, one_input)
    atheris.Fuzz()


def run_hypothesis(examples: int) -> int:
    """The property tests with ``examples`` examples each (no time limit per test)."""
    env = dict(os.environ, DEVICE_SDK_FUZZ_EXAMPLES=str(examples))
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "timeout=0",
        "tests/test_properties.py",
    ]
    return subprocess.call(cmd, cwd=ROOT, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=600, help="atheris: how long to fuzz (default 600)")
    parser.add_argument("--corpus", type=Path, default=None, help="atheris: a corpus directory to grow and reuse")
    parser.add_argument("--hypothesis", action="store_true", help="use the hypothesis fallback even with atheris")
    parser.add_argument("--examples", type=int, default=20_000, help="hypothesis: examples per property")
    args = parser.parse_args()
    try:
        import atheris  # noqa: F401

        have_atheris = True
    except ImportError:
        have_atheris = False
    if have_atheris and not args.hypothesis:
        run_atheris(args.seconds, args.corpus)
    else:
        if not args.hypothesis:
            print("atheris is not installed here: fuzzing with hypothesis instead", file=sys.stderr)
        sys.exit(run_hypothesis(args.examples))


if __name__ == "__main__":
    main()
