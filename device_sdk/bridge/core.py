"""The bridge's logic as a sans-I/O state machine: device and broker events in, actions out.

:class:`BridgeCore` does no I/O and starts no task. Its edges (:mod:`.devices` for the controller side,
:mod:`.mqtt` for the broker) call one method per thing that happened, each with the current time, and carry
out the actions it returns, in order:

- :class:`Publish` a message, :class:`Subscribe` to topics (on the broker);
- :class:`ConnectDevice` / :class:`DisconnectDevice`: keep (or stop keeping) a connection to a paired device;
- :class:`WatchChannels`: on a device's connection, follow these sensors, actuators' states and inputs (and
  only these: a channel no longer listed is no longer followed);
- :class:`RunCommand`: set an actuator or run an action, then report with :meth:`BridgeCore.command_done`.

Timers: :meth:`BridgeCore.next_deadline` says when :meth:`BridgeCore.handle_timers` wants to be called.

The rules it keeps (docs/home-assistant.md has them for users):

- Discovery configs and availability are retained; states and events are not. After a device's config is
  announced, and after Home Assistant says ``online`` on its status topic, the configs are announced again
  and, ``settle_s`` later (once Home Assistant has subscribed), the last states are published again.
- The state published for an actuator is the one the device confirmed, never the one a command asked for.
- Commands for one actuator run one at a time; while one runs, a newer ``set`` replaces a waiting one.
- A device whose catalog changes while it is connected (channels added or removed at run time, a rename) is
  announced again with its new entities; an entity that went is removed (device discovery: the component
  once with only its platform, as Home Assistant asks; component discovery: its config deleted).
- A device that is no longer paired loses its entities (empty retained config). Devices unpaired while the
  bridge was not running are found in the bridge's retained device list when it connects again; configs
  are announced only after that list was read (or did not come), so that stale ones (and those of the
  other discovery mode, after a switch) are deleted before new ones appear.
- Bad commands (unknown device or channel, wrong type, oversized, not UTF-8) are logged and dropped.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from device_sdk.channels import Catalog

from .discovery import (
    ChannelPlan,
    DeviceIdentity,
    DeviceMapping,
    component_payloads,
    discovery_payload,
    map_catalog,
)
from .payloads import CommandRejected, decode_action, decode_set, encode_event, encode_state
from .topics import DEVICE_ID_RE, Topics, device_id

log = logging.getLogger(__name__)

ONLINE: Final = b"online"
OFFLINE: Final = b"offline"
MAX_QUEUED_COMMANDS: Final = 8
"""Commands waiting per actuator behind the one that runs; more are dropped (and logged)."""
MAX_MANIFEST_BYTES: Final = 1 << 20
WARNINGS_PER_WINDOW: Final = 20
WARNING_WINDOW_S: Final = 60.0


# -- actions ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Publish:
    """Publish ``payload`` on ``topic``."""

    topic: str
    payload: bytes
    retain: bool = False
    qos: int = 0


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Subscribe to ``topics`` (QoS 1)."""

    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConnectDevice:
    """Keep a connection to this paired device, reconnecting whenever it is lost."""

    fingerprint: bytes


@dataclass(frozen=True, slots=True)
class DisconnectDevice:
    """Stop keeping a connection to this device (it is no longer paired)."""

    fingerprint: bytes


@dataclass(frozen=True, slots=True)
class WatchChannels:
    """On the device's current connection, follow these channels and report what they carry; stop following
    any other (the newest WatchChannels of a device names all its channels to follow)."""

    fingerprint: bytes
    sensors: tuple[str, ...]
    actuators: tuple[str, ...]
    inputs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunCommand:
    """Set actuator ``channel`` to ``value`` (``action`` None) or run ``action`` on it."""

    fingerprint: bytes
    channel: str
    action: str | None = None
    value: Any = None

    def describe(self) -> str:
        if self.action is not None:
            return f"{self.action!r} on {self.channel!r}"
        return f"setting {self.channel!r} to {json.dumps(self.value)}"


Action = Publish | Subscribe | ConnectDevice | DisconnectDevice | WatchChannels | RunCommand

DiscoveryMode = Literal["device", "component"]


@dataclass(frozen=True, slots=True)
class Peer:
    """A paired device as the controller's pin store lists it."""

    fingerprint: bytes
    name: str


# -- state ------------------------------------------------------------------------------------------


@dataclass(eq=False)
class _Device:
    fingerprint: bytes
    dev: str
    name: str
    peer_name: str
    mapping: DeviceMapping | None = None
    identity: DeviceIdentity | None = None
    online: bool = False
    by_name: dict[str, ChannelPlan] = field(default_factory=dict)
    by_token: dict[str, ChannelPlan] = field(default_factory=dict)
    state_topics: dict[str, str] = field(default_factory=dict)
    """Channel name -> its state topic."""
    states: dict[str, bytes] = field(default_factory=dict)
    """State topic -> the last payload published there (published again after an announce)."""
    events: dict[str, tuple[float, Any]] = field(default_factory=dict)
    """Input channel name -> when its last event went out, and the value it carried."""
    pending_events: dict[str, bytes] = field(default_factory=dict)
    commands: dict[str, deque[RunCommand]] = field(default_factory=dict)
    """Actuator name -> its commands; the first one runs."""
    component_topics: set[str] = field(default_factory=set)
    """Entity discovery topics published for it (``discovery="component"``), to delete them later."""
    removed_components: dict[str, str] = field(default_factory=dict)
    """Component id -> platform of entities its catalog no longer has, to remove with the next device
    discovery config (``discovery="device"``)."""

    def use(self, mapping: DeviceMapping, topics: Topics) -> None:
        self.mapping = mapping
        self.by_name = {p.name: p for p in mapping.channels}
        self.by_token = {p.token: p for p in mapping.channels}
        self.state_topics = {p.name: topics.state(self.dev, p.token) for p in mapping.channels}
        self.states.clear()
        self.events.clear()
        self.pending_events.clear()


class _Warnings:
    """Warnings about what others publish, at most WARNINGS_PER_WINDOW a minute: a client that floods the
    command topics with garbage must not flood the log too."""

    def __init__(self) -> None:
        self._window_start = float("-inf")
        self._count = 0
        self._suppressed = 0

    def warn(self, now: float, message: str, *args: object) -> None:
        if now - self._window_start >= WARNING_WINDOW_S:
            if self._suppressed:
                log.warning("%d more warnings about bad commands were not logged", self._suppressed)
            self._window_start, self._count, self._suppressed = now, 0, 0
        if self._count < WARNINGS_PER_WINDOW:
            self._count += 1
            log.warning(message, *args)
        else:
            self._suppressed += 1


class BridgeCore:
    """See the module docstring."""

    def __init__(
        self,
        *,
        topics: Topics,
        settle_s: float = 1.0,
        event_interval_s: float = 0.2,
        manifest_wait_s: float = 2.0,
        discovery: DiscoveryMode = "device",
    ) -> None:
        """``settle_s``: how long after an announce the last states are published again; ``event_interval_s``:
        the shortest interval between two events of an input that is neither bool nor enum (the newest
        value wins); ``manifest_wait_s``: how long to wait for the bridge's retained device list before
        publishing a new one (configs are announced after it: old ones are deleted first); ``discovery``:
        one device-discovery message per device, or one message per entity (Home Assistant before
        2024.12)."""
        self.topics = topics
        self.discovery: DiscoveryMode = discovery
        self._settle_s = settle_s
        self._event_interval_s = event_interval_s
        self._manifest_wait_s = manifest_wait_s
        self._devices: dict[bytes, _Device] = {}
        self._by_id: dict[str, _Device] = {}
        self._connected = False
        self._peers_loaded = False
        self._manifest_read = False
        self._early_manifest: bytes | None = None
        self._timers: dict[tuple[str, bytes, str], float] = {}
        self._warnings = _Warnings()

    # -- queries ------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether the broker connection is up (publishes are only returned then)."""
        return self._connected

    def device_ids(self) -> dict[bytes, str]:
        """Fingerprint -> device id of every paired device."""
        return {fp: d.dev for fp, d in self._devices.items()}

    def is_online(self, fingerprint: bytes) -> bool:
        device = self._devices.get(fingerprint)
        return device is not None and device.online

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timers` wants to run next (None: no timer)."""
        return min(self._timers.values(), default=None)

    # -- the broker -----------------------------------------------------------------------------------

    def broker_connected(self, now: float) -> list[Action]:
        """The broker connection is up (the first one or again): subscribe and announce everything."""
        self._connected = True
        self._manifest_read = False
        out: list[Action] = [
            Subscribe(self.topics.subscriptions()),
            Publish(self.topics.bridge_status, ONLINE, retain=True, qos=1),
        ]
        for device in self._devices.values():
            out += self._announce(device, now)
        self._timers[("manifest", b"", "")] = now + self._manifest_wait_s
        return out

    def broker_disconnected(self) -> None:
        """The broker connection is gone: nothing is published until it is back (and then all again)."""
        self._connected = False

    def shutdown(self) -> list[Action]:
        """The bridge stops cleanly (no last will then): every device and the bridge go offline."""
        if not self._connected:
            return []
        out: list[Action] = [
            Publish(self.topics.availability(d.dev), OFFLINE, retain=True, qos=1) for d in self._devices.values()
        ]
        out.append(Publish(self.topics.bridge_status, OFFLINE, retain=True, qos=1))
        return out

    def message(self, topic: str, payload: bytes, now: float, *, retained: bool = False) -> list[Action]:
        """A message arrived on a subscribed topic (commands, Home Assistant's status, the device list)."""
        if topic == self.topics.ha_status:
            if payload.strip().lower() == ONLINE:
                log.info("Home Assistant is online: announcing %d devices again", len(self._devices))
                return [a for d in self._devices.values() for a in self._announce(d, now)]
            return []
        if topic == self.topics.bridge_devices:
            return self._manifest_message(payload, now, retained=retained)
        command = self.topics.parse_command(topic)
        if command is None:
            return []
        device = self._by_id.get(command.device_id)
        if device is None:
            log.debug("command on %s: not a device of this bridge", topic)
            return []
        plan = device.by_token.get(command.token)
        if plan is None:
            if device.mapping is None:
                self._warnings.warn(
                    now, "%s is offline and its channels are not known yet: command ignored", device.name
                )
            else:
                self._warnings.warn(now, "%s has no channel %r: command ignored", device.name, command.token)
            return []
        if not device.online:
            self._warnings.warn(now, "%s is offline: command for %r ignored", device.name, plan.name)
            return []
        try:
            if command.kind == "set":
                run = RunCommand(device.fingerprint, plan.name, value=decode_set(plan, payload))
            else:
                run = RunCommand(device.fingerprint, plan.name, action=decode_action(plan, payload))
        except CommandRejected as exc:
            self._warnings.warn(now, "%s: command for %r ignored: %s", device.name, plan.name, exc.reason)
            return []
        return self._queue_command(device, run, now)

    # -- the controller side ----------------------------------------------------------------------------

    def peers_changed(self, peers: Iterable[Peer], now: float) -> list[Action]:
        """The paired devices, as the pin store lists them now (call it whenever it may have changed)."""
        first = not self._peers_loaded
        self._peers_loaded = True
        out: list[Action] = []
        current: dict[bytes, Peer] = {p.fingerprint: p for p in peers}
        changed = False
        for fp, peer in current.items():
            device = self._devices.get(fp)
            if device is None:
                device = _Device(fingerprint=fp, dev=device_id(fp), name=peer.name, peer_name=peer.name)
                self._devices[fp] = device
                self._by_id[device.dev] = device
                changed = True
                log.info("bridging %s (%s)", peer.name, device.dev)
                out.append(ConnectDevice(fp))
                if self._connected:
                    out.append(Publish(self.topics.availability(device.dev), OFFLINE, retain=True, qos=1))
            elif peer.name != device.peer_name:  # renamed (by this controller on an agent-info-event, or another)
                device.peer_name = device.name = peer.name
                log.info("%s is now called %s", device.dev, peer.name)
                out += self._announce_config(device)
        for fp in [fp for fp in self._devices if fp not in current]:
            device = self._devices.pop(fp)
            del self._by_id[device.dev]
            self._drop_timers(fp)
            changed = True
            log.info("%s is no longer paired: removing its entities", device.name)
            out.append(DisconnectDevice(fp))
            out += self._removal(device.dev, device.component_topics)
        if changed and self._manifest_read:
            out += self._publish_manifest()
        if first and self._early_manifest is not None:
            early, self._early_manifest = self._early_manifest, None
            out += self._manifest_message(early, now, retained=True)
        return out

    def device_online(self, fingerprint: bytes, catalog: Catalog, now: float) -> list[Action]:
        """A connection to the device is up and its catalog read."""
        device = self._devices.get(fingerprint)
        if device is None:
            return []
        device.online = True
        device.commands.clear()
        watch = self._use_catalog(device, catalog, changed=False)
        return [watch, *self._announce(device, now)]

    def catalog_changed(self, fingerprint: bytes, catalog: Catalog, now: float) -> list[Action]:
        """The connected device sent a new catalog (channels added or removed at run time, a rename):
        follow its channels now and announce its entities again (those that went are removed)."""
        device = self._devices.get(fingerprint)
        if device is None or not device.online:
            return []
        old = device.mapping
        watch = self._use_catalog(device, catalog, changed=True)
        if old is not None:
            mapping = device.mapping
            assert mapping is not None
            new_components = mapping.components
            for cid, config in old.components.items():
                if cid not in new_components:
                    device.removed_components[cid] = str(config["platform"])
            for cid in new_components:
                device.removed_components.pop(cid, None)
            kept = {p.name for p in mapping.channels if old.by_name(p.name) == p}
            for name in [n for n in device.commands if n not in kept]:
                del device.commands[name]  # the actuator went or changed: its answer no longer matters
        return [watch, *self._announce(device, now)]

    def _use_catalog(self, device: _Device, catalog: Catalog, *, changed: bool) -> WatchChannels:
        """Map ``catalog`` for ``device`` (keeping the last states of channels that did not change) and say
        which channels to follow."""
        mapping = map_catalog(catalog, dev=device.dev, topics=self.topics)
        old = device.mapping
        states = dict(device.states)
        device.use(mapping, self.topics)
        if old is not None and changed:
            for plan in mapping.channels:
                topic = device.state_topics[plan.name]
                if old.by_name(plan.name) == plan and topic in states:
                    device.states[topic] = states[topic]
        info = catalog.device
        device.identity = DeviceIdentity(name=info.name, model=info.model, sw_version=info.sdk, hw_version=info.board)
        device.name = info.name
        skipped = [f"{p.name} ({p.skip_reason})" for p in mapping.channels if p.skip_reason]
        log.info(
            "%s %s: %d entities%s",
            device.name,
            "changed its channels" if changed else "is online",
            len(mapping.components),
            f"; not in Home Assistant: {', '.join(skipped)}" if skipped else "",
        )
        watched = [p for p in mapping.channels if p.watched]
        return WatchChannels(
            device.fingerprint,
            sensors=tuple(p.name for p in watched if p.kind == "sensor"),
            actuators=tuple(p.name for p in watched if p.kind == "actuator"),
            inputs=tuple(p.name for p in watched if p.kind == "input"),
        )

    def device_offline(self, fingerprint: bytes, reason: str, now: float) -> list[Action]:
        """The device's connection was lost (it is being looked for again)."""
        device = self._devices.get(fingerprint)
        if device is None or not device.online:
            return []
        device.online = False
        device.commands.clear()
        self._drop_timers(fingerprint)
        log.info("%s is offline: %s", device.name, reason)
        if not self._connected:
            return []
        return [Publish(self.topics.availability(device.dev), OFFLINE, retain=True, qos=1)]

    def reading(self, fingerprint: bytes, channel: str, value: Any, now: float) -> list[Action]:
        """A sensor reading, or the device-confirmed state of an actuator."""
        device = self._devices.get(fingerprint)
        if device is None or not device.online:
            return []
        topic = device.state_topics.get(channel)
        if topic is None:
            return []
        payload = encode_state(value)
        if payload is None:
            return []
        device.states[topic] = payload
        if not self._connected:
            return []
        return [Publish(topic, payload)]

    actuator_state = reading

    def input_reading(self, fingerprint: bytes, channel: str, value: Any, now: float) -> list[Action]:
        """A reading of an input channel: an event (bool and enum inputs: each change; others: at most
        one per ``event_interval_s``, the newest value winning). The first reading on a connection is the
        input's state at that moment, not an event."""
        device = self._devices.get(fingerprint)
        if device is None or not device.online:
            return []
        plan = device.by_name.get(channel)
        if plan is None or plan.kind != "input":
            return []
        last = device.events.get(channel)
        if last is None:  # the input's state when the channel opened: where it is, not something it did
            device.events[channel] = (now, value)
            return []
        if plan.type in ("bool", "enum"):
            if last is not None and last[1] == value:
                return []
        elif last is not None and now - last[0] < self._event_interval_s:
            payload = encode_event(plan, value)
            if payload is not None:
                device.pending_events[channel] = payload
                self._timers.setdefault(("event", fingerprint, channel), last[0] + self._event_interval_s)
            return []
        payload = encode_event(plan, value)
        if payload is None:
            return []
        device.events[channel] = (now, value)
        device.pending_events.pop(channel, None)  # this newer value goes out now instead
        self._timers.pop(("event", fingerprint, channel), None)
        if not self._connected:
            return []
        return [Publish(self.topics.event(device.dev, plan.token), payload)]

    def command_done(self, fingerprint: bytes, channel: str, error: str | None, now: float) -> list[Action]:
        """The command that ran on ``channel`` finished (``error``: why it failed, None if it did not)."""
        device = self._devices.get(fingerprint)
        if device is None:
            return []
        queue = device.commands.get(channel)
        if not queue:
            return []
        done = queue.popleft()
        if error is not None:
            log.warning("%s: %s failed: %s", device.name, done.describe(), error)
        else:
            log.debug("%s: %s done", device.name, done.describe())
        return [queue[0]] if queue else []

    # -- timers ---------------------------------------------------------------------------------------

    def handle_timers(self, now: float) -> list[Action]:
        """Run every timer that is due."""
        out: list[Action] = []
        for key, due in sorted(self._timers.items(), key=lambda item: item[1]):
            if due > now:
                continue
            del self._timers[key]
            kind, fp, channel = key
            if kind == "manifest":
                out += self._manifest_read_done(now)
                continue
            device = self._devices.get(fp)
            if device is None or not device.online or not self._connected:
                continue
            if kind == "states":
                out += [Publish(topic, payload) for topic, payload in device.states.items()]
            elif kind == "event":
                payload = device.pending_events.pop(channel, None)
                plan = device.by_name.get(channel)
                if payload is not None and plan is not None:
                    device.events[channel] = (now, None)
                    out.append(Publish(self.topics.event(device.dev, plan.token), payload))
        return out

    # -- internals ------------------------------------------------------------------------------------

    def _announce_config(self, device: _Device) -> list[Action]:
        """The device's discovery config(s), once its catalog is known and old configs were cleaned up."""
        if not self._connected or not self._manifest_read or device.mapping is None or device.identity is None:
            return []
        identity = DeviceIdentity(
            name=device.name,
            model=device.identity.model,
            sw_version=device.identity.sw_version,
            hw_version=device.identity.hw_version,
        )
        if self.discovery == "device":
            body = discovery_payload(device.mapping, dev=device.dev, device=identity, topics=self.topics)
            for cid, platform in device.removed_components.items():  # Home Assistant removes these
                body["components"][cid] = {"platform": platform}
            device.removed_components.clear()
            return [Publish(self.topics.discovery(device.dev), _json(body), retain=True, qos=1)]
        bodies = component_payloads(device.mapping, dev=device.dev, device=identity, topics=self.topics)
        out: list[Action] = [Publish(t, b"", retain=True, qos=1) for t in sorted(device.component_topics - set(bodies))]
        out += [Publish(topic, _json(body), retain=True, qos=1) for topic, body in bodies.items()]
        if set(bodies) != device.component_topics:
            device.component_topics = set(bodies)
            out += self._publish_manifest()
        return out

    def _announce(self, device: _Device, now: float) -> list[Action]:
        """Config (when the catalog is known), availability, and the states again once settled."""
        if not self._connected:
            return []
        out = self._announce_config(device)
        out.append(
            Publish(self.topics.availability(device.dev), ONLINE if device.online else OFFLINE, retain=True, qos=1)
        )
        if device.online and self._manifest_read:
            self._timers[("states", device.fingerprint, "")] = now + self._settle_s
        return out

    def _removal(self, dev: str, component_topics: Iterable[str], *, mode: DiscoveryMode | None = None) -> list[Action]:
        """Empty retained messages that delete a device's entities and availability."""
        if not self._connected:
            return []
        topics = [self.topics.availability(dev)]
        if (mode or self.discovery) == "device":
            topics.append(self.topics.discovery(dev))
        topics += sorted(component_topics)
        return [Publish(topic, b"", retain=True, qos=1) for topic in topics]

    def _queue_command(self, device: _Device, run: RunCommand, now: float) -> list[Action]:
        queue = device.commands.setdefault(run.channel, deque())
        if not queue:
            queue.append(run)
            return [run]
        if run.action is None and len(queue) > 1 and queue[-1].action is None:
            queue[-1] = run  # a newer value for a set that has not started: only the newest matters
            return []
        if len(queue) > MAX_QUEUED_COMMANDS:
            self._warnings.warn(
                now, "%s: too many commands for %r waiting: %s dropped", device.name, run.channel, run.describe()
            )
            return []
        queue.append(run)
        return []

    def _drop_timers(self, fingerprint: bytes) -> None:
        for key in [k for k in self._timers if k[1] == fingerprint]:
            del self._timers[key]

    def _publish_manifest(self) -> list[Action]:
        if not self._manifest_read:
            return []
        body: dict[str, Any] = {
            "discovery": self.discovery,
            "devices": sorted(d.dev for d in self._devices.values()),
        }
        if self.discovery == "component":
            body["components"] = {d.dev: sorted(d.component_topics) for d in self._devices.values()}
        return [Publish(self.topics.bridge_devices, _json(body), retain=True, qos=1)]

    def _manifest_message(self, payload: bytes, now: float, *, retained: bool) -> list[Action]:
        """The bridge's retained device list from its last run: devices in it that are no longer paired
        lose their entities, and so do configs of the other discovery mode (after a switch). (Live copies
        are this bridge's own publishes: nothing to do.)"""
        if not retained or self._manifest_read:
            return []
        if not self._peers_loaded:  # keep it until the pin store is read (retained copies come once)
            self._early_manifest = payload
            return []
        try:
            listed, old_mode, old_components = self._parse_manifest(payload)
        except ValueError as exc:
            self._warnings.warn(
                now, "the bridge's device list on %s is unreadable (%s): replacing it", self.topics.bridge_devices, exc
            )
            listed, old_mode, old_components = [], self.discovery, {}
        known = {d.dev: d for d in self._devices.values()}
        out: list[Action] = []
        stale = [dev for dev in listed if dev not in known]
        if stale:
            log.info("removing the entities of %d devices that are no longer paired", len(stale))
        for dev in stale:
            out += self._removal(dev, old_components.get(dev, ()), mode=old_mode)
        for dev in listed:
            device = known.get(dev)
            if device is None:
                continue
            if old_mode != self.discovery:  # the other mode's configs would clash with the new ones
                if old_mode == "device":
                    out.append(Publish(self.topics.discovery(dev), b"", retain=True, qos=1))
                else:
                    out += [Publish(t, b"", retain=True, qos=1) for t in sorted(old_components.get(dev, ()))]
            elif self.discovery == "component":
                device.component_topics |= set(old_components.get(dev, ()))  # deleted if no longer there
        return out + self._manifest_read_done(now)

    def _parse_manifest(self, payload: bytes) -> tuple[list[str], DiscoveryMode, dict[str, set[str]]]:
        """(device ids, discovery mode, entity topics by device) of a device list; ValueError if garbled.
        Only ids and topics of this bridge's layout are kept: the list cannot make it delete others'."""
        if len(payload) > MAX_MANIFEST_BYTES:
            raise ValueError("too large")
        body = json.loads(payload) if payload else {"devices": []}
        listed = body.get("devices") if isinstance(body, dict) else None
        if not isinstance(listed, list):
            raise ValueError("no device list")
        mode: DiscoveryMode = "component" if body.get("discovery") == "component" else "device"
        devs = sorted({x for x in listed if isinstance(x, str) and DEVICE_ID_RE.fullmatch(x)})
        raw = body.get("components")
        components: dict[str, set[str]] = {}
        if isinstance(raw, dict):
            for dev in devs:
                topics = raw.get(dev)
                if isinstance(topics, list):
                    components[dev] = {
                        t for t in topics if isinstance(t, str) and self.topics.is_component_discovery(t, dev)
                    }
        return devs, mode, components

    def _manifest_read_done(self, now: float) -> list[Action]:
        """The old device list was handled (or did not come): publish the new one and announce."""
        self._timers.pop(("manifest", b"", ""), None)
        if self._manifest_read or not self._connected:
            return []
        if not self._peers_loaded:  # the pin store is not read yet: wait for it
            self._timers[("manifest", b"", "")] = now + self._manifest_wait_s
            return []
        self._manifest_read = True
        out = self._publish_manifest()
        for device in self._devices.values():
            out += self._announce(device, now)
        return out


def _json(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
