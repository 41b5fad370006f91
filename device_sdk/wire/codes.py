"""Every code of the wire profile: the QUIC application error codes that close connections and reset
streams (profile sections 2, 3 and 5), auth-status results and data-channel open results."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["AuthResult", "CloseCode", "OpenResult"]


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


class AuthResult(IntEnum):
    """``auth-status-result``."""

    AUTHENTICATED = 0
    UNKNOWN_ERROR = 1
    TIMEOUT = 2
    SECRET_UNKNOWN = 3
    VALIDATION_TOOK_TOO_LONG = 4
    PROOF_INVALID = 5


class OpenResult(IntEnum):
    """``open-result`` of a data-channel-open-response."""

    SUCCESS = 1
    INVALID_URL = 10
    INVALID_PRESENTATION_ID = 11
    TIMEOUT = 100
    TRANSIENT_ERROR = 101
    PERMANENT_ERROR = 102
    TERMINATING = 103
    UNKNOWN_ERROR = 199
