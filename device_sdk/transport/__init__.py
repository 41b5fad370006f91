"""The QUIC transport (profile section 2): aioquic server and client around the OSP framing layer."""

from __future__ import annotations

from .dial import Server, connect, serve
from .endpoint import (
    ALPN,
    IDLE_TIMEOUT_S,
    AgentConnection,
    ConnectionHandler,
    Credentials,
    TransportConfig,
    quic_configuration,
)
from .limits import ResourceLimits
from .osp import OspConnection

__all__ = [
    "ALPN",
    "IDLE_TIMEOUT_S",
    "AgentConnection",
    "ConnectionHandler",
    "Credentials",
    "OspConnection",
    "ResourceLimits",
    "Server",
    "TransportConfig",
    "connect",
    "quic_configuration",
    "serve",
]
