"""The controller side: :class:`Controller`, its connections to devices and their reconnect policy."""

from __future__ import annotations

from .config import ControllerConfig
from .connection import DeviceConnection
from .controller import Controller, DeviceTarget
from .reconnect import ReconnectPolicy

__all__ = ["Controller", "ControllerConfig", "DeviceConnection", "DeviceTarget", "ReconnectPolicy"]
