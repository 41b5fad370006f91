"""The message codec: a QUIC varint type key followed by exactly one CBOR item, no length prefix.

:class:`MessageDecoder` is incremental and free of I/O: feed it the bytes of one stream as they arrive,
split anywhere, and it returns the complete messages. The end of a CBOR item is found by a resumable
scanner over the CBOR heads (string contents are skipped, not read), so a large message arriving in
many packets is scanned once, and a message is decoded by cbor2 only when it is complete. The scanner
refuses semantic tags (:mod:`device_sdk.wire.cbor`), so cbor2 only ever decodes the profile's types and
decoding costs time linear in the size of the message.

Errors are checked as the bytes arrive, in the order of profile section 3: unknown type key (404),
too much buffered for one message (413), malformed CBOR / truncated stream / schema mismatch (400).
They are raised as :class:`~device_sdk.errors.RemoteProtocolError` carrying the close code.
"""

from __future__ import annotations

from typing import Any

import cbor2

from ..errors import LocalProtocolError, RemoteProtocolError
from .cbor import MAX_NESTING as MAX_NESTING
from .cbor import CborScanner, flat_item_end, loads_item, unencodable
from .codes import CloseCode
from .messages import MESSAGE_TYPES, Message, SchemaError
from .varint import decode_varint, encode_varint, varint_length

DEFAULT_MAX_MESSAGE_SIZE = 1 << 20
"""Default limit for one message (type key and CBOR item), 1 MiB."""


def encode_message(msg: Message, *, max_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> bytes:
    """Encode ``msg`` as its varint type key and one CBOR item.

    Raises :class:`LocalProtocolError`: 413 when the result exceeds ``max_size``, 400 when a field
    holds a value that would need a CBOR tag (an integer beyond 64 bits).
    """
    body = msg.to_cbor()
    why = unencodable(body)
    if why is not None:
        raise LocalProtocolError(CloseCode.BAD_REQUEST, f"type {msg.TYPE_KEY} cannot be encoded: {why}")
    data = encode_varint(msg.TYPE_KEY) + cbor2.dumps(body)
    if len(data) > max_size:
        raise LocalProtocolError(CloseCode.TOO_LARGE, f"message of {len(data)} bytes exceeds {max_size}")
    return data


def decode_body(type_key: int, body: bytes, *, scanned: bool = False) -> Message:
    """Decode and validate the CBOR item of a message whose type key is known.

    ``scanned``: :class:`CborScanner` has already checked ``body`` (the decoder does as bytes arrive);
    otherwise it is checked here first, so a tag is a 400 before cbor2 sees it.
    """
    try:
        value: Any = cbor2.loads(body) if scanned else loads_item(body)
    except Exception as exc:  # cbor2 raises several error types for malformed input
        raise RemoteProtocolError(CloseCode.BAD_REQUEST, f"malformed CBOR: {exc}") from None
    if not isinstance(value, dict):
        raise RemoteProtocolError(CloseCode.BAD_REQUEST, f"type {type_key}: the item is not a map")
    try:
        return MESSAGE_TYPES[type_key].from_cbor(value)
    except (SchemaError, ValueError) as exc:
        raise RemoteProtocolError(CloseCode.BAD_REQUEST, str(exc)) from None


class MessageDecoder:
    """Incremental decoder for one stream's bytes; see the module docstring.

    After it has raised, the decoder is spent: the connection is being closed.
    """

    __slots__ = ("_buf", "_key", "_max_size", "_scanner", "_start")

    def __init__(self, *, max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> None:
        self._buf = bytearray()
        self._max_size = max_message_size
        self._key: int | None = None
        self._start = 0  # offset of the CBOR item of the current message in _buf
        self._scanner: CborScanner | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for a message not yet complete."""
        return len(self._buf)

    @property
    def in_message(self) -> bool:
        """True when part of a message has been received."""
        return bool(self._buf)

    def receive(self, data: bytes) -> None:
        """Add bytes; take the messages with :meth:`next_message`."""
        self._buf += data

    def next_message(self) -> Message | None:
        """The next complete message, or None when more bytes are needed.

        Raises :class:`RemoteProtocolError` as soon as the buffered bytes break the profile.
        """
        buf = self._buf
        if not buf:
            return None
        if self._key is None:
            if len(buf) < varint_length(buf[0]):
                return None
            key, self._start = decode_varint(buf)
            if key not in MESSAGE_TYPES:
                raise RemoteProtocolError(CloseCode.NOT_FOUND, f"unknown type key {key}")
            self._key = key
            end = flat_item_end(buf, self._start)  # a whole message of flat items: no scanner needed
        else:
            end = None
        if end is None:
            if self._scanner is None:
                self._scanner = CborScanner(start=self._start)
            try:
                end = self._scanner.scan(buf)
            except ValueError as exc:
                self._check_size(len(buf))
                raise RemoteProtocolError(CloseCode.BAD_REQUEST, f"malformed CBOR: {exc}") from None
            if end is None:
                self._check_size(len(buf))
                return None
        self._check_size(end)
        body = bytes(buf[self._start : end])
        key = self._key
        del buf[:end]
        self._key = None
        self._scanner = None
        return decode_body(key, body, scanned=True)

    def feed(self, data: bytes) -> list[Message]:
        """Add bytes; return every message completed by them, in order."""
        self._buf += data
        out: list[Message] = []
        while (msg := self.next_message()) is not None:
            out.append(msg)
        return out

    def end_of_stream(self) -> None:
        """The stream ended (FIN): raise 400 if it ended inside a message."""
        if self._buf:
            raise RemoteProtocolError(CloseCode.BAD_REQUEST, "stream ended inside a message")

    def _check_size(self, size: int) -> None:
        if size > self._max_size:
            raise RemoteProtocolError(CloseCode.TOO_LARGE, f"more than {self._max_size} bytes buffered for one message")
