"""Who may use the dashboard: the listening address, the token, and the checks every request passes.

Pure: :meth:`AccessPolicy.check` takes what a request shows (its Host and Origin headers and the token it
presents) and returns None or the reason to refuse it. The HTTP edge applies it to every request and to
the WebSocket.

- Bound to loopback (the default) no token is needed, but the Host header must name a loopback address
  (``127.0.0.1``, ``localhost``, ``[::1]``): a web page elsewhere cannot reach the dashboard by pointing
  a name of its own at 127.0.0.1 (DNS rebinding).
- Bound to any other address, every request must present the token: in the ``token`` query parameter of
  the first visit (the URL printed once at start), then in an HttpOnly, SameSite=Strict cookie.
- A request that carries an Origin header (every WebSocket opened by a browser does) must come from the
  dashboard's own origin.
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field
from typing import Final

TOKEN_BYTES: Final = 24
"""Random bytes in a generated token (32 URL-safe characters)."""

LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.", "ip6-localhost"})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name, IPv6 possibly in brackets) is this machine only."""
    host = host.strip().lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def split_host(header: str) -> str:
    """The host part of a Host header (``[::1]:8765`` -> ``[::1]``, ``a:80`` -> ``a``)."""
    header = header.strip()
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


@dataclass(frozen=True)
class AccessPolicy:
    """The rules for one listening dashboard."""

    loopback: bool
    """Bound to a loopback address only."""
    token: str | None = field(default=None, repr=False)
    """The token every request must present (None: none needed, loopback only)."""

    @classmethod
    def for_address(cls, host: str, *, token: str | None = None) -> AccessPolicy:
        """The policy of a dashboard listening on ``host``: a token (``token`` or a new one) unless loopback."""
        loopback = is_loopback(host)
        if loopback:
            return cls(loopback=True, token=token)
        return cls(loopback=False, token=token or new_token())

    def check(self, *, host: str | None, origin: str | None, token: str | None, websocket: bool = False) -> str | None:
        """None when a request with these headers may go on, else a sentence saying why not."""
        if not host:
            return "the request has no Host header"
        if self.loopback and not is_loopback(split_host(host)):
            return "this dashboard answers only to 127.0.0.1, localhost or [::1]"
        if origin is not None or websocket:
            if origin is None:
                return "a WebSocket must come from the dashboard's page"
            if origin.strip().lower() != f"http://{host.strip().lower()}":
                return "the request comes from another web site"
        if self.token is not None and (token is None or not hmac.compare_digest(token.encode(), self.token.encode())):
            return "open the dashboard with the link it printed when it started (the token is missing or wrong)"
        return None
