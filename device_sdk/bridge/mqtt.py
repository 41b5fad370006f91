"""The bridge's broker edge: one aiomqtt client at a time, reconnecting with backoff.

It moves messages and nothing else: what to publish comes from the core (:class:`.core.Publish`,
:class:`.core.Subscribe`), what arrives goes to ``on_message``. Retained and QoS 1 messages (discovery,
availability, subscriptions) go out first and in order, each acknowledged before the next; states and
events (QoS 0) go out in batches behind them, from a bounded queue that drops the oldest when the broker
cannot keep up. The last will sets the bridge's status topic ``offline`` (retained) when the bridge dies
without saying goodbye.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
from collections import deque
from collections.abc import Callable
from typing import Final

import aiomqtt

from .config import BridgeConfig
from .core import OFFLINE, Publish, Subscribe

log = logging.getLogger(__name__)

MAX_QUEUED_STATES: Final = 10_000
"""States and events waiting for the broker; beyond, the oldest are dropped (and counted)."""
STATE_BATCH: Final = 64
"""States handed to the client at once (they share its socket writes)."""
MAX_INCOMING: Final = 10_000
"""Messages received and not yet handled; beyond, the client drops new ones (a flood of commands)."""
GOODBYE_TIMEOUT_S: Final = 3.0
FIRST_RETRY_S: Final = 1.0


class BrokerLink:
    """See the module docstring."""

    def __init__(
        self,
        config: BridgeConfig,
        *,
        client_id: str,
        will_topic: str,
        on_connected: Callable[[], None],
        on_disconnected: Callable[[], None],
        on_message: Callable[[str, bytes, bool], None],
    ) -> None:
        self._config = config
        self._client_id = client_id
        self._will_topic = will_topic
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._on_message = on_message
        self._control: deque[Publish | Subscribe] = deque()
        self._states: deque[Publish] = deque(maxlen=MAX_QUEUED_STATES)
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._client: aiomqtt.Client | None = None
        self._stopping = asyncio.Event()
        self.dropped = 0
        """States and events dropped because the broker did not keep up."""
        self.published = 0
        """Messages the client accepted (QoS 1: acknowledged by the broker)."""

    @property
    def connected(self) -> bool:
        return self._client is not None

    def send(self, item: Publish | Subscribe) -> None:
        """Queue a publish or a subscription (dropped when the broker is not connected: the core
        announces everything again on the next connection)."""
        if self._client is None:
            return
        if isinstance(item, Publish) and item.qos == 0 and not item.retain:
            if len(self._states) == self._states.maxlen:
                self.dropped += 1
            self._states.append(item)
        else:
            self._control.append(item)
        self._drained.clear()
        self._wakeup.set()

    async def run(self) -> None:
        """Stay connected to the broker until :meth:`stop`."""
        host, port, tls = self._config.address()
        delay = FIRST_RETRY_S
        failures = 0
        while not self._stopping.is_set():
            try:
                async with self._make_client(host, port, tls) as client:
                    client.pending_calls_threshold = 1_000_000  # many QoS 0 publishes in flight are normal here
                    log.info("connected to the MQTT broker at %s:%d as %s", host, port, self._client_id)
                    delay, failures = FIRST_RETRY_S, 0
                    await self._serve(client)
                    if self._stopping.is_set():
                        return
            except aiomqtt.MqttError as exc:
                failures += 1
                level = logging.WARNING if failures <= 3 or failures % 20 == 0 else logging.DEBUG
                log.log(level, "the MQTT broker at %s:%d %s; trying again in %.0f s", host, port, _why(exc), delay)
            finally:
                self._client_gone()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._stopping.wait()
            delay = min(delay * 2, self._config.broker_retry_max_s)

    async def stop(self, goodbye: list[Publish]) -> None:
        """Publish ``goodbye`` (the offline messages), wait for it to go out, and disconnect cleanly."""
        for item in goodbye:
            self.send(item)
        if self._client is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(GOODBYE_TIMEOUT_S):
                    await self._drained.wait()
        self._stopping.set()
        self._wakeup.set()

    # -- internals ------------------------------------------------------------------------------------

    def _make_client(self, host: str, port: int, tls: bool) -> aiomqtt.Client:
        context: ssl.SSLContext | None = None
        if tls:
            ca = str(self._config.ca_file) if self._config.ca_file is not None else None
            context = ssl.create_default_context(cafile=ca)
        return aiomqtt.Client(
            host,
            port,
            username=self._config.username,
            password=self._config.password,
            identifier=self._client_id,
            will=aiomqtt.Will(self._will_topic, OFFLINE, qos=1, retain=True),
            keepalive=self._config.keepalive_s,
            tls_context=context,
            max_queued_incoming_messages=MAX_INCOMING,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            logger=logging.getLogger(f"{__name__}.client"),
        )

    async def _serve(self, client: aiomqtt.Client) -> None:
        self._client = client
        self._control.clear()
        self._states.clear()
        self._on_connected()  # the core answers with Subscribe and the announcements -> send()
        reader = asyncio.create_task(self._read(client), name="bridge mqtt reader")
        writer = asyncio.create_task(self._write(client), name="bridge mqtt writer")
        try:
            done, _ = await asyncio.wait((reader, writer), return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises the MqttError that ended it
        finally:
            for task in (reader, writer):
                task.cancel()
            await asyncio.gather(reader, writer, return_exceptions=True)

    def _client_gone(self) -> None:
        if self._client is not None:
            self._client = None
            self._control.clear()
            self._states.clear()
            self._drained.set()
            self._on_disconnected()

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            payload = message.payload
            if isinstance(payload, bytes | bytearray):
                data = bytes(payload)
            elif payload is None:
                data = b""
            else:
                data = str(payload).encode()
            self._on_message(message.topic.value, data, bool(message.retain))

    async def _write(self, client: aiomqtt.Client) -> None:
        while True:
            if not self._control and not self._states:
                self._drained.set()
                if self._stopping.is_set():
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if self._control:
                item = self._control.popleft()
                if isinstance(item, Subscribe):
                    await client.subscribe([(topic, 1) for topic in item.topics])
                else:
                    await client.publish(item.topic, item.payload, qos=item.qos, retain=item.retain)
                    self.published += 1
                continue
            if len(self._states) == 1:  # the usual case: no task per message
                item = self._states.popleft()
                await client.publish(item.topic, item.payload, qos=item.qos, retain=item.retain)
                self.published += 1
                continue
            batch = [self._states.popleft() for _ in range(min(STATE_BATCH, len(self._states)))]
            await asyncio.gather(*(client.publish(p.topic, p.payload, qos=p.qos, retain=p.retain) for p in batch))
            self.published += len(batch)


_AUTH_REFUSED: Final = frozenset({4, 5, 134, 135})
"""CONNACK codes for a bad user name or password, or a client that may not connect (3.1.1 and 5)."""


def _why(exc: aiomqtt.MqttError) -> str:
    """What went wrong with the broker, as the end of a sentence (no protocol codes, no errno)."""
    rc = getattr(exc, "rc", None)
    code = getattr(rc, "value", rc)
    if isinstance(code, int) and code in _AUTH_REFUSED:
        return "refused this bridge's user name or password (check --username and --password-file)"
    if "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return "presented a TLS certificate this bridge does not trust (give its CA with --ca-file)"
    text = re.sub(r"^\[(?:Errno \d+|code:\d+)\]\s*", "", str(exc)).strip() or "gave no reason"
    return f"is not reachable ({text[:1].lower() + text[1:]})"
