"""The browser dashboard (``device-sdk dashboard``): find, pair, watch, listen to and control devices
from a web page, with an ordinary :class:`~device_sdk.Controller` behind it.

Needs the ``dashboard`` extra (aiohttp). The page talks to the server over one WebSocket; the messages
are documented in docs/dashboard.md.

- :mod:`.protocol` parses the page's messages, :mod:`.views` builds the server's (pure);
- :mod:`.page` is one page's state, :mod:`.directory` what is known about each device (pure);
- :mod:`.access` decides who may connect (pure);
- :mod:`.link` keeps a connection to one paired device, :mod:`.hub` runs it all with the Controller;
- :mod:`.server` is the aiohttp edge; ``static/`` holds the page.
"""

from __future__ import annotations

from .server import DEFAULT_PORT, Dashboard, DashboardConfig, parse_listen

__all__ = ["DEFAULT_PORT", "Dashboard", "DashboardConfig", "parse_listen"]
