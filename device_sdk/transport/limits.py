"""What one peer may make this agent hold, before and after authentication (profile v1.1 section 3).

:class:`ResourceLimits` is the configuration (a field of :class:`~device_sdk.transport.TransportConfig`);
the rest of this module is the pure arithmetic the transport applies with it: receive windows that
slide by what was delivered instead of doubling (aioquic's own rule, which lets a peer that fills gaps
make the receiver allocate without bound), which unauthenticated connection goes first when there are
too many, and when a peer that does not read its answers is over its bound. The aioquic side of the
windows is in ``_aioquic_compat``. ``docs/protocol.md`` (section 3, "Resource bounds") lists every limit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from ..errors import ConfigError

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True, kw_only=True)
class ResourceLimits:
    """Bounds on what a peer can make this agent hold. The defaults suit a Raspberry Pi serving a
    household; every value is per connection unless it says otherwise."""

    stream_window: int = 1 * MIB
    """Receive credit per stream: bytes a peer may send on one stream beyond what has been delivered
    (one message's worth, as the profile's 1 MiB message size). Before authentication it is never
    raised; after, it slides forward as data is delivered."""
    connection_window: int = 4 * MIB
    """Receive credit across all streams of an authenticated peer: the most it can make this agent
    hold at once, in QUIC reassembly gaps and in messages not yet complete."""
    unauthenticated_connection_window: int = 64 * KIB
    """Every stream byte a peer may send before it is authenticated, for the whole connection (never
    raised until it is). Pairing needs under 2 KiB."""
    streams: int = 128
    """Streams of each kind (unidirectional, bidirectional) an authenticated peer may have open."""
    unauthenticated_uni_streams: int = 8
    """Unidirectional streams a peer that is not authenticated may have open at once."""
    unauthenticated_bidi_streams: int = 1
    """Bidirectional streams a peer that is not authenticated may have open at once (one, so that a
    channel opened too early gets its 401 rather than a QUIC stream-limit error)."""
    max_unauthenticated_connections: int = 256
    """Device side: connections not (yet) authenticated, handshakes included. A new one beyond this
    closes the one that has been idle longest (error 429)."""
    pairing_deadline: float = 10.0
    """Device side: seconds a connection may stay unauthenticated without starting to pair (sending
    auth-spake2-handshake); then it is closed with error 401."""
    unread_answer_bytes: int = 256 * KIB
    """Bytes of control messages (answers, events) sent and not yet acknowledged by the peer. A peer
    over this, or over ``unread_answer_streams``, does not read what it asked for: it is closed with
    error 429."""
    unread_answer_streams: int = 64
    """Control messages (one stream each) sent and not yet acknowledged by the peer."""

    def __post_init__(self) -> None:
        for name in (
            "stream_window",
            "connection_window",
            "unauthenticated_connection_window",
            "streams",
            "unauthenticated_uni_streams",
            "unauthenticated_bidi_streams",
            "max_unauthenticated_connections",
            "unread_answer_bytes",
            "unread_answer_streams",
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, not {value!r}")
        if not self.pairing_deadline > 0:
            raise ConfigError(f"pairing_deadline must be a positive number of seconds, not {self.pairing_deadline!r}")


def slid_limit(*, consumed: int, limit: int, window: int) -> int | None:
    """The new receive limit once ``consumed`` bytes were taken off a window of ``window`` bytes whose
    limit is ``limit``; None while less than half the window has been freed (updates are batched).

    The peer may then have at most ``window`` bytes outstanding beyond what was consumed.
    """
    target = consumed + window
    if target - limit >= window // 2 and target > limit:
        return target
    return None


class _Idle(Protocol):
    @property
    def idle_since(self) -> float: ...


_C = TypeVar("_C", bound=_Idle)


def idlest(connections: Iterable[_C]) -> _C | None:
    """The connection idle the longest (the smallest ``idle_since``), or None when there is none."""
    return min(connections, key=lambda c: c.idle_since, default=None)


def answers_unread(pending: Iterable[int], limits: ResourceLimits) -> bool:
    """Whether control messages still unacknowledged (``pending``: their unacknowledged bytes, one
    entry per stream) exceed the bound a peer that reads its answers stays under."""
    count = total = 0
    for size in pending:
        count += 1
        total += size
    return count > limits.unread_answer_streams or total > limits.unread_answer_bytes
