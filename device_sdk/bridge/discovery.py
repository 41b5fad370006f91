"""A device's channel catalog as Home Assistant entities and one device-discovery payload (pure).

| channel | Home Assistant |
|---|---|
| sensor, float or int | ``sensor`` with unit, device class and state class where they map (:mod:`.units`) |
| sensor, bool | ``binary_sensor`` (device class from the name: ``motion``, ``door``...) |
| sensor, enum / text | ``sensor`` (an enum with ``device_class: enum`` and its options) |
| actuator, bool | ``switch`` |
| actuator, float or int with min and max | ``number`` (min, max, step) |
| actuator, enum / text | ``select`` / ``text`` |
| actuator action | ``button`` per action (pressing it runs the action) |
| actuator that cannot be set but has a state | its state as a read-only ``sensor`` / ``binary_sensor`` |
| input | ``event`` (bool: pressed / released; enum: its values; others: changed) |

Not mapped, each with a reason in :attr:`ChannelPlan.skip_reason`: byte streams and ``bytes`` values (no
Home Assistant entity carries them), ``map`` sensors and actuators (their JSON still goes to the state
topic for other MQTT clients), numeric actuators without a range (Home Assistant's ``number`` needs one).

Entities have names of their own ("Temperature"), never prefixed with the device's name: Home Assistant
puts the device name in front itself. Unique ids are ``<device id>_<component id>``, so a renamed device
keeps its entities. The payload uses full option names, never ``object_id`` (deprecated) nor
``default_entity_id`` (which releases before 2025.10 drop): entity ids come from the device and entity
names the first time Home Assistant sees them.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

from device_sdk import __version__
from device_sdk.channels import Catalog, ChannelDescriptor, ChannelKind, ValueType

from .topics import Topics, channel_token
from .units import binary_sensor_class, sensor_class

Platform = Literal["sensor", "binary_sensor", "switch", "number", "select", "text", "button", "event"]

ORIGIN: Final[Mapping[str, str]] = {"name": "device_sdk bridge", "sw_version": __version__}
"""The ``origin`` of every discovery payload: Home Assistant logs it with each discovery."""

TEXT_MAX: Final = 255
"""Home Assistant's longest state: a ``text`` entity never sends more."""

BOOL_EVENTS: Final = ("pressed", "released")
CHANGED_EVENT: Final = "changed"


@dataclass(frozen=True, kw_only=True)
class ChannelPlan:
    """What the bridge does with one channel: watch it, publish its state, offer Home Assistant entities."""

    name: str
    token: str
    kind: ChannelKind
    type: ValueType
    settable: bool = False
    """An actuator that takes ``set`` commands."""
    stateful: bool = True
    """A sensor, or an actuator with a state (one with actions only has none)."""
    actions: tuple[str, ...] = ()
    components: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Home Assistant component configs by component id (``cmps`` of the discovery payload)."""
    skip_reason: str | None = None
    """Why the channel has no Home Assistant entity (None when it has one)."""

    @property
    def watched(self) -> bool:
        """Whether the bridge subscribes to the channel at all (streams and stateless actuators: no)."""
        return self.kind != "stream" and self.type != "bytes" and self.stateful


@dataclass(frozen=True, kw_only=True)
class DeviceMapping:
    """A catalog as the bridge sees it: one plan per channel, in the catalog's order."""

    channels: tuple[ChannelPlan, ...]

    def channel(self, token: str) -> ChannelPlan | None:
        """The plan of the channel whose topic token is ``token``."""
        for plan in self.channels:
            if plan.token == token:
                return plan
        return None

    def by_name(self, name: str) -> ChannelPlan | None:
        for plan in self.channels:
            if plan.name == name:
                return plan
        return None

    @property
    def components(self) -> dict[str, Mapping[str, Any]]:
        """Every component of the device by component id."""
        out: dict[str, Mapping[str, Any]] = {}
        for plan in self.channels:
            out.update(plan.components)
        return out


def humanize(name: str) -> str:
    """A channel or action name as an entity name: ``night_light`` -> ``Night light``."""
    words = name.replace("_", " ").replace("-", " ").split()
    text = " ".join(words) or name
    return text[:1].upper() + text[1:]


def number_step(descriptor: ChannelDescriptor) -> float:
    """The slider step of a numeric actuator: 1 for ints, else about a hundredth of the range."""
    if descriptor.type == "int":
        return 1
    assert descriptor.min is not None and descriptor.max is not None
    span = descriptor.max - descriptor.min
    if span <= 0:
        return 0.001
    return max(0.001, float(10 ** math.floor(math.log10(span / 100))))


def _is_stateless(descriptor: ChannelDescriptor) -> bool:
    """An actuator with actions only: its type is the enum of its action names and it cannot be set."""
    return (
        descriptor.extra.get("settable") is False
        and descriptor.type == "enum"
        and bool(descriptor.actions)
        and tuple(descriptor.values) == descriptor.actions
    )


def _read_only(descriptor: ChannelDescriptor, base: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """A state shown as a sensor or binary sensor (sensors, and actuators that cannot be set)."""
    vtype = descriptor.type
    if vtype == "bool":
        config = {"platform": "binary_sensor", **base}
        device_class = binary_sensor_class(descriptor.name)
        if device_class is not None:
            config["device_class"] = device_class
        return config, None
    if vtype in ("float", "int"):
        classes = sensor_class(descriptor.unit, descriptor.name)
        config = {"platform": "sensor", **base, "state_class": classes.state_class}
        if classes.unit is not None:
            config["unit_of_measurement"] = classes.unit
        if classes.device_class is not None:
            config["device_class"] = classes.device_class
        return config, None
    if vtype == "enum":
        return {"platform": "sensor", **base, "device_class": "enum", "options": list(descriptor.values)}, None
    if vtype == "text":
        return {"platform": "sensor", **base}, None
    return None, f"{vtype} values have no Home Assistant entity"


def _settable(
    descriptor: ChannelDescriptor, base: dict[str, Any], command: str
) -> tuple[dict[str, Any] | None, str | None]:
    vtype = descriptor.type
    if vtype == "bool":
        return {"platform": "switch", **base, "command_topic": command}, None
    if vtype in ("float", "int"):
        if descriptor.min is None or descriptor.max is None:
            return None, "a number without min and max cannot be a Home Assistant number"
        config: dict[str, Any] = {
            "platform": "number",
            **base,
            "command_topic": command,
            "min": descriptor.min,
            "max": descriptor.max,
            "step": number_step(descriptor),
        }
        if descriptor.unit:
            config["unit_of_measurement"] = descriptor.unit
        return config, None
    if vtype == "enum":
        return {"platform": "select", **base, "command_topic": command, "options": list(descriptor.values)}, None
    if vtype == "text":
        return {"platform": "text", **base, "command_topic": command, "max": TEXT_MAX}, None
    return None, f"{vtype} values have no Home Assistant entity"


def _event_types(descriptor: ChannelDescriptor) -> list[str]:
    if descriptor.type == "bool":
        return list(BOOL_EVENTS)
    if descriptor.type == "enum":
        return list(descriptor.values)
    return [CHANGED_EVENT]


def _plan(
    descriptor: ChannelDescriptor, dev: str, topics: Topics
) -> tuple[ChannelPlan, list[tuple[str, dict[str, Any]]]]:
    """The plan of one channel and its components, each with its preferred id (``token`` for the
    channel's entity, ``token__action`` for a button)."""
    token = channel_token(descriptor.name)
    base: dict[str, Any] = {"name": humanize(descriptor.name), "state_topic": topics.state(dev, token)}
    kind, vtype = descriptor.kind, descriptor.type
    configs: list[tuple[str, dict[str, Any]]] = []
    reason: str | None = None
    settable = stateful = False
    actions: tuple[str, ...] = ()
    if kind == "stream":
        reason = "byte streams have no Home Assistant entity"
    elif kind == "sensor":
        stateful = True
        config, reason = _read_only(descriptor, base)
        if config is not None:
            configs.append((token, config))
    elif kind == "input":
        stateful = True
        if vtype == "bytes":
            reason = "bytes values have no Home Assistant entity"
        else:
            config = {
                "platform": "event",
                "name": base["name"],
                "state_topic": topics.event(dev, token),
                "event_types": _event_types(descriptor),
            }
            configs.append((token, config))
    else:  # actuator
        actions = descriptor.actions
        stateful = not _is_stateless(descriptor)
        settable = descriptor.extra.get("settable", True) is not False
        if stateful:
            if settable:
                config, reason = _settable(descriptor, base, topics.command(dev, token, "set"))
            else:
                config, reason = _read_only(descriptor, base)
            if config is not None:
                configs.append((token, config))
        for action in actions:
            button = {
                "platform": "button",
                "name": f"{humanize(descriptor.name)} {humanize(action).lower()}",
                "command_topic": topics.command(dev, token, "do"),
                "payload_press": action,
            }
            configs.append((f"{token}__{channel_token(action)}", button))
    plan = ChannelPlan(
        name=descriptor.name,
        token=token,
        kind=kind,
        type=vtype,
        settable=settable,
        stateful=stateful,
        actions=actions,
        skip_reason=reason if not configs else None,
    )
    return plan, configs


def map_catalog(catalog: Catalog, *, dev: str, topics: Topics) -> DeviceMapping:
    """The bridge's plan for every channel of ``catalog`` (device id ``dev``)."""
    plans: list[ChannelPlan] = []
    used: set[str] = set()
    for descriptor in catalog.channels:
        plan, wanted = _plan(descriptor, dev, topics)
        components: dict[str, Mapping[str, Any]] = {}
        for component_id, config in wanted:
            cid = component_id
            if cid in used:  # two names that collide only in their tokens: keep both, apart
                cid = f"{component_id}-{hashlib.sha256(descriptor.name.encode()).hexdigest()[:6]}"
            used.add(cid)
            components[cid] = {**config, "unique_id": f"{dev}_{cid}"}
        plans.append(replace(plan, components=components))
    return DeviceMapping(channels=tuple(plans))


@dataclass(frozen=True, kw_only=True)
class DeviceIdentity:
    """What Home Assistant's device registry shows about a device."""

    name: str
    model: str | None = None
    sw_version: str | None = None
    hw_version: str | None = None


def _shared(dev: str, device: DeviceIdentity, topics: Topics) -> dict[str, Any]:
    """What every entity of a device shares: the device, the origin, the availability pair, QoS 1."""
    info: dict[str, Any] = {"identifiers": [dev], "name": device.name}
    for key, value in (("model", device.model), ("sw_version", device.sw_version), ("hw_version", device.hw_version)):
        if value:
            info[key] = value
    return {
        "device": info,
        "origin": dict(ORIGIN),
        "availability": [{"topic": topics.bridge_status}, {"topic": topics.availability(dev)}],
        "availability_mode": "all",
        "qos": 1,
    }


def discovery_payload(mapping: DeviceMapping, *, dev: str, device: DeviceIdentity, topics: Topics) -> dict[str, Any]:
    """The device-discovery payload (``homeassistant/device/<dev>/config``) of a mapped device.

    Availability is the device's own topic AND the bridge's status (``availability_mode: all``): the
    bridge's last will sets the bridge offline, and with it every device it bridges.
    """
    return {
        **_shared(dev, device, topics),
        "components": {cid: dict(config) for cid, config in mapping.components.items()},
    }


def component_payloads(
    mapping: DeviceMapping, *, dev: str, device: DeviceIdentity, topics: Topics
) -> dict[str, dict[str, Any]]:
    """The same entities as one discovery message each (``homeassistant/<platform>/<dev>/<id>/config``),
    for Home Assistant releases before 2024.12, which have no device discovery. Keyed by topic."""
    shared = _shared(dev, device, topics)
    out: dict[str, dict[str, Any]] = {}
    for cid, config in mapping.components.items():
        body = {k: v for k, v in config.items() if k != "platform"}
        out[topics.component_discovery(str(config["platform"]), dev, cid)] = {**body, **shared}
    return out


def removal_payloads(devs: Iterable[str], topics: Topics) -> list[tuple[str, bytes]]:
    """The empty retained messages that delete devices' entities (and their availability)."""
    out: list[tuple[str, bytes]] = []
    for dev in devs:
        out += [(topics.discovery(dev), b""), (topics.availability(dev), b"")]
    return out
