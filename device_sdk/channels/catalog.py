"""The catalog channel, device side (profile section 6.1).

On open the device sends the catalog frame; whenever the catalog changes (a channel added or removed,
the device renamed) it sends a new one. Only the newest catalog waits for a controller that does not
pull. Frames from the controller are ignored.
"""

from __future__ import annotations

from typing import Any, ClassVar

from .session import ChannelSession, Hub, PeerInfo


class CatalogSession(ChannelSession):
    """One controller's catalog channel."""

    kind: ClassVar[str] = "catalog"

    def _catalog_changed(self, frame: dict[str, Any]) -> None:
        if self._closed:
            return
        self._queue.clear()
        self._push(frame)


class CatalogPublisher:
    """Keeps the open catalog channels and sends them each new catalog (internal to the registry)."""

    def __init__(self, *, hub: Hub) -> None:
        self._hub = hub
        self._sessions: list[CatalogSession] = []

    def open_session(self, *, label: str, protocol: str, peer: PeerInfo, frame: dict[str, Any]) -> CatalogSession:
        """A new catalog channel, with ``frame`` (the current catalog) queued."""
        session = CatalogSession(hub=self._hub, source=self, label=label, protocol=protocol, peer=peer)
        self._sessions.append(session)
        session._catalog_changed(frame)
        return session

    def publish(self, frame: dict[str, Any]) -> None:
        """Send ``frame`` (a new catalog) on every open catalog channel."""
        for session in tuple(self._sessions):
            session._catalog_changed(frame)

    @property
    def sessions(self) -> tuple[CatalogSession, ...]:
        """The open catalog channels."""
        return tuple(self._sessions)

    def _detach(self, session: ChannelSession) -> None:
        if session in self._sessions:
            self._sessions.remove(session)
