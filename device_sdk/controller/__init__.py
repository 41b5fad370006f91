"""The controller side: :class:`Controller`, its connections to devices and their reconnect policy."""

from __future__ import annotations

from .connection import DeviceConnection
from .controller import Controller, DeviceTarget
from .reconnect import ReconnectPolicy

__all__ = ["Controller", "DeviceConnection", "DeviceTarget", "ReconnectPolicy"]
