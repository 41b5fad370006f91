"""The ``device-sdk`` command: the only part of device_sdk that prints."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from .. import __version__
from ..errors import DeviceSDKError
from . import admin_cmds, bridge_cmds, code_cmds, controller_cmds, dashboard_cmds, device_cmds, doctor, sim_cmds
from .messages import ErrorContext, describe
from .render import error

CLOSED_PIPE = 141
"""Exit code when the reader of our output went away (``device-sdk peers | head``): 128 + SIGPIPE,
what a shell reports for a command the closed pipe stopped."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="device-sdk", description="device_sdk: local devices and controllers")
    parser.add_argument("--version", action="version", version=f"device_sdk {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True)
    device_cmds.add_parsers(sub)
    controller_cmds.add_parsers(sub)
    admin_cmds.add_parsers(sub)
    code_cmds.add_parsers(sub)
    doctor.add_parsers(sub)
    sim_cmds.add_parsers(sub)
    dashboard_cmds.add_parsers(sub)
    bridge_cmds.add_parsers(sub)
    return parser


def _output_closed() -> int:
    """The reader of stdout has gone: end quietly. Later writes (the interpreter flushes stdout at exit)
    go to /dev/null instead of raising again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return CLOSED_PIPE


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.context = ErrorContext(
        device=getattr(args, "device", None),
        channel=getattr(args, "channel", None),
        code=getattr(args, "code", None) or getattr(args, "text", None),
    )
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return _output_closed()
    except (DeviceSDKError, OSError, ValueError) as exc:
        error(describe(exc, args.context))
        return 1


if __name__ == "__main__":
    sys.exit(main())
