"""The controller side: :class:`Controller`, its connections to devices and their reconnect policy."""

from __future__ import annotations

from .config import ControllerConfig
from .connection import DeviceConnection
from .controller import Controller
from .reconnect import ReconnectPolicy
from .targets import DeviceTarget

__all__ = ["Controller", "ControllerConfig", "DeviceConnection", "DeviceTarget", "ReconnectPolicy"]
