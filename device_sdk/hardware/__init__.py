"""The hardware layer: board profiles, gpiozero parts as sources and sinks, the pairing button,
the status LED and the simulated board.

It knows nothing of channels, transport or pairing: ``device.py`` joins it to them. Values are
plain Python values; a :class:`HardwareRuntime` reports them as ``emit(channel, value)`` on the
event loop thread.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from device_sdk.hardware.boards import (
        available_profiles,
        builtin_profile_names,
        builtin_profiles_dir,
        load_profile,
        parse_profile_text,
    )
    from device_sdk.hardware.button import PairingButton
    from device_sdk.hardware.led import LedPattern, StatusLed, pattern_steps
    from device_sdk.hardware.parts import build_part
    from device_sdk.hardware.pins import make_mock_factory, select_pin_factory
    from device_sdk.hardware.profile import BoardProfile, ButtonConfig, LedConfig, PartConfig, parse_profile
    from device_sdk.hardware.runtime import Emit, HardwareRuntime
    from device_sdk.hardware.signals import SimulatedSensor
    from device_sdk.hardware.sim import SimulatedBoard, sim_runtime
    from device_sdk.hardware.spec import ChannelSpec, EventSource, SampledSource, Sink, Source, check_value
else:  # each name is imported when first read (device_sdk/_lazy.py)
    from .._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            ".boards": (
                "available_profiles", "builtin_profile_names", "builtin_profiles_dir", "load_profile",
                "parse_profile_text",
            ),
            ".button": ("PairingButton",),
            ".led": ("LedPattern", "StatusLed", "pattern_steps"),
            ".parts": ("build_part",),
            ".pins": ("make_mock_factory", "select_pin_factory"),
            ".profile": ("BoardProfile", "ButtonConfig", "LedConfig", "PartConfig", "parse_profile"),
            ".runtime": ("Emit", "HardwareRuntime"),
            ".signals": ("SimulatedSensor",),
            ".sim": ("SimulatedBoard", "sim_runtime"),
            ".spec": ("ChannelSpec", "EventSource", "SampledSource", "Sink", "Source", "check_value"),
        },
    )  # fmt: skip

__all__ = [
    "BoardProfile",
    "ButtonConfig",
    "ChannelSpec",
    "Emit",
    "EventSource",
    "HardwareRuntime",
    "LedConfig",
    "LedPattern",
    "PairingButton",
    "PartConfig",
    "SampledSource",
    "SimulatedBoard",
    "SimulatedSensor",
    "Sink",
    "Source",
    "StatusLed",
    "available_profiles",
    "build_part",
    "builtin_profile_names",
    "builtin_profiles_dir",
    "check_value",
    "load_profile",
    "make_mock_factory",
    "parse_profile",
    "parse_profile_text",
    "pattern_steps",
    "select_pin_factory",
    "sim_runtime",
]
