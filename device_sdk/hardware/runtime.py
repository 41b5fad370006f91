"""The hardware runtime: builds a board's parts and runs them on the event loop.

It polls sampled sources at their ``rate_hz``, debounces event sources, and reports every value
as ``emit(channel_name, value)`` on the loop thread. It owns the pairing button and the status
LED of the board. It knows nothing of channels or the wire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, cast

from device_sdk.errors import HardwareError, StateError
from device_sdk.hardware.button import PairingButton
from device_sdk.hardware.debounce import Debouncer, LevelChanged, PressEvent
from device_sdk.hardware.edge import DebouncedInput, LoopBridge
from device_sdk.hardware.led import StatusLed
from device_sdk.hardware.parts import Part, build_part
from device_sdk.hardware.pins import make_mock_factory, select_pin_factory
from device_sdk.hardware.profile import BoardProfile
from device_sdk.hardware.spec import ChannelSpec, EventSource, SampledSource, Sink

__all__ = ["Emit", "HardwareRuntime"]

_log = logging.getLogger(__name__)

Emit = Callable[[str, object], None]
"""``emit(channel_name, value)``: called on the loop thread for every new value."""


class HardwareRuntime:
    """The parts of ``profile`` on a pin factory, run on the event loop.

    ``pin_factory``: a gpiozero factory to use (it is not closed by :meth:`stop`); None to pick
    one: MockFactory for a simulated board, else :func:`~device_sdk.hardware.pins.select_pin_factory`
    with ``pin_factory_name`` (an explicit choice), the environment and the profile's preference.
    Parts are built at once (pin errors surface here); the pairing button and status LED are
    built by :meth:`start`.
    """

    def __init__(
        self,
        profile: BoardProfile,
        *,
        pin_factory: Any = None,
        pin_factory_name: str | None = None,
    ) -> None:
        self.profile = profile
        self._own_factory = pin_factory is None
        if pin_factory is None:
            if profile.simulated:
                pin_factory = make_mock_factory()
            else:
                pin_factory = select_pin_factory(pin_factory_name, default=profile.pin_factory)
        self.pin_factory: Any = pin_factory
        self._parts: dict[str, Part] = {}
        try:
            for part in profile.parts:
                self._parts[part.channel] = build_part(part, pin_factory)
        except BaseException:
            self._close_parts()
            raise
        sources: dict[str, SampledSource | EventSource] = {}
        sinks: dict[str, Sink] = {}
        for name, p in self._parts.items():
            if p.spec.kind == "actuator":
                sinks[name] = cast(Sink, p)
            else:
                sources[name] = cast(SampledSource | EventSource, p)
        self.sources: Mapping[str, SampledSource | EventSource] = MappingProxyType(sources)
        """Sampled and event sources by channel name."""
        self.sinks: Mapping[str, Sink] = MappingProxyType(sinks)
        """Sinks (actuators) by channel name."""
        self.button: PairingButton | None = None
        self.status_led: StatusLed | None = None
        self._emit: Emit | None = None
        self._bridge: LoopBridge | None = None
        self._inputs: list[DebouncedInput] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False

    @property
    def channels(self) -> tuple[ChannelSpec, ...]:
        """The specs of every part's channel, in profile order."""
        return tuple(p.spec for p in self._parts.values())

    def part(self, name: str) -> Part:
        """The source or sink of channel ``name`` (KeyError if none)."""
        return self._parts[name]

    def set(self, name: str, value: object) -> object:
        """Drive sink ``name`` to ``value``; returns the new state (ActuatorError if refused)."""
        try:
            sink = self.sinks[name]
        except KeyError:
            raise HardwareError(f"no actuator named {name!r}") from None
        return sink.set(value)

    async def start(
        self,
        emit: Emit,
        *,
        on_short_press: Callable[[], None] | None = None,
        on_long_press: Callable[[], None] | None = None,
    ) -> None:
        """Start reporting values to ``emit`` and the pairing button.

        Every source reports its current value first (event sources before this returns,
        sampled sources on their task's first run), then changes or samples.

        The button callbacks and ``emit`` run on the loop thread. Exceptions they raise are logged.
        """
        if self._started:
            raise StateError("hardware runtime already started")
        self._started = True
        loop = asyncio.get_running_loop()
        self._emit = emit
        self._bridge = LoopBridge(loop)
        cfg = self.profile
        try:
            if cfg.status_led is not None:
                self.status_led = StatusLed.from_config(cfg.status_led, pin_factory=self.pin_factory)
            if cfg.pairing_button is not None:
                self.button = PairingButton.from_config(
                    cfg.pairing_button,
                    on_short_press=on_short_press or _ignore,
                    on_long_press=on_long_press or _ignore,
                    pin_factory=self.pin_factory,
                    loop=loop,
                )
        except BaseException:
            await self.stop()
            raise
        for name, source in self.sources.items():
            if isinstance(source, EventSource):
                self._start_event_source(name, source, loop)
            else:
                self._tasks.append(loop.create_task(self._sample(name, source), name=f"sample-{name}"))

    def _start_event_source(self, name: str, source: EventSource, loop: asyncio.AbstractEventLoop) -> None:
        initial = bool(source.read())

        def on_event(event: PressEvent) -> None:
            if isinstance(event, LevelChanged):
                self._deliver(name, event.active)

        inp = DebouncedInput(
            loop=loop,
            debouncer=Debouncer(debounce_s=source.debounce_s, initial=initial),
            on_event=on_event,
        )
        self._inputs.append(inp)
        bridge = self._bridge
        assert bridge is not None
        source.start(lambda value: bridge.call(inp.feed, bool(value)))
        self._deliver(name, initial)

    def _deliver(self, name: str, value: object) -> None:
        if self._emit is None:
            return
        try:
            self._emit(name, value)
        except Exception:
            _log.exception("hardware emit for %r failed", name)

    async def _sample(self, name: str, source: SampledSource) -> None:
        loop = asyncio.get_running_loop()
        period = 1.0 / (source.spec.rate_hz or 1.0)
        blocking = bool(getattr(source, "blocking_read", False))
        next_at = loop.time()
        failures = 0
        while True:
            try:
                value = await asyncio.to_thread(source.read) if blocking else source.read()
            except Exception as exc:
                failures += 1
                if failures == 1 or failures % 100 == 0:
                    _log.warning("reading %r failed (%d times): %s", name, failures, exc)
            else:
                failures = 0
                self._deliver(name, value)
            next_at += period
            now = loop.time()
            if next_at < now:  # fell behind (slow read): skip the missed samples
                next_at = now + period
            await asyncio.sleep(next_at - now)

    async def stop(self) -> None:
        """Stop sampling and callbacks, turn the LED off and release every pin."""
        self._emit = None
        if self._bridge is not None:
            self._bridge.close()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for inp in self._inputs:
            inp.close()
        self._inputs.clear()
        for source in self.sources.values():
            if isinstance(source, EventSource):
                with contextlib.suppress(Exception):
                    source.stop()
        if self.button is not None:
            self.button.close()
        if self.status_led is not None:
            await self.status_led.close()
        self._close_parts()
        if self._own_factory:
            with contextlib.suppress(Exception):
                self.pin_factory.close()

    def _close_parts(self) -> None:
        for name, part in self._parts.items():
            try:
                part.close()
            except Exception:
                _log.exception("closing part %r failed", name)


def _ignore() -> None:
    pass
