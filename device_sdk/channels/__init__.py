"""Channel protocols of profile section 6, sans-I/O: device-side declarations and sessions, and
controller-side helpers.

Device side: declare channels on a :class:`ChannelRegistry`; the transport opens a
:class:`ChannelSession` per data channel, feeds it frames, pulls frames from it, and runs the
:class:`ActuatorCall` objects the registry hands out with :func:`run_call`.
Controller side: :func:`parse_catalog`, :class:`ReadingFilter` / :class:`InputFilter`,
:class:`ActuatorClient`, :class:`AdminClient`, :class:`StreamReceiver`.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .actuator import Actuator, ActuatorSession
    from .admin import AdminBackend, AdminSession
    from .calls import ActuatorBusy, ActuatorCall
    from .catalog import CatalogSession
    from .client import (
        ActuatorClient,
        AdminClient,
        InputFilter,
        PeerRecord,
        PendingRequest,
        ReadingFilter,
        StreamReceiver,
        parse_peers,
        subscription_frame,
    )
    from .descriptor import (
        ACTUATOR_PROTOCOL,
        ADMIN_LABEL,
        ADMIN_PROTOCOL,
        CATALOG_LABEL,
        CATALOG_PROTOCOL,
        INPUT_PROTOCOL,
        SENSOR_PROTOCOL,
        STREAM_PROTOCOL,
        Catalog,
        ChannelDescriptor,
        ChannelKind,
        DeviceInfo,
        FrameError,
        parse_catalog,
    )
    from .frames import (
        ActuatorAnswer,
        ActuatorState,
        Reading,
        StreamChunk,
        StreamFormat,
        Subscription,
        parse_answer,
        parse_chunk,
        parse_format,
        parse_reading,
        parse_state,
        parse_subscription,
    )
    from .input import (
        Input,
        InputSession,
        decode_input_datagram,
        dumps_frame,
        encode_input_datagram,
        loads_frame,
        parse_input_datagram,
    )
    from .registry import Channel, ChannelRegistry
    from .runner import run_call, run_call_sync
    from .sensor import Sensor, SensorSession
    from .session import (
        CallsReady,
        CatalogChanged,
        ChannelSession,
        OpenRefused,
        PeerInfo,
        RegistryEvent,
        Role,
        SessionReady,
    )
    from .stream import ByteStream, StreamSession
    from .values import ValueRejected, ValueSpec, ValueType, check_value
else:  # each name is imported when first read (device_sdk/_lazy.py)
    from .._lazy import lazy_exports

    __getattr__, __dir__ = lazy_exports(
        __name__,
        {
            ".actuator": ("Actuator", "ActuatorSession"),
            ".admin": ("AdminBackend", "AdminSession"),
            ".calls": ("ActuatorBusy", "ActuatorCall"),
            ".catalog": ("CatalogSession",),
            ".client": (
                "ActuatorClient", "AdminClient", "InputFilter", "PeerRecord", "PendingRequest", "ReadingFilter",
                "StreamReceiver", "parse_peers", "subscription_frame",
            ),
            ".descriptor": (
                "ACTUATOR_PROTOCOL", "ADMIN_LABEL", "ADMIN_PROTOCOL", "CATALOG_LABEL", "CATALOG_PROTOCOL",
                "INPUT_PROTOCOL", "SENSOR_PROTOCOL", "STREAM_PROTOCOL", "Catalog", "ChannelDescriptor", "ChannelKind",
                "DeviceInfo", "FrameError", "parse_catalog",
            ),
            ".frames": (
                "ActuatorAnswer", "ActuatorState", "Reading", "StreamChunk", "StreamFormat", "Subscription",
                "parse_answer", "parse_chunk", "parse_format", "parse_reading", "parse_state", "parse_subscription",
            ),
            ".input": (
                "Input", "InputSession", "decode_input_datagram", "dumps_frame", "encode_input_datagram", "loads_frame",
                "parse_input_datagram",
            ),
            ".registry": ("Channel", "ChannelRegistry"),
            ".runner": ("run_call", "run_call_sync"),
            ".sensor": ("Sensor", "SensorSession"),
            ".session": (
                "CallsReady", "CatalogChanged", "ChannelSession", "OpenRefused", "PeerInfo", "RegistryEvent", "Role",
                "SessionReady",
            ),
            ".stream": ("ByteStream", "StreamSession"),
            ".values": ("ValueRejected", "ValueSpec", "ValueType", "check_value"),
        },
    )  # fmt: skip

__all__ = [
    "ACTUATOR_PROTOCOL",
    "ADMIN_LABEL",
    "ADMIN_PROTOCOL",
    "CATALOG_LABEL",
    "CATALOG_PROTOCOL",
    "INPUT_PROTOCOL",
    "SENSOR_PROTOCOL",
    "STREAM_PROTOCOL",
    "Actuator",
    "ActuatorAnswer",
    "ActuatorBusy",
    "ActuatorCall",
    "ActuatorClient",
    "ActuatorSession",
    "ActuatorState",
    "AdminBackend",
    "AdminClient",
    "AdminSession",
    "ByteStream",
    "CallsReady",
    "Catalog",
    "CatalogChanged",
    "CatalogSession",
    "Channel",
    "ChannelDescriptor",
    "ChannelKind",
    "ChannelRegistry",
    "ChannelSession",
    "DeviceInfo",
    "FrameError",
    "Input",
    "InputFilter",
    "InputSession",
    "OpenRefused",
    "PeerInfo",
    "PeerRecord",
    "PendingRequest",
    "Reading",
    "ReadingFilter",
    "RegistryEvent",
    "Role",
    "Sensor",
    "SensorSession",
    "SessionReady",
    "StreamChunk",
    "StreamFormat",
    "StreamReceiver",
    "StreamSession",
    "Subscription",
    "ValueRejected",
    "ValueSpec",
    "ValueType",
    "check_value",
    "decode_input_datagram",
    "dumps_frame",
    "encode_input_datagram",
    "loads_frame",
    "parse_answer",
    "parse_catalog",
    "parse_chunk",
    "parse_format",
    "parse_input_datagram",
    "parse_peers",
    "parse_reading",
    "parse_state",
    "parse_subscription",
    "run_call",
    "run_call_sync",
    "subscription_frame",
]
