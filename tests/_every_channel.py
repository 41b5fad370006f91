"""A device registry with one channel of every kind and a session open on each, for the property
tests and the fuzzer: what a controller's frames reach on the device."""

from __future__ import annotations

from device_sdk.channels import (
    ACTUATOR_PROTOCOL,
    ADMIN_PROTOCOL,
    CATALOG_PROTOCOL,
    INPUT_PROTOCOL,
    SENSOR_PROTOCOL,
    STREAM_PROTOCOL,
    ChannelRegistry,
    ChannelSession,
    PeerInfo,
    Sensor,
    run_call_sync,
)

from .test_channels_robustness import Backend as QuietAdmin


class EveryChannel:
    """The registry, its sensor ``temp``, and one admin peer's session on every channel."""

    CHANNELS = (
        ("catalog", CATALOG_PROTOCOL),
        ("temp", SENSOR_PROTOCOL),
        ("led", ACTUATOR_PROTOCOL),
        ("level", ACTUATOR_PROTOCOL),
        ("gain", ACTUATOR_PROTOCOL),
        ("cfg", ACTUATOR_PROTOCOL),
        ("audio", STREAM_PROTOCOL),
        ("pad", INPUT_PROTOCOL),
        ("admin", ADMIN_PROTOCOL),
    )

    def __init__(self) -> None:
        registry = ChannelRegistry(device_name="Lab", model="m", clock=lambda: 1.0, admin=QuietAdmin())
        self.temp: Sensor = registry.sensor("temp")
        registry.actuator("led", type="bool", initial=False, handler=lambda v: None, actions={"blink": lambda: None})
        registry.actuator("level", type="int", min=0, max=10, initial=0, handler=lambda v: None)
        registry.actuator("gain", type="float", initial=0.0, handler=lambda v: None)
        registry.actuator("cfg", type="map", initial={}, handler=lambda v: v)
        registry.stream("audio", format={"codec": "raw"})
        registry.input("pad").publish({"x": 1})
        self.temp.publish(1.0)
        self.registry = registry
        admin = PeerInfo(fp=bytes(32), role="admin")
        self.sessions: list[ChannelSession] = []
        for label, protocol in self.CHANNELS:
            session = registry.open_session(label, protocol, peer=admin, now=0.0)
            assert isinstance(session, ChannelSession)
            self.sessions.append(session)

    def receive(self, frame: object) -> None:
        """``frame`` as it is, as a ``set`` and as an admin ``rename``, to every session; run the calls."""
        for request in (frame, {"id": 1, "set": frame}, {"id": 2, "op": "rename", "name": frame}):
            for session in self.sessions:
                session.receive_frame(request, now=1.0)
        for call in self.registry.take_calls():
            run_call_sync(call, 1.0)
