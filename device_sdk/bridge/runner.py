""":class:`MqttBridge`: the core, the controller edge and the broker edge joined, run until cancelled."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from device_sdk import Catalog, Controller

from .config import BridgeConfig
from .core import (
    Action,
    BridgeCore,
    ConnectDevice,
    DisconnectDevice,
    Publish,
    RunCommand,
    Subscribe,
    WatchChannels,
)
from .devices import Describe, DeviceLinks, plain
from .mqtt import BrokerLink
from .topics import Topics, bridge_id_from

log = logging.getLogger(__name__)


class MqttBridge:
    """Mirrors every device ``controller`` has paired onto an MQTT broker, with Home Assistant discovery::

        async with Controller(ControllerConfig(state_dir=Path("/var/lib/hub"))) as controller:
            await MqttBridge(controller, BridgeConfig(broker="mqtt://localhost")).run()

    :meth:`run` returns only when cancelled; it then says goodbye (every device and the bridge offline)
    and disconnects. Devices paired, unpaired or renamed meanwhile, by this process or another, are picked
    up within ``config.peer_poll_s`` (the pin store's revision, one ``stat``, is looked at that often); a
    device whose channels change while it is connected is announced again at once. ``describe`` turns a
    library error into the sentence logged (the ``device-sdk`` command passes its own renderer; the default
    is the error's message).
    """

    def __init__(self, controller: Controller, config: BridgeConfig, *, describe: Describe = plain) -> None:
        self.config = config
        self.client_id = config.client_id or f"device-sdk-bridge-{controller.identity.fingerprint[:4].hex()}"
        self.topics = Topics(
            base=config.base_topic,
            discovery_prefix=config.discovery_prefix,
            bridge_id=bridge_id_from(self.client_id),
        )
        self.core = BridgeCore(topics=self.topics, settle_s=config.settle_s, discovery=config.discovery)
        self._devices = DeviceLinks(
            controller,
            _Feed(self),
            policy=config.reconnect,
            min_interval_ms=config.min_interval_ms,
            describe=describe,
        )
        self._broker = BrokerLink(
            config,
            client_id=self.client_id,
            will_topic=self.topics.bridge_status,
            on_connected=lambda: self.apply(self.core.broker_connected(self.now())),
            on_disconnected=self.core.broker_disconnected,
            on_message=lambda topic, payload, retained: self.apply(
                self.core.message(topic, payload, self.now(), retained=retained)
            ),
        )
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._background: set[asyncio.Task[None]] = set()

    @property
    def published(self) -> int:
        """Messages handed to the broker so far."""
        return self._broker.published

    @property
    def dropped(self) -> int:
        """States and events dropped because the broker did not keep up."""
        return self._broker.dropped

    def now(self) -> float:
        return asyncio.get_running_loop().time()

    async def run(self) -> None:
        """Bridge until cancelled (see the class docstring)."""
        host, port, _ = self.config.address()
        log.info("bridging to %s:%d as %s", host, port, self.client_id)
        self.apply(self.core.peers_changed(self._devices.peers(), self.now()))
        broker = asyncio.create_task(self._broker.run(), name="bridge broker")
        peers = asyncio.create_task(self._watch_peers(), name="bridge peers")
        try:
            # asyncio.wait, not gather: cancelling run() must not cancel the broker task before the
            # goodbye is published (a clean disconnect suppresses the last will).
            done, _ = await asyncio.wait((broker, peers), return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            peers.cancel()
            with contextlib.suppress(Exception):
                await asyncio.shield(self._goodbye(broker))

    async def _goodbye(self, broker: asyncio.Task[None]) -> None:
        if self._timer is not None:
            self._timer.cancel()
        await self._broker.stop([a for a in self.core.shutdown() if isinstance(a, Publish)])
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            async with asyncio.timeout(5):
                await broker
        broker.cancel()
        await self._devices.close()
        await asyncio.gather(*self._background, return_exceptions=True)

    async def _watch_peers(self) -> None:
        """Pick up devices paired, unpaired or renamed, here or by another process (``device-sdk pair``)."""
        seen = self._devices.peers_revision()
        while True:
            await asyncio.sleep(self.config.peer_poll_s)
            revision = self._devices.peers_revision()
            if revision != seen:
                seen = revision
                self.apply(self.core.peers_changed(self._devices.peers(), self.now()))

    def apply(self, actions: list[Action]) -> None:
        """Carry out what the core decided, in order, then arm its next timer."""
        for action in actions:
            if isinstance(action, Publish | Subscribe):
                self._broker.send(action)
            elif isinstance(action, ConnectDevice):
                self._devices.start(action.fingerprint)
            elif isinstance(action, DisconnectDevice):
                self._spawn(self._devices.stop(action.fingerprint))
            elif isinstance(action, WatchChannels):
                self._devices.watch(action)
            elif isinstance(action, RunCommand):
                self._devices.run(action)
        self._arm_timer()

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _arm_timer(self) -> None:
        deadline = self.core.next_deadline()
        if deadline == self._timer_at:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = asyncio.get_running_loop().call_at(deadline, self._fire)

    def _fire(self) -> None:
        self._timer = self._timer_at = None
        self.apply(self.core.handle_timers(self.now()))


class _Feed:
    """The controller edge's reports, fed to the core with the time; the actions go back to the bridge."""

    def __init__(self, bridge: MqttBridge) -> None:
        self._core = bridge.core
        self._apply: Callable[[list[Action]], None] = bridge.apply
        self._now = bridge.now

    def online(self, fingerprint: bytes, catalog: Catalog) -> None:
        self._apply(self._core.device_online(fingerprint, catalog, self._now()))

    def catalog_changed(self, fingerprint: bytes, catalog: Catalog) -> None:
        self._apply(self._core.catalog_changed(fingerprint, catalog, self._now()))

    def offline(self, fingerprint: bytes, reason: str) -> None:
        self._apply(self._core.device_offline(fingerprint, reason, self._now()))

    def reading(self, fingerprint: bytes, channel: str, value: Any) -> None:
        self._apply(self._core.reading(fingerprint, channel, value, self._now()))

    def actuator_state(self, fingerprint: bytes, channel: str, value: Any) -> None:
        self._apply(self._core.actuator_state(fingerprint, channel, value, self._now()))

    def input_reading(self, fingerprint: bytes, channel: str, value: Any) -> None:
        self._apply(self._core.input_reading(fingerprint, channel, value, self._now()))

    def command_done(self, fingerprint: bytes, channel: str, error: str | None) -> None:
        self._apply(self._core.command_done(fingerprint, channel, error, self._now()))
