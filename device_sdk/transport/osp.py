"""The Open Screen Protocol layer over one QUIC connection, free of I/O.

Like aioquic's ``H3Connection``, :class:`OspConnection` wraps a (sans-I/O) ``QuicConnection``: it is
fed aioquic events and returns OSP events, and sends by queueing data on the QUIC connection. It does
the profile's framing (section 3): one message per new unidirectional stream when sending, any number
per stream when receiving; channel streams are bidirectional; errors close the connection with their
code; before the peer is authenticated only agent-info, agent-status and auth messages pass (401).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass

from aioquic.quic import events as qe
from aioquic.quic.connection import QuicConnection, stream_is_unidirectional

from ..errors import RemoteProtocolError
from ..identity.fingerprint import spki_fingerprint
from ..wire import (
    DEFAULT_MAX_MESSAGE_SIZE,
    UNAUTHENTICATED_TYPES,
    CloseCode,
    DataChannelOpenRequest,
    DataChannelOpenResponse,
    DataFrame,
    Message,
    MessageDecoder,
    encode_message,
)
from ._aioquic_compat import is_idle_timeout, peer_certificate, stream_buffered

log = logging.getLogger(__name__)

CHANNEL_MESSAGES = (DataChannelOpenRequest, DataChannelOpenResponse, DataFrame)


# -- events ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandshakeDone:
    """TLS is up; ``peer_fingerprint`` (SHA-256 of the certificate's SPKI) is None when the peer
    presented no certificate."""

    peer_fingerprint: bytes | None
    alpn: str | None


@dataclass(frozen=True, slots=True)
class ControlMessage:
    """A message received on a unidirectional stream (agent-info, agent-status, auth)."""

    message: Message


@dataclass(frozen=True, slots=True)
class StreamMessage:
    """A message received on a bidirectional (channel) stream."""

    stream_id: int
    message: Message


@dataclass(frozen=True, slots=True)
class StreamEnded:
    """The peer ended (FIN) or reset a bidirectional stream."""

    stream_id: int
    reset_code: int | None = None


@dataclass(frozen=True, slots=True)
class DatagramReceived:
    data: bytes


@dataclass(frozen=True, slots=True)
class ConnectionEnded:
    """The connection is over. ``by_peer`` tells which side closed it; ``lost_contact``: neither,
    nothing was received for the idle timeout (or no network path was left)."""

    code: int
    reason: str
    by_peer: bool
    lost_contact: bool = False


OspEvent = HandshakeDone | ControlMessage | StreamMessage | StreamEnded | DatagramReceived | ConnectionEnded


class OspConnection:
    """OSP framing and gatekeeping over a ``QuicConnection`` (see module docstring)."""

    def __init__(self, quic: QuicConnection, *, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self.quic = quic
        self.max_message_size = max_message_size
        self.authenticated = False
        """Set by the layer above once the peer is trusted or has paired."""
        self._decoders: dict[int, MessageDecoder] = {}
        self._closed = False
        self._ended = False
        self.closed_here: tuple[int, str] | None = None
        """The code and reason when this side closed the connection (None: open, or closed by the peer)."""

    @property
    def closed(self) -> bool:
        return self._closed

    def buffered(self) -> int:
        """Bytes received and held for messages not yet complete, on every stream."""
        return sum(decoder.buffered for decoder in self._decoders.values())

    def release(self) -> None:
        """The connection is over: drop what is still buffered."""
        self._decoders.clear()

    # -- sending --------------------------------------------------------------------------------

    def send_control(self, msg: Message) -> int | None:
        """Send ``msg`` on a new unidirectional stream and end it; return the stream id."""
        if self._closed:
            return None
        stream_id = self.quic.get_next_available_stream_id(is_unidirectional=True)
        self.quic.send_stream_data(stream_id, encode_message(msg, max_size=self.max_message_size), True)
        return stream_id

    def open_stream(self) -> int:
        """Open a new bidirectional stream (for a data channel); return its id."""
        return self.quic.get_next_available_stream_id(is_unidirectional=False)

    def send_stream(self, stream_id: int, msg: Message, *, end_stream: bool = False) -> None:
        if self._closed:
            return
        self.quic.send_stream_data(stream_id, encode_message(msg, max_size=self.max_message_size), end_stream)

    def send_stream_raw(self, stream_id: int, data: bytes, *, end_stream: bool = False) -> None:
        """Send already encoded messages on a stream."""
        if not self._closed:
            self.quic.send_stream_data(stream_id, data, end_stream)

    def end_stream(self, stream_id: int) -> None:
        if not self._closed:
            self.quic.send_stream_data(stream_id, b"", True)

    def reset_stream(self, stream_id: int, code: int) -> None:
        """Reset a channel stream in both directions with an application error ``code``."""
        self._decoders.pop(stream_id, None)
        if self._closed:
            return
        # ValueError: our sending side already ended, or the stream is receive-only / stopped.
        with contextlib.suppress(ValueError):
            self.quic.reset_stream(stream_id, code)
        with contextlib.suppress(ValueError):
            self.quic.stop_stream(stream_id, code)

    def send_buffered(self, stream_id: int) -> int:
        """Bytes queued on a stream and not yet sent: the flow-control signal for channels."""
        return stream_buffered(self.quic, stream_id)

    def close(self, code: int, reason: str = "") -> None:
        """Close the connection with an application error code."""
        if self._closed:
            return
        self._closed = True
        self.closed_here = (int(code), reason)
        self._decoders.clear()
        self.quic.close(error_code=int(code), reason_phrase=reason)

    # -- receiving ------------------------------------------------------------------------------

    def handle_event(self, event: qe.QuicEvent) -> list[OspEvent]:
        """Feed one aioquic event; return the OSP events it produces."""
        if isinstance(event, qe.StreamDataReceived):
            return self._stream_data(event)
        if isinstance(event, qe.HandshakeCompleted):
            cert = peer_certificate(self.quic)
            return [HandshakeDone(spki_fingerprint(cert) if cert is not None else None, event.alpn_protocol)]
        if isinstance(event, qe.StreamReset):
            self._decoders.pop(event.stream_id, None)
            if stream_is_unidirectional(event.stream_id):
                return []
            return [StreamEnded(event.stream_id, event.error_code)]
        if isinstance(event, qe.DatagramFrameReceived):
            if self._closed:
                return []
            return [DatagramReceived(event.data)]
        if isinstance(event, qe.ConnectionTerminated):
            self._decoders.clear()
            if self._ended:
                return []
            self._ended = True
            lost = not self._closed and is_idle_timeout(event)
            by_peer = not self._closed and not lost
            self._closed = True
            return [ConnectionEnded(event.error_code, event.reason_phrase, by_peer, lost)]
        return []

    def _stream_data(self, event: qe.StreamDataReceived) -> list[OspEvent]:
        if self._closed:
            return []
        sid = event.stream_id
        uni = stream_is_unidirectional(sid)
        decoder = self._decoders.get(sid)
        if decoder is None:
            if not event.data and event.end_stream:
                return [] if uni else [StreamEnded(sid)]
            decoder = self._decoders[sid] = MessageDecoder(max_message_size=self.max_message_size)
        out: list[OspEvent] = []
        decoder.receive(event.data)
        try:
            while (msg := decoder.next_message()) is not None:
                self._gatekeep(msg, uni)
                out.append(ControlMessage(msg) if uni else StreamMessage(sid, msg))
            if event.end_stream:
                decoder.end_of_stream()
                del self._decoders[sid]
                if not uni:
                    out.append(StreamEnded(sid))
        except RemoteProtocolError as exc:
            log.info("closing connection: %s %s", exc.code, exc.reason)
            self.close(exc.code, exc.reason)
            # the messages before the error are still reported: they were valid.
            return [e for e in out if not isinstance(e, StreamEnded)]
        return out

    def _gatekeep(self, msg: Message, uni: bool) -> None:
        if isinstance(msg, CHANNEL_MESSAGES):
            if uni:
                raise RemoteProtocolError(
                    CloseCode.BAD_REQUEST, f"type {msg.TYPE_KEY} belongs on a bidirectional stream"
                )
        elif not uni:
            raise RemoteProtocolError(CloseCode.BAD_REQUEST, f"type {msg.TYPE_KEY} belongs on a unidirectional stream")
        if not self.authenticated and msg.TYPE_KEY not in UNAUTHENTICATED_TYPES:
            raise RemoteProtocolError(CloseCode.UNAUTHORIZED, f"type {msg.TYPE_KEY} before authentication")
