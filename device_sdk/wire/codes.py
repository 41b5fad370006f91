"""QUIC application error codes used to close connections (profile sections 2, 3 and 5)."""

from __future__ import annotations

from enum import IntEnum


class CloseCode(IntEnum):
    """Application close codes of the wire profile."""

    BAD_REQUEST = 400
    """Not one well-formed CBOR item, a stream that ends inside a message, or a schema mismatch."""
    UNAUTHORIZED = 401
    """A message other than agent-info, agent-status or auth before authentication; failed pairing."""
    FORBIDDEN = 403
    """A pairing handshake while the pairing window is closed."""
    NOT_FOUND = 404
    """A type key this profile does not list."""
    TOO_LARGE = 413
    """More than the size limit buffered for one message."""
    TOO_MANY_ATTEMPTS = 429
    """Handshakes refused after repeated failures: reason phrase ``retry after <seconds>``."""
    NORMAL = 5139
    """Normal close."""
