"""What the dashboard knows about each device, merged from mDNS, the controller's pins and its own
connections; and the status a person sees (online, connecting, lost, offline).

Pure: fed discovery results, the paired devices and connection ups and downs with the time, it returns
the messages for the pages (a device record changed or is gone, a line for the event log). It never
looks at the network itself.

Status rules (docs/dashboard.md):

- a paired device is *online* while the dashboard holds a connection to it; *connecting* while it is
  advertised and not yet connected; *lost* once a connection ended that the dashboard did not close, or
  its mDNS record went away, until a connection is made again; *offline* when it has not been seen since
  the dashboard started;
- a device that is not paired is *online* while advertised; when its record goes away it leaves the list.

Names: a device's name and model come from its agent-info when the dashboard has read it (a connection,
or a probe of a device that is not paired); the name read stands while the device advertises the
metadata version it was read at (the mDNS name may be cut short), else the advertised name is shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from device_sdk.discovery import DiscoveredDevice

Status = Literal["online", "connecting", "lost", "offline"]

MAX_LOG = 200
"""Event-log lines kept for pages that open later."""


@dataclass
class Entry:
    """One device as the dashboard sees it."""

    fp: str
    name: str
    paired: bool = False
    discovered: DiscoveredDevice | None = None
    connected: bool = False
    lost: bool = False
    model: str | None = None
    """From agent-info: once connected, or probed when not paired."""
    info_name: str | None = None
    """The full name from agent-info (the mDNS name may be cut short)."""
    info_mv: int | None = None
    """The metadata version ``info_name`` was read at."""
    role: str | None = None
    since: float = 0.0
    """When the status last changed (Unix time)."""

    @property
    def status(self) -> Status:
        if self.connected:
            return "online"
        if self.paired:
            if self.lost:
                return "lost"
            return "connecting" if self.discovered is not None else "offline"
        return "online" if self.discovered is not None else "lost"

    def record(self) -> dict[str, Any]:
        """The ``device`` message's record."""
        d = self.discovered
        return {
            "fp": self.fp,
            "name": self.name,
            "model": self.model,
            "paired": self.paired,
            "status": self.status,
            "since": self.since,
            "window_open": bool(d is not None and d.commissionable),
            "advertised": d is not None,
            "addresses": list(d.addresses) if d is not None else [],
            "port": d.port if d is not None else None,
            "discriminator": d.txt.d if d is not None else None,
            "role": self.role,
        }


@dataclass
class Directory:
    """The devices by fingerprint, and the event log."""

    entries: dict[str, Entry] = field(default_factory=dict)
    log: list[dict[str, Any]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        return [e.record() for e in sorted(self.entries.values(), key=lambda e: (not e.paired, e.name.casefold()))]

    def name_of(self, fp: str) -> str:
        entry = self.entries.get(fp)
        return entry.name if entry is not None else "the device"

    def note(self, now: float, kind: str, text: str, fp: str | None = None) -> dict[str, Any]:
        """Add a line to the event log; returns its ``log`` message."""
        line = {"t": now, "kind": kind, "device": fp, "text": text}
        self.log.append(line)
        del self.log[:-MAX_LOG]
        return {"type": "log", "entry": line}

    # -- inputs -----------------------------------------------------------------------------------

    def set_paired(self, fp: str, name: str, now: float) -> list[dict[str, Any]]:
        """A device this controller has pinned (at start, or just paired)."""
        entry = self.entries.get(fp)
        if entry is None:
            entry = self.entries[fp] = Entry(fp=fp, name=name, since=now)
        if entry.paired:
            return []
        entry.paired = True
        return [self._changed(entry)]

    def set_unpaired(self, fp: str, now: float) -> list[dict[str, Any]]:
        entry = self.entries.get(fp)
        if entry is None:
            return []
        entry.paired = entry.connected = entry.lost = False
        entry.role = None
        entry.since = now
        if entry.discovered is None:
            del self.entries[fp]
            return [{"type": "device-gone", "fp": fp}]
        return [self._changed(entry)]

    def seen(self, device: DiscoveredDevice, now: float) -> list[dict[str, Any]]:
        """An mDNS record appeared or changed."""
        fp = device.fingerprint
        entry = self.entries.get(fp)
        out: list[dict[str, Any]] = []
        if entry is None:
            entry = self.entries[fp] = Entry(fp=fp, name=device.display_name, since=now)
            out.append(self.note(now, "found", f"Found {device.display_name} on the network", fp))
        previous = entry.discovered
        before = entry.status
        entry.discovered = device
        if not entry.connected:  # a connected device's name comes from its agent-info
            current = entry.info_name is not None and entry.info_mv == device.txt.mv
            entry.name = entry.info_name if current and entry.info_name else device.display_name
        if previous is not None and previous.commissionable != device.commissionable:
            state = "opened" if device.commissionable else "closed"
            out.append(self.note(now, "window", f"{entry.name}'s pairing window {state}", fp))
        elif previous is None and device.commissionable and entry.paired:
            out.append(self.note(now, "window", f"{entry.name}'s pairing window is open", fp))
        if entry.status != before:
            entry.since = now
        out.append(self._changed(entry))
        return out

    def vanished(self, fp: str, now: float) -> list[dict[str, Any]]:
        """An mDNS record went away (a goodbye, or its records expired)."""
        entry = self.entries.get(fp)
        if entry is None or entry.discovered is None:
            return []
        before = entry.status
        entry.discovered = None
        if not entry.paired:
            del self.entries[fp]
            return [self.note(now, "left", f"{entry.name} left the network", fp), {"type": "device-gone", "fp": fp}]
        if entry.connected:
            return [self._changed(entry)]  # the connection decides; it may still be up
        out = []
        if not entry.lost and before != "offline":
            entry.lost = True
            out.append(self.note(now, "lost", f"{entry.name} left the network", fp))
        entry.since = now
        out.append(self._changed(entry))
        return out

    def connected(self, fp: str, now: float, *, name: str, model: str | None, role: str | None) -> list[dict[str, Any]]:
        """The dashboard's connection to a paired device is up."""
        entry = self.entries.get(fp)
        if entry is None:
            entry = self.entries[fp] = Entry(fp=fp, name=name, paired=True)
        out = []
        if entry.lost:
            out.append(self.note(now, "back", f"{name} is back", fp))
        entry.connected, entry.lost = True, False
        entry.name, entry.model, entry.since = name, model, now
        entry.info_name, entry.info_mv = name, entry.discovered.txt.mv if entry.discovered is not None else None
        if role is not None:
            entry.role = role
        out.append(self._changed(entry))
        return out

    def disconnected(self, fp: str, now: float, *, why: str | None) -> list[dict[str, Any]]:
        """The connection ended: ``why`` None when the dashboard closed it on purpose."""
        entry = self.entries.get(fp)
        if entry is None or not entry.connected:
            return []
        entry.connected = False
        entry.since = now
        out = []
        if why is not None and entry.paired:
            entry.lost = True
            out.append(self.note(now, "lost", f"Lost contact with {entry.name}: {why}", fp))
        out.append(self._changed(entry))
        return out

    def set_role(self, fp: str, role: str | None) -> list[dict[str, Any]]:
        entry = self.entries.get(fp)
        if entry is None or entry.role == role:
            return []
        entry.role = role
        return [self._changed(entry)]

    def renamed(self, fp: str, name: str, *, model: str | None = None) -> list[dict[str, Any]]:
        """A connected device's new agent-info (or the name it took when renamed from here)."""
        entry = self.entries.get(fp)
        if entry is None:
            return []
        entry.info_name = None  # read again with the new metadata version the device advertises next
        if entry.name == name and (model is None or entry.model == model):
            return []
        entry.name = name
        entry.model = model or entry.model
        return [self._changed(entry)]

    def probed(self, fp: str, mv: int, *, name: str, model: str) -> list[dict[str, Any]]:
        """The agent-info of a device that is not paired, read at metadata version ``mv``."""
        entry = self.entries.get(fp)
        if entry is None or entry.connected or (entry.discovered is not None and entry.discovered.txt.mv != mv):
            return []  # gone, connected (its agent-info comes that way), or changed since it was read
        entry.name, entry.model = name, model
        entry.info_name, entry.info_mv = name, mv
        return [self._changed(entry)]

    def _changed(self, entry: Entry) -> dict[str, Any]:
        return {"type": "device", "device": entry.record()}
