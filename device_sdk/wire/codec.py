"""The message codec: a QUIC varint type key followed by exactly one CBOR item, no length prefix.

:class:`MessageDecoder` is incremental and free of I/O: feed it the bytes of one stream as they arrive,
split anywhere, and it returns the complete messages. The end of a CBOR item is found by a resumable
scanner over the CBOR heads (string contents are skipped, not read), so a large message arriving in
many packets is scanned once, and a message is decoded by cbor2 only when it is complete.

Errors are checked as the bytes arrive, in the order of profile section 3: unknown type key (404),
too much buffered for one message (413), malformed CBOR / truncated stream / schema mismatch (400).
They are raised as :class:`~device_sdk.errors.RemoteProtocolError` carrying the close code.
"""

from __future__ import annotations

from typing import Any

import cbor2

from ..errors import LocalProtocolError, RemoteProtocolError
from .codes import CloseCode
from .messages import MESSAGE_TYPES, Message, SchemaError
from .varint import decode_varint, encode_varint, varint_length

DEFAULT_MAX_MESSAGE_SIZE = 1 << 20
"""Default limit for one message (type key and CBOR item), 1 MiB."""

MAX_NESTING = 32
"""Deepest nesting of arrays, maps and tags accepted in a received item."""

_INDEFINITE = -1


class _Malformed(Exception):
    pass


class CborScanner:
    """Finds where one CBOR data item ends, resumable across calls as more bytes arrive.

    Checks well-formedness of the item's structure (RFC 8949 section 3 and appendix F) without
    building values: reserved additional information, misplaced breaks, indefinite-length string
    chunks of another type, two-byte simple values below 32, nesting deeper than ``max_nesting``.
    """

    __slots__ = ("_max_nesting", "_pos", "_stack")

    def __init__(self, *, start: int = 0, max_nesting: int = MAX_NESTING) -> None:
        self._pos = start
        # Each entry: items still expected in an open container (or _INDEFINITE), plus the major
        # type of an indefinite-length string (its chunks must have that type), else -1.
        self._stack: list[list[int]] = []
        self._max_nesting = max_nesting

    def scan(self, buf: bytes | bytearray) -> int | None:
        """Return the offset just past the item, or None when more bytes are needed.

        Raises ``ValueError`` when the bytes cannot be a well-formed item.
        """
        try:
            return self._scan(buf)
        except _Malformed as exc:
            raise ValueError(str(exc)) from None

    def _scan(self, buf: bytes | bytearray) -> int | None:
        n = len(buf)
        pos = self._pos
        stack = self._stack
        while True:
            if pos >= n:
                self._pos = pos
                return None
            ib = buf[pos]
            major = ib >> 5
            info = ib & 0x1F
            if ib == 0xFF:  # break
                if not stack or stack[-1][0] != _INDEFINITE:
                    raise _Malformed("unexpected break")
                if stack[-1][1] == -3:
                    raise _Malformed("break where an indefinite-length map expects a value")
                stack.pop()
                pos += 1
                if not stack:
                    return pos
                self._item_done(stack)
                if not stack:
                    return pos
                continue
            if stack and stack[-1][1] >= 0 and (major != stack[-1][1] or info == 31):
                raise _Malformed("indefinite-length string chunk of the wrong type")
            # the argument
            if info < 24:
                arg = info
                head = 1
            elif info <= 27:
                size = 1 << (info - 24)
                head = 1 + size
                if pos + head > n:
                    self._pos = pos
                    return None
                arg = int.from_bytes(buf[pos + 1 : pos + head], "big")
            elif info == 31:
                if major in (0, 1, 6):
                    raise _Malformed("indefinite length not allowed for this major type")
                arg = _INDEFINITE
                head = 1
            else:
                raise _Malformed("reserved additional information value")

            if major <= 1 or (major == 7 and info != 31):
                if major == 7 and info == 24 and arg < 32:
                    raise _Malformed("two-byte simple value below 32")
                pos += head
                if not stack or self._item_done(stack):
                    return pos
                continue
            if major in (2, 3):
                if arg == _INDEFINITE:
                    self._push(stack, [_INDEFINITE, major])
                    pos += head
                    continue
                end = pos + head + arg
                if end > n:
                    self._pos = pos
                    return None
                pos = end
                if not stack or self._item_done(stack):
                    return pos
                continue
            if major in (4, 5):
                if arg == 0:
                    pos += head
                    if not stack or self._item_done(stack):
                        return pos
                    continue
                count = arg if arg == _INDEFINITE or major == 4 else arg * 2
                # An indefinite map tracks whether a key waits for its value (-2: at a key, -3: at a value).
                self._push(stack, [count, -2 if arg == _INDEFINITE and major == 5 else -1])
                pos += head
                continue
            if major == 6:  # a tag: one item follows
                self._push(stack, [1, -1])
                pos += head
                continue
            raise _Malformed("break outside an indefinite-length item")  # major 7, info 31

    def _push(self, stack: list[list[int]], entry: list[int]) -> None:
        if len(stack) >= self._max_nesting:
            raise _Malformed(f"nesting deeper than {self._max_nesting}")
        stack.append(entry)

    @staticmethod
    def _item_done(stack: list[list[int]]) -> bool:
        """One item completed inside the top container; True when the outermost item is complete."""
        while stack:
            top = stack[-1]
            if top[0] == _INDEFINITE:
                if top[1] <= -2:
                    top[1] = -5 - top[1]  # key <-> value
                return False
            top[0] -= 1
            if top[0] > 0:
                return False
            stack.pop()
        return True


def encode_message(msg: Message, *, max_size: int = DEFAULT_MAX_MESSAGE_SIZE) -> bytes:
    """Encode ``msg`` as its varint type key and one CBOR item.

    Raises :class:`LocalProtocolError` (413) when the result exceeds ``max_size``.
    """
    data = encode_varint(msg.TYPE_KEY) + cbor2.dumps(msg.to_cbor())
    if len(data) > max_size:
        raise LocalProtocolError(CloseCode.TOO_LARGE, f"message of {len(data)} bytes exceeds {max_size}")
    return data


def decode_body(type_key: int, body: bytes) -> Message:
    """Decode and validate the CBOR item of a message whose type key is known."""
    try:
        value: Any = cbor2.loads(body)
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
            self._scanner = CborScanner(start=self._start)
        assert self._scanner is not None
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
        return decode_body(key, body)

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
