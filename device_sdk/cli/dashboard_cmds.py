"""`device-sdk dashboard`: the browser dashboard, served by a controller."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import webbrowser
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigError
from .common import usable_state_dir
from .render import note, say

DEFAULT_NAME = "Dashboard"


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dashboard", help="a web page to find, pair, watch and control devices")
    p.add_argument("--state-dir", type=Path, help="the controller's state directory")
    p.add_argument("--name", default=DEFAULT_NAME, help="this controller's name, as devices list it")
    p.add_argument("--interface", action="append", dest="interfaces", help="browse on this interface")
    p.add_argument(
        "--listen",
        default="127.0.0.1:8765",
        metavar="ADDR:PORT",
        help="where the page is served (default 127.0.0.1:8765; any other address needs the printed token)",
    )
    p.add_argument("--open", action="store_true", help="open the page in the default web browser")
    p.set_defaults(func=cmd_dashboard)


def cmd_dashboard(args: argparse.Namespace) -> int:
    try:
        from ..dashboard import Dashboard, DashboardConfig, parse_listen
    except ImportError as exc:
        raise ConfigError(
            f"the dashboard needs the 'dashboard' extra ({exc.name} is missing): pip install -e '.[dashboard]'"
        ) from None
    host, port = parse_listen(args.listen)

    async def main() -> int:
        from ..controller import Controller, ControllerConfig  # the controller side, loaded when it runs

        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        config = ControllerConfig(
            state_dir=usable_state_dir(args.state_dir, "controller"),
            name=args.name,
            interfaces=tuple(args.interfaces) if args.interfaces else None,
        )
        async with Controller(config) as ctl, Dashboard(ctl, DashboardConfig(host=host, port=port)) as dashboard:
            say(f"device_sdk dashboard: {dashboard.url}")
            links = "link"
            if host in ("0.0.0.0", "::", ""):  # every address: the link other machines can open too
                elsewhere = urlsplit(dashboard.url)._replace(netloc=f"{socket.gethostname()}.local:{dashboard.port}")
                say(f"from another machine: {urlunsplit(elsewhere)}")
                links = "links"
            if dashboard.policy.token is not None:
                note(f"the {links} above hold{'' if links == 'links' else 's'} the access token: shown only this once")
            note("press Ctrl-C to stop")
            if args.open:
                await asyncio.to_thread(webbrowser.open, dashboard.url)
            await stop.wait()
        return 0

    return asyncio.run(main())
