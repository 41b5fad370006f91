"""Every use of aioquic internals, in one place.

aioquic has no public API for three things the profile needs:

- a server that asks for a client certificate (mutual TLS): its TLS context has a private flag,
  ``_request_client_certificate``, set here after the context is created;
- the peer's certificate after the handshake: ``tls._peer_certificate``;
- whether a datagram can leave now: the congestion window, bytes in flight and the datagram queue;
- that the peer has closed the connection: aioquic reports it only when draining ends, three probe
  timeouts later (about 100 ms on loopback), so its pending close event is read at once.

``tests/test_transport_compat.py`` fails loudly if an aioquic release renames any of these.
"""

from __future__ import annotations

from aioquic.quic import events as qe
from aioquic.quic.connection import QuicConnection, QuicConnectionState
from cryptography import x509

REQUEST_CLIENT_CERT_FLAG = "_request_client_certificate"


class MutualTLSServerConnection(QuicConnection):
    """A server-side QuicConnection whose TLS handshake requests a client certificate."""

    def _initialize(self, peer_cid: bytes) -> None:
        super()._initialize(peer_cid)
        if not hasattr(self.tls, REQUEST_CLIENT_CERT_FLAG):
            raise RuntimeError("this aioquic release has no client-certificate flag; see _aioquic_compat")
        setattr(self.tls, REQUEST_CLIENT_CERT_FLAG, True)


def require_client_certificate(connection: QuicConnection) -> None:
    """Make a not yet initialized server connection request a client certificate."""
    connection.__class__ = MutualTLSServerConnection


def peer_certificate(connection: QuicConnection) -> x509.Certificate | None:
    """The certificate the peer presented in the TLS handshake, if any."""
    tls = getattr(connection, "tls", None)
    cert = getattr(tls, "_peer_certificate", None)
    return cert if isinstance(cert, x509.Certificate) else None


def datagram_can_leave_now(connection: QuicConnection, size: int) -> bool:
    """True when a datagram of ``size`` bytes would be sent at once, not queued behind others.

    aioquic's datagram queue never expires frames; a caller that wants the newest state (a game
    pad) holds frames back while this is False and offers only its latest one later.
    """
    if connection._datagrams_pending:
        return False
    loss = connection._loss
    return bool(loss.congestion_window - loss.bytes_in_flight >= size + 64)


def stream_buffered(connection: QuicConnection, stream_id: int) -> int:
    """Bytes written to a stream and not yet acknowledged (sent or waiting)."""
    stream = connection._streams.get(stream_id)
    if stream is None:
        return 0
    sender = stream.sender
    return max(0, sender._buffer_stop - sender._buffer_start)


def peer_close(connection: QuicConnection) -> qe.ConnectionTerminated | None:
    """The peer's CONNECTION_CLOSE, as soon as it has arrived (the connection is draining), else None."""
    if connection._state is not QuicConnectionState.DRAINING:
        return None
    event = connection._close_event
    return event if isinstance(event, qe.ConnectionTerminated) else None
