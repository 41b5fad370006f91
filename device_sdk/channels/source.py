"""What every declared channel shares: its catalog descriptor and the sessions open on it."""

from __future__ import annotations

from typing import Generic, TypeVar

from .descriptor import ChannelDescriptor
from .session import ChannelSession, Hub

S = TypeVar("S", bound=ChannelSession)


class ChannelSource(Generic[S]):
    """Base of :class:`Sensor`, :class:`Input`, :class:`Actuator` and :class:`ByteStream`."""

    def __init__(self, *, hub: Hub, descriptor: ChannelDescriptor) -> None:
        self._hub = hub
        self._descriptor = descriptor
        self._sessions: list[S] = []
        self._removed = False

    @property
    def name(self) -> str:
        """The channel name (its label)."""
        return self._descriptor.name

    @property
    def descriptor(self) -> ChannelDescriptor:
        """The catalog descriptor."""
        return self._descriptor

    @property
    def session_count(self) -> int:
        """How many channels are open on it."""
        return len(self._sessions)

    def _attach(self, session: S) -> S:
        self._sessions.append(session)
        return session

    def _detach(self, session: ChannelSession) -> None:
        if session in self._sessions:
            self._sessions.remove(session)

    def _remove(self) -> None:
        self._removed = True
        for session in tuple(self._sessions):
            session._terminate("channel removed")
