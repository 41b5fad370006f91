"""Sensor channels, device side (profile section 6.2): :class:`Sensor` and :class:`SensorSession`.

The application publishes readings on a :class:`Sensor`; each open channel (one per controller and
open) has a :class:`SensorSession` with its own bounded queue and subscription. A controller that does
not pull loses its oldest readings (the sequence numbers show the gap); the sensor, the application and
the other controllers are never slowed by it.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any, ClassVar

from device_sdk.errors import ChannelError

from .descriptor import ChannelDescriptor, FrameError
from .frames import Reading, Subscription, parse_subscription
from .session import ChannelSession, Hub, PeerInfo, reading_frame_size
from .source import ChannelSource
from .values import ValueSpec, check_value

_log = logging.getLogger(__name__)

INTERVAL_SLACK_MS = 0.001
"""Readings this close to ``min_interval_ms`` apart pass: Unix timestamps as floats resolve only about
0.24 us today, so readings stamped exactly 100 ms apart may differ by 99.9999 ms."""


class ReadingSource(ChannelSource[Any]):
    """What sensors and inputs share: the declared channel, the sequence counter, the open sessions."""

    def __init__(self, *, hub: Hub, descriptor: ChannelDescriptor, spec: ValueSpec) -> None:
        super().__init__(hub=hub, descriptor=descriptor)
        self._spec = spec
        self._seq = 0
        self._reading: Reading | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} seq={self._seq}>"

    @property
    def value(self) -> Any:
        """The latest value published, or None before the first."""
        return None if self._reading is None else self._reading.value

    @property
    def reading(self) -> Reading | None:
        """The latest reading published (sequence number, time, value), or None before the first."""
        return self._reading

    @property
    def seq(self) -> int:
        """The sequence number of the latest reading (0 before the first; the first is 1)."""
        return self._seq

    def publish(self, value: Any, t: float | None = None) -> Reading:
        """Produce a reading: ``value`` at Unix time ``t`` (default: the registry's clock).

        Raises :class:`~device_sdk.channels.values.ValueRejected` (a ValueError) for a value of the wrong
        type and :class:`~device_sdk.errors.ChannelError` after the channel was removed. The declared
        min/max are not enforced: a sensor reports what it measures.
        """
        if self._removed:
            raise ChannelError(f"channel {self.name!r} was removed")
        checked = check_value(self._spec, value, check_range=False)
        when = self._hub.clock() if t is None else float(t)
        self._seq += 1
        reading = Reading(self._seq, when, checked)
        self._reading = reading
        frame = reading.to_frame()
        for session in tuple(self._sessions):
            try:
                session._offer(reading, frame)
            except Exception:
                # What one controller set up (its subscription) must never keep the reading from the
                # others: that session is closed, the loop goes on.
                _log.exception("%r: closing the channel after an error delivering a reading", session)
                session._terminate("internal error")
        return reading


class Sensor(ReadingSource):
    """A sensor declared with ``registry.sensor(...)``: call :meth:`publish` with each reading."""

    def __init__(self, *, hub: Hub, descriptor: ChannelDescriptor, spec: ValueSpec, queue_limit: int) -> None:
        super().__init__(hub=hub, descriptor=descriptor, spec=spec)
        self._queue_limit = queue_limit

    def _open_session(self, *, label: str, protocol: str, peer: PeerInfo) -> SensorSession:
        session = SensorSession(
            hub=self._hub,
            source=self,
            label=label,
            protocol=protocol,
            peer=peer,
            queue_limit=self._queue_limit,
        )
        self._attach(session)
        if self._reading is not None:
            session._offer(self._reading, self._reading.to_frame(), initial=True)
        return session


def _changed_enough(previous: Any, current: Any, change: float) -> bool:
    numeric = (int, float)
    if (
        isinstance(previous, numeric)
        and isinstance(current, numeric)
        and not isinstance(previous, bool)
        and not isinstance(current, bool)
    ):
        return abs(current - previous) >= change
    return bool(current != previous)


class SensorSession(ChannelSession):
    """One controller's subscription to a sensor.

    On open the current value is queued at once. Then every reading passes the subscription filter:
    with ``min_interval_ms`` at most one reading per interval (measured by the readings' timestamps; a
    reading older than the last one sent resets the interval), with ``change`` only readings that differ
    from the last one sent by at least that much (numbers) or at all (other types). Readings that pass
    wait in a queue of ``queue_limit`` readings; when it is full the oldest is dropped (``dropped``
    counts them), so a slow controller gets the newest values with gaps in ``"s"``.
    """

    kind: ClassVar[str] = "sensor"

    def __init__(
        self, *, hub: Hub, source: Sensor, label: str, protocol: str, peer: PeerInfo, queue_limit: int
    ) -> None:
        super().__init__(hub=hub, source=source, label=label, protocol=protocol, peer=peer)
        self._queue = deque(maxlen=queue_limit)
        self._subscription = Subscription()
        self._last_sent: Reading | None = None
        self.dropped = 0
        """Readings that passed the filter but were dropped because the queue was full."""

    @property
    def subscription(self) -> Subscription:
        """The controller's current subscription (no limits until it sends one)."""
        return self._subscription

    def receive_frame(self, frame: object, now: float) -> None:
        """A subscription frame replaces the subscription; anything malformed is ignored."""
        try:
            self._subscription = parse_subscription(frame)
        except FrameError as exc:
            _log.debug("%r: ignoring a bad subscription frame: %s", self, exc)

    def _offer(self, reading: Reading, frame: dict[str, Any], *, initial: bool = False) -> None:
        if self._closed or (not initial and not self._passes(reading)):
            return
        self._last_sent = reading
        if self._queue.maxlen is not None and len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._push(frame)

    def _frame_size(self, frame: Any) -> int:
        return reading_frame_size(frame)

    def _passes(self, reading: Reading) -> bool:
        last, sub = self._last_sent, self._subscription
        if last is None:
            return True
        if (
            sub.min_interval_ms
            and reading.t >= last.t
            and (reading.t - last.t) * 1000 < sub.min_interval_ms - INTERVAL_SLACK_MS
        ):
            return False
        return not (sub.change and not _changed_enough(last.value, reading.value, sub.change))
