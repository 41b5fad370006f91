"""Listening (the device) and dialling (the controller): the sockets that give an :class:`AgentConnection`."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from typing import Any

from aioquic.asyncio.server import QuicServer
from aioquic.asyncio.server import serve as quic_serve
from aioquic.quic.connection import QuicConnection

from ..errors import ConnectionClosed, ConnectTimeout, FingerprintMismatch, TransportError
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

SOCKET_CLOSE_GRACE_S = 1.0
"""A dialled connection's socket closes when QUIC's closing period ends, or this long after the close."""

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

    Raises :class:`FingerprintMismatch`, :class:`ConnectTimeout` or :class:`TransportError`. The
    connection's socket is closed once the connection has ended and QUIC's closing period is over.
    """
    cfg = config or TransportConfig()
    qc = quic_configuration(is_client=True, credentials=credentials, config=cfg, server_name=server_name)
    loop = asyncio.get_running_loop()
    protocol: _Protocol | None = None

    class ControllerProtocol(_Protocol):
        flush_later = True  # what a received datagram produced leaves after the tasks it woke have run

        def __init__(self, quic: QuicConnection) -> None:
            super().__init__(quic)
            self.conn = AgentConnection(self, is_client=True, config=cfg, local_info=local_info)
            self.conn.expected_fingerprint = expected_fingerprint
            if on_connection is not None:
                self.conn.handler = on_connection(self.conn)

    try:
        async with asyncio.timeout(cfg.handshake_timeout):
            family, address = await _resolve(loop, host, port)
            sock = socket.socket(family, socket.SOCK_DGRAM)
            try:
                sock.bind(("::", 0, 0, 0) if family == socket.AF_INET6 else ("0.0.0.0", 0))
                _, made = await loop.create_datagram_endpoint(
                    lambda: ControllerProtocol(QuicConnection(configuration=qc)), sock=sock
                )
            except BaseException:
                sock.close()
                raise
            protocol = made
            protocol.connect(address)
            await protocol.conn.ready
    except TimeoutError:
        _abandon(protocol)
        raise ConnectTimeout(f"no QUIC handshake with {host}:{port} in {cfg.handshake_timeout:g} s") from None
    except ConnectionClosed as exc:
        _abandon(protocol)
        raise TransportError(f"cannot connect to {host}:{port}: {exc}") from None
    except OSError as exc:  # socket.gaierror included
        _abandon(protocol)
        raise TransportError(f"cannot connect to {host}:{port}: {exc}") from None
    except BaseException:
        _abandon(protocol)
        raise
    conn_protocol = protocol
    conn = protocol.conn
    conn.peer_address = (host, port)
    conn.closed.add_done_callback(lambda _f: _close_socket_later(conn_protocol))
    if conn.peer_fingerprint != expected_fingerprint:
        actual = conn.peer_fingerprint or b""
        conn.close(CloseCode.UNAUTHORIZED, "device fingerprint mismatch")
        raise FingerprintMismatch(fingerprint_text(expected_fingerprint), fingerprint_text(actual) if actual else "")
    return conn


async def _resolve(loop: asyncio.AbstractEventLoop, host: str, port: int) -> tuple[int, Any]:
    """The socket family and address to dial: an IP address at once, a name through the resolver
    (in a thread)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    if not infos:
        raise socket.gaierror(f"no address for {host}")
    family, _, _, _, address = infos[0]
    return int(family), address


def _abandon(protocol: _Protocol | None) -> None:
    """A dial that failed: close its connection (its socket follows)."""
    if protocol is not None:
        protocol.conn.close(CloseCode.NORMAL, "connect abandoned")
        _close_socket_later(protocol)


def _close_socket_later(protocol: _Protocol) -> None:
    """The connection is over: close its socket once QUIC's closing period has ended (its last
    datagrams answer a peer that missed the close), or after a second."""

    if protocol.closer is not None:
        return

    async def closing_period() -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SOCKET_CLOSE_GRACE_S):
                await protocol.wait_closed()

    def close_socket(_task: asyncio.Task[None]) -> None:
        # after the wait, or when it was cancelled (the event loop is shutting down), even before it began
        if protocol.transport is not None:
            protocol.transport.close()

    # held by the protocol, which the open socket holds: the task lives as long as it has work
    protocol.closer = asyncio.get_running_loop().create_task(closing_period())
    protocol.closer.add_done_callback(close_socket)
