"""Listening (the device) and dialling (the controller): the sockets that give an :class:`AgentConnection`."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

from aioquic.asyncio.client import connect as quic_connect
from aioquic.asyncio.server import QuicServer
from aioquic.asyncio.server import serve as quic_serve
from aioquic.quic.connection import QuicConnection

from ..errors import ConnectTimeout, FingerprintMismatch, TransportError
from ..identity import fingerprint_text
from ..wire import AgentInfo, CloseCode
from ._aioquic_compat import require_client_certificate, server_port
from .endpoint import (
    AgentConnection,
    ConnectionHandler,
    Credentials,
    TransportConfig,
    _Protocol,
    quic_configuration,
)
from .limits import idlest

# -- device side --------------------------------------------------------------------------------


class Server:
    """A listening device endpoint; :attr:`port` is the bound UDP port."""

    def __init__(self, quic_server: QuicServer, connections: set[AgentConnection]) -> None:
        self._server = quic_server
        self.connections = connections

    @property
    def port(self) -> int:
        return server_port(self._server)

    def close(self, code: int = CloseCode.NORMAL, reason: str = "shutting down") -> None:
        """Close every connection (5139 by default) and stop listening."""
        for conn in list(self.connections):
            conn.close(code, reason)
        self._server.close()


def _make_room(connections: set[AgentConnection], limit: int) -> None:
    """Close unauthenticated connections, idlest first, until fewer than ``limit`` remain."""
    strangers = [c for c in connections if not c.authenticated and not c.is_closed]
    while len(strangers) >= limit:
        victim = idlest(strangers)
        assert victim is not None
        strangers.remove(victim)
        victim.close(CloseCode.TOO_MANY_ATTEMPTS, "too many connections")


async def serve(
    *,
    credentials: Credentials,
    local_info: Callable[[], AgentInfo],
    on_connection: Callable[[AgentConnection], ConnectionHandler],
    host: str = "::",
    port: int = 0,
    config: TransportConfig | None = None,
) -> Server:
    """Listen for controllers; ``on_connection`` gives the handler of each new connection.

    The resource bounds of ``config.limits`` for peers that are not authenticated live here: at most
    ``max_unauthenticated_connections`` of them (a new one closes the idlest with 429), each closed
    with 401 if it has not started pairing ``pairing_deadline`` seconds after it arrived.
    """
    cfg = config or TransportConfig()
    limits = cfg.limits
    qc = quic_configuration(is_client=False, credentials=credentials, config=cfg)
    connections: set[AgentConnection] = set()

    class DeviceProtocol(_Protocol):
        def __init__(self, quic: QuicConnection, stream_handler: Any = None) -> None:
            super().__init__(quic, stream_handler)
            require_client_certificate(quic)
            _make_room(connections, limits.max_unauthenticated_connections)
            conn = AgentConnection(
                self, is_client=False, config=cfg, local_info=local_info, pairing_deadline=limits.pairing_deadline
            )
            self.conn = conn
            conn.handler = on_connection(conn)
            connections.add(conn)
            conn.closed.add_done_callback(lambda _f: connections.discard(conn))

        def datagram_received(self, data: bytes | str, addr: Any) -> None:
            if self.conn.peer_address is None:
                self.conn.peer_address = (str(addr[0]), int(addr[1]))
            super().datagram_received(data, addr)

    try:
        server = await quic_serve(host, port, configuration=qc, create_protocol=DeviceProtocol)
    except OSError:
        if host != "::":
            raise
        server = await quic_serve("0.0.0.0", port, configuration=qc, create_protocol=DeviceProtocol)
    return Server(server, connections)


# -- controller side ----------------------------------------------------------------------------


async def connect(
    host: str,
    port: int,
    *,
    credentials: Credentials,
    expected_fingerprint: bytes,
    server_name: str,
    local_info: Callable[[], AgentInfo],
    on_connection: Callable[[AgentConnection], ConnectionHandler] | None = None,
    config: TransportConfig | None = None,
) -> AgentConnection:
    """Connect to a device; accept it only if its SPKI fingerprint is ``expected_fingerprint``.

    Raises :class:`FingerprintMismatch`, :class:`ConnectTimeout` or :class:`TransportError`.
    """
    cfg = config or TransportConfig()
    qc = quic_configuration(is_client=True, credentials=credentials, config=cfg, server_name=server_name)
    holder: list[AgentConnection] = []

    class ControllerProtocol(_Protocol):
        def __init__(self, quic: QuicConnection, stream_handler: Any = None) -> None:
            super().__init__(quic, stream_handler)
            self.conn = AgentConnection(self, is_client=True, config=cfg, local_info=local_info)
            self.conn.expected_fingerprint = expected_fingerprint
            if on_connection is not None:
                self.conn.handler = on_connection(self.conn)
            holder.append(self.conn)

    stack = contextlib.AsyncExitStack()
    try:
        async with asyncio.timeout(cfg.handshake_timeout):
            await stack.enter_async_context(
                quic_connect(host, port, configuration=qc, create_protocol=ControllerProtocol)
            )
    except TimeoutError:
        await _close_quietly(stack)
        raise ConnectTimeout(f"no QUIC handshake with {host}:{port} in {cfg.handshake_timeout:g} s") from None
    except ConnectionError as exc:
        await _close_quietly(stack)
        raise TransportError(f"cannot connect to {host}:{port}: {exc}") from None
    except (OSError, socket.gaierror) as exc:
        await _close_quietly(stack)
        raise TransportError(f"cannot connect to {host}:{port}: {exc}") from None
    conn = holder[0]
    conn.peer_address = (host, port)
    conn.closed.add_done_callback(lambda _f: asyncio.ensure_future(_close_quietly(stack)))
    if conn.peer_fingerprint != expected_fingerprint:
        actual = conn.peer_fingerprint or b""
        conn.close(CloseCode.UNAUTHORIZED, "device fingerprint mismatch")
        await _close_quietly(stack)
        raise FingerprintMismatch(fingerprint_text(expected_fingerprint), fingerprint_text(actual) if actual else "")
    return conn


async def _close_quietly(stack: contextlib.AsyncExitStack) -> None:
    with contextlib.suppress(Exception):
        async with asyncio.timeout(1.0):
            await stack.aclose()
