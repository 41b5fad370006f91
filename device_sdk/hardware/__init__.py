"""The hardware layer: board profiles, gpiozero parts as sources and sinks, the pairing button,
the status LED and the simulated board.

It knows nothing of channels, transport or pairing: ``device.py`` joins it to them. Values are
plain Python values; a :class:`HardwareRuntime` reports them as ``emit(channel, value)`` on the
event loop thread.
"""

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
