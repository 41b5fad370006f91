"""CBOR data items as the profile allows them (section 3): major types 0-5 and 7, never a tag.

The profile's items are integers, byte and text strings, arrays, maps, simple values and floats. A
semantic tag (major type 6) anywhere makes an item malformed, before or after authentication and in
both directions, so that no tag decoder of cbor2 ever runs on bytes from the network (decimal
fractions, regular expressions, big numbers and shared references cost time or memory out of
proportion to their size) and so that decoding costs time linear in the size of the item.

- :class:`CborScanner` finds where one item ends, resumable as bytes arrive, checking that it is
  well-formed and tag-free without building any value (the message decoder runs it on every stream);
- :func:`loads_item` decodes bytes that must hold exactly one such item (channel frames, datagrams);
- :func:`dumps_item` encodes a value that needs no tag, and refuses one that would (an integer
  outside -2^64 .. 2^64-1, a set, a date, a Decimal...), so the device never sends what it refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cbor2

from ..errors import DeviceSDKError, InvalidArgument

MAX_NESTING = 32
"""Deepest nesting of arrays and maps accepted in a received item."""

_INDEFINITE = -1


class _Malformed(DeviceSDKError):
    pass


class CborScanner:
    """Finds where one CBOR data item ends, resumable across calls as more bytes arrive.

    Checks well-formedness of the item's structure (RFC 8949 section 3 and appendix F) without
    building values: reserved additional information, misplaced breaks, indefinite-length string
    chunks of another type, two-byte simple values below 32, nesting deeper than ``max_nesting``,
    and (unless ``allow_tags``, which only tests use to compare with cbor2) any semantic tag. Each
    byte is looked at once, whatever the item holds (twice when a first look for a flat container,
    :func:`flat_item_end`, finds a nested item or not all of it, and the general scan takes over).
    """

    __slots__ = ("_allow_tags", "_max_nesting", "_pos", "_stack")

    def __init__(self, *, start: int = 0, max_nesting: int = MAX_NESTING, allow_tags: bool = False) -> None:
        self._pos = start
        self._allow_tags = allow_tags
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
            raise InvalidArgument(str(exc)) from None

    def _scan(self, buf: bytes | bytearray) -> int | None:
        n = len(buf)
        pos = self._pos
        stack = self._stack
        if not stack and self._max_nesting >= 1 and (end := flat_item_end(buf, pos)) is not None:
            return end
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
                if not stack:
                    return pos
                top = stack[-1]
                if top[0] > 1:  # the common case, inline: a definite container with more items to come
                    top[0] -= 1
                elif self._item_done(stack):
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
                if not stack:
                    return pos
                top = stack[-1]
                if top[0] > 1:
                    top[0] -= 1
                elif self._item_done(stack):
                    return pos
                continue
            if major in (4, 5):
                if arg == 0:
                    pos += head
                    if not stack or self._item_done(stack):
                        return pos
                    continue
                count = arg if arg == _INDEFINITE or major == 4 else arg * 2
                if len(stack) >= self._max_nesting:
                    raise _Malformed(f"nesting deeper than {self._max_nesting}")
                # An indefinite map tracks whether a key waits for its value (-2: at a key, -3: at a value).
                stack.append([count, -2 if arg == _INDEFINITE and major == 5 else -1])
                pos += head
                continue
            if major == 6:  # a tag: one item follows
                if not self._allow_tags:
                    raise _Malformed(f"semantic tag {arg} (the profile allows no tags)")
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


def _skip_table() -> tuple[int, ...]:
    """For each initial byte: the size of the whole item when the byte alone says it (an integer, a
    simple value other than the two-byte one, a float, a string shorter than 24 bytes), ``-k`` for a
    definite string whose length follows in ``k`` bytes, 0 for everything :func:`flat_item_end` leaves
    to the general scan (containers, tags, indefinite lengths, breaks, two-byte simple values and the
    reserved values, some of which are malformed)."""
    table = []
    for ib in range(256):
        major, info = ib >> 5, ib & 0x1F
        if major <= 1:
            table.append(1 if info < 24 else 1 + (1 << (info - 24)) if info <= 27 else 0)
        elif major <= 3:
            table.append(1 + info if info < 24 else -(1 << (info - 24)) if info <= 27 else 0)
        elif major == 7:
            table.append(1 if info < 24 else 1 + (1 << (info - 24)) if 25 <= info <= 27 else 0)
        else:
            table.append(0)
    return tuple(table)


_SKIP = _skip_table()


def flat_item_end(buf: bytes | bytearray, pos: int = 0) -> int | None:
    """The offset just past the item at ``pos`` when it is a definite array or map of fewer than 24
    entries whose keys and values are integers, floats, strings or simple values (every message and
    reading of the profile), all in ``buf``; None for any other item, or when bytes are missing: then
    :class:`CborScanner` decides. What this accepts, the scanner accepts with the same end."""
    n = len(buf)
    if pos >= n:
        return None
    ib = buf[pos]
    if ib < 0x80 or ib > 0xB7 or 0x98 <= ib < 0xA0:  # not an array (0x80-0x97) nor a map (0xa0-0xb7)
        return None
    count = ib - 0x80 if ib < 0xA0 else 2 * (ib - 0xA0)
    pos += 1
    skip = _SKIP
    for _ in range(count):
        if pos >= n:
            return None
        size = skip[buf[pos]]
        if size > 0:
            pos += size
        elif size < 0:
            start = pos + 1 - size
            if start > n:
                return None
            pos = start + int.from_bytes(buf[pos + 1 : start], "big")
        else:
            return None
    return pos if pos <= n else None


# -- whole items -----------------------------------------------------------------------------------


def loads_item(data: bytes | bytearray, *, max_nesting: int = MAX_NESTING) -> Any:
    """Decode ``data``, which must be exactly one well-formed, tag-free item.

    Raises ``ValueError`` (naming what is wrong) for anything else: a tag, garbage, a truncated item,
    bytes after the item, nesting deeper than ``max_nesting``, invalid UTF-8. The bytes are checked
    by :class:`CborScanner` before cbor2 builds anything.
    """
    end = flat_item_end(data) if max_nesting >= 1 else None
    if end is None:
        end = CborScanner(max_nesting=max_nesting).scan(data)
    if end is None:
        raise InvalidArgument("the item is truncated")
    if end != len(data):
        raise InvalidArgument("bytes after the item")
    try:
        return cbor2.loads(data)
    except Exception as exc:  # cbor2 raises several types (invalid UTF-8 among them)
        raise InvalidArgument(str(exc) or type(exc).__name__) from None


WIRE_INT_MIN = -(2**64)
"""The smallest integer CBOR carries without a tag (major type 1, argument 2^64 - 1)."""
WIRE_INT_MAX = 2**64 - 1
"""The largest integer CBOR carries without a tag (major type 0)."""

_SCALARS: frozenset[type] = frozenset({str, bytes, float, bool, type(None)})


def unencodable(value: object, *, max_nesting: int = MAX_NESTING) -> str | None:
    """Why ``value`` cannot be sent as a tag-free item of at most ``max_nesting`` levels, or None.

    Allowed: None, bool, int in ``WIRE_INT_MIN .. WIRE_INT_MAX``, float, str, bytes, bytearray,
    list, tuple, and maps (any :class:`~collections.abc.Mapping`) whose keys and values are allowed,
    plus the simple values cbor2 decodes (``undefined``, :class:`cbor2.CBORSimpleValue`).
    """
    if type(value) is dict and _flat_map_ok(value):  # every frame and message: a flat map of scalars
        return None
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        kind = type(item)
        if kind in _SCALARS:
            continue
        if kind is int:
            if not WIRE_INT_MIN <= item <= WIRE_INT_MAX:  # type: ignore[operator]
                return "an integer outside -2^64 .. 2^64-1 (it would need a tag)"
            continue
        if depth > max_nesting and isinstance(item, list | tuple | Mapping):
            return f"nesting deeper than {max_nesting}"
        if kind is list or kind is tuple:
            stack.extend((x, depth + 1) for x in item)  # type: ignore[attr-defined]
        elif kind is dict or isinstance(item, Mapping):
            for k, v in item.items():  # type: ignore[attr-defined]
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
        elif isinstance(item, bool | float | str | bytes | bytearray):  # subclasses (an IntEnum is an int)
            continue
        elif isinstance(item, int):
            if not WIRE_INT_MIN <= item <= WIRE_INT_MAX:
                return "an integer outside -2^64 .. 2^64-1 (it would need a tag)"
        elif item is cbor2.undefined or isinstance(item, cbor2.CBORSimpleValue):
            continue
        else:
            return f"a {kind.__name__} (not a CBOR type of the profile)"
    return None


def _flat_map_ok(value: dict[Any, Any]) -> bool:
    for key, item in value.items():
        kind = type(key)
        if not (kind in _SCALARS or (kind is int and WIRE_INT_MIN <= key <= WIRE_INT_MAX)):
            return False
        kind = type(item)
        if not (kind in _SCALARS or (kind is int and WIRE_INT_MIN <= item <= WIRE_INT_MAX)):
            return False
    return True


def dumps_item(value: object) -> bytes:
    """Encode ``value`` as one tag-free item; ``ValueError`` when it would need a tag (see
    :func:`unencodable`)."""
    why = unencodable(value)
    if why is not None:
        raise InvalidArgument(f"cannot encode {why}")
    return cbor2.dumps(value)
