"""The controller side: :class:`Controller`, its connections to devices and their reconnect policy, and the
devices it has paired (:class:`PinnedDevice`, as :meth:`Controller.peers` lists them)."""

from __future__ import annotations

from ..pairing.trust import PinnedDevice
from .config import ControllerConfig
from .connection import DeviceConnection
from .controller import Controller
from .reconnect import ReconnectPolicy
from .targets import DeviceTarget

__all__ = ["Controller", "ControllerConfig", "DeviceConnection", "DeviceTarget", "PinnedDevice", "ReconnectPolicy"]
