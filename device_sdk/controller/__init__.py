"""The controller side: :class:`Controller`, its connections to devices and their reconnect policy, and the
devices it has paired (:class:`PinnedDevice`, as :meth:`Controller.peers` lists them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..pairing.trust import PinnedDevice
    from .config import ControllerConfig
    from .connection import DeviceConnection
    from .controller import Controller
    from .reconnect import ReconnectPolicy
    from .targets import DeviceTarget
else:  # each name is imported when first read (device_sdk/_lazy.py)
    from .._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            "..pairing.trust": ("PinnedDevice",),
            ".config": ("ControllerConfig",),
            ".connection": ("DeviceConnection",),
            ".controller": ("Controller",),
            ".reconnect": ("ReconnectPolicy",),
            ".targets": ("DeviceTarget",),
        },
    )  # fmt: skip

__all__ = ["Controller", "ControllerConfig", "DeviceConnection", "DeviceTarget", "PinnedDevice", "ReconnectPolicy"]
