"""The dashboard's HTTP edge (aiohttp): the page, its static files, and the one WebSocket per page.

Every request passes :class:`~.access.AccessPolicy`; each WebSocket becomes a page of the
:class:`~.hub.Hub` with its own :class:`~.page.PageSession` and a bounded send queue. Nothing here knows
about devices.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from aiohttp import WSMsgType, web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

from device_sdk import ConfigError, Controller

from .access import AccessPolicy, is_loopback
from .hub import Hub
from .page import PageSession
from .protocol import MAX_MESSAGE_CHARS

log = logging.getLogger(__name__)

STATIC_DIR: Final = Path(__file__).parent / "static"
DEFAULT_PORT: Final = 8765

MAX_QUEUED: Final = 512
"""Messages waiting for a slow page before readings and chunks are dropped for it."""
MAX_QUEUED_HARD: Final = 4096
"""Messages waiting before the page is disconnected (it reconnects and starts afresh)."""

_SECURITY_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@dataclass(frozen=True, kw_only=True)
class DashboardConfig:
    """Where the dashboard listens and who may use it."""

    host: str = "127.0.0.1"
    """The address to listen on; anything but loopback requires the token."""
    port: int = DEFAULT_PORT
    """The TCP port (0 picks a free one)."""
    token: str | None = field(default=None, repr=False)
    """The access token; None generates one when ``host`` is not loopback (and needs none on loopback)."""

    def __post_init__(self) -> None:
        if not 0 <= self.port < 65536:
            raise ConfigError(f"port {self.port} is not in 0..65535")
        if not self.host.strip():
            raise ConfigError("the dashboard needs an address to listen on")


def parse_listen(text: str) -> tuple[str, int]:
    """``ADDR:PORT``, ``[v6]:PORT``, ``:PORT`` or ``ADDR`` for ``--listen``."""
    text = text.strip()
    host, port = text, str(DEFAULT_PORT)
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ConfigError(f"--listen {text!r}: an IPv6 address needs its closing ]")
        host, rest = text[1:end], text[end + 1 :]
        if rest:
            if not rest.startswith(":"):
                raise ConfigError(f"--listen {text!r}: write [ADDRESS]:PORT")
            port = rest[1:]
    elif text.count(":") == 1:
        host, port = text.split(":")
    host = host or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise ConfigError(f"--listen {text!r}: the port must be a number 0..65535")
    return host, int(port)


class _AccessLog(AbstractAccessLogger):
    """Requests at debug level, path only: the query (where a token may be) is never logged."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.debug("%s %s -> %d (%.1f ms)", request.method, request.path, response.status, time * 1000)


class _Page:
    """One WebSocket as a page of the hub: a bounded queue drained by one sender task."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.session = PageSession()
        self.queue: deque[str | bytes] = deque()
        self.dropped = 0
        self._wakeup = asyncio.Event()
        self._overflowed = False

    def send_text(self, text: str, *, droppable: bool = False) -> None:
        self._put(text, droppable)

    def send_bytes(self, data: bytes) -> None:
        self._put(data, True)

    def _put(self, item: str | bytes, droppable: bool) -> None:
        if len(self.queue) >= MAX_QUEUED and droppable:
            self.dropped += 1
            return
        if len(self.queue) >= MAX_QUEUED_HARD:
            self._overflowed = True
        self.queue.append(item)
        self._wakeup.set()

    async def run(self) -> None:
        while not self.ws.closed:
            if self._overflowed:
                log.info("a page fell too far behind; closing its WebSocket")
                await self.ws.close(code=1013, message=b"too slow")
                return
            try:
                while self.queue and not self.ws.closed:
                    item = self.queue.popleft()
                    if isinstance(item, str):
                        await self.ws.send_str(item)
                    else:
                        await self.ws.send_bytes(item)
            except (ConnectionError, RuntimeError) as exc:  # the page went away while we wrote
                log.debug("a page's WebSocket ended: %s", exc)
                return
            self._wakeup.clear()
            if not self.queue:
                await self._wakeup.wait()


class Dashboard:
    """The dashboard server around a :class:`Controller`::

    async with Controller(config) as ctl, Dashboard(ctl, DashboardConfig()) as dashboard:
        print(dashboard.url)
        await dashboard.wait_closed()
    """

    def __init__(self, controller: Controller, config: DashboardConfig | None = None) -> None:
        self.config = config or DashboardConfig()
        self.policy = AccessPolicy.for_address(self.config.host, token=self.config.token)
        self.hub = Hub(controller)
        self.port = self.config.port
        self._runner: web.AppRunner | None = None
        self._closed = asyncio.Event()
        self._page_tasks: set[asyncio.Task[None]] = set()
        self._pages: set[_Page] = set()
        self._closing = False

    @property
    def cookie_name(self) -> str:
        return f"device_sdk_dashboard_{self.port}"

    @property
    def url(self) -> str:
        """The address to open; with the token, when one is needed (show it once, never log it)."""
        host = self.config.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        base = f"http://{host}:{self.port}/"
        return f"{base}?token={self.policy.token}" if self.policy.token else base

    async def __aenter__(self) -> Dashboard:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self) -> None:
        await self.hub.start()
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        app.router.add_get("/", self._index)
        app.router.add_get("/ws", self._websocket)
        app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False)
        app.on_response_prepare.append(self._headers)
        self._runner = web.AppRunner(app, access_log_class=_AccessLog, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            await self.hub.close()
            raise ConfigError(
                f"the dashboard cannot listen on {self.config.host}:{self.config.port} ({_why_not(exc)}): "
                "choose another address or port with --listen"
            ) from None
        addresses = self._runner.addresses
        if addresses:
            self.port = int(addresses[0][1])
        log.info("dashboard listening on %s:%d", self.config.host, self.port)

    async def close(self) -> None:
        self._closing = True
        # Open WebSockets would hold the server's shutdown: say goodbye to each page first.
        sockets = [page.ws for page in self._pages]
        await asyncio.gather(
            *(ws.close(code=1001, message=b"dashboard stopped") for ws in sockets), return_exceptions=True
        )
        tasks = list(self._page_tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.hub.close()
        self._closed.set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    # -- HTTP -----------------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        token = request.query.get("token") or request.cookies.get(self.cookie_name)
        refusal = self.policy.check(
            host=request.headers.get("Host"),
            origin=request.headers.get("Origin"),
            token=token,
            websocket=request.path == "/ws",
        )
        if refusal is not None:
            return web.Response(status=403, text=f"device_sdk dashboard: {refusal}\n")
        if "token" in request.query and self.policy.token is not None:
            # The first visit: keep the token in a cookie and take it out of the address bar.
            redirect = web.HTTPSeeOther(location=request.path)
            redirect.set_cookie(self.cookie_name, self.policy.token, httponly=True, samesite="Strict", path="/")
            raise redirect
        return await handler(request)

    async def _headers(self, request: web.Request, response: web.StreamResponse) -> None:
        host = request.headers.get("Host", "")
        response.headers.update(_SECURITY_HEADERS)
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; "
            f"connect-src 'self' ws://{host}; "
            "img-src 'self' data: blob:; media-src 'self' blob:; "
            "style-src 'self'; script-src 'self'; object-src 'none'; "
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        )
        if request.path == "/" or request.path.endswith((".html", ".js", ".css")):
            response.headers["Cache-Control"] = "no-cache"

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        if self._closing:
            return web.Response(status=503, text="device_sdk dashboard: stopping\n")
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_MESSAGE_CHARS * 4)
        await ws.prepare(request)
        page = _Page(ws)
        self._pages.add(page)
        sender = asyncio.create_task(page.run(), name="dashboard page sender")
        self._page_tasks.add(sender)
        self.hub.attach(page)
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    self.hub.receive(page, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self._pages.discard(page)
            self.hub.detach(page)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await sender
            self._page_tasks.discard(sender)
        return ws


__all__ = ["DEFAULT_PORT", "Dashboard", "DashboardConfig", "is_loopback", "parse_listen"]


def _why_not(exc: OSError) -> str:
    """Why an address cannot be listened on, in a person's words."""
    if exc.errno == errno.EADDRINUSE:
        return "another program is using that port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return "this machine has no such address"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "ports below 1024 need root"
    if isinstance(exc, socket.gaierror):
        return "no such host name or address"
    return exc.strerror or str(exc)
