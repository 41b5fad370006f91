"""Pairing, free of I/O: SPAKE2, setup codes and display PINs, the auth machines of both sides, the
pairing window (pure policy) and the trust stores (the device's trusted controllers, the controller's
pinned devices)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .auth import PskProvider
    from .auth_controller import ControllerAuth
    from .auth_device import DeviceAuth
    from .setup_code import SetupPayload, encode_manual, encode_qr, parse_setup_code
    from .trust import ControllerPinStore, DeviceTrustStore, PinnedDevice, TrustedController
    from .window import PairingMode, PairingWindow, WindowUpdate
    from .window_state import OpenReason, WindowState
    from .window_store import WindowStore
else:  # each name is imported when first read (device_sdk/_lazy.py)
    from .._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            ".auth": ("PskProvider",),
            ".auth_controller": ("ControllerAuth",),
            ".auth_device": ("DeviceAuth",),
            ".setup_code": ("SetupPayload", "encode_manual", "encode_qr", "parse_setup_code"),
            ".trust": ("ControllerPinStore", "DeviceTrustStore", "PinnedDevice", "TrustedController"),
            ".window": ("PairingMode", "PairingWindow", "WindowUpdate"),
            ".window_state": ("OpenReason", "WindowState"),
            ".window_store": ("WindowStore",),
        },
    )  # fmt: skip

__all__ = [
    "ControllerAuth",
    "ControllerPinStore",
    "DeviceAuth",
    "DeviceTrustStore",
    "OpenReason",
    "PairingMode",
    "PairingWindow",
    "PinnedDevice",
    "PskProvider",
    "SetupPayload",
    "TrustedController",
    "WindowState",
    "WindowStore",
    "WindowUpdate",
    "encode_manual",
    "encode_qr",
    "parse_setup_code",
]
