"""device_sdk: local network devices over Open Screen Protocol, SPAKE2 pairing and QUIC channels."""

from __future__ import annotations

__version__ = "0.1.0"
