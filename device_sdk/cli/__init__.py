"""The ``device-sdk`` command: the only part of device_sdk that prints."""

from __future__ import annotations

import argparse
import logging
import sys

from .. import __version__
from ..errors import DeviceSDKError
from . import code_cmds, controller_cmds, dashboard_cmds, device_cmds, doctor, sim_cmds
from .render import error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="device-sdk", description="device_sdk: local devices and controllers")
    parser.add_argument("--version", action="version", version=f"device_sdk {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    sub = parser.add_subparsers(dest="command", required=True)
    device_cmds.add_parsers(sub)
    controller_cmds.add_parsers(sub)
    code_cmds.add_parsers(sub)
    doctor.add_parsers(sub)
    sim_cmds.add_parsers(sub)
    dashboard_cmds.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except DeviceSDKError as exc:
        error(str(exc))
        return 1
    except (OSError, ValueError) as exc:
        error(str(exc))
        return 1


if __name__ == "__main__":
    sys.exit(main())
