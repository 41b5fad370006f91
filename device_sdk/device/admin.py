"""The admin channel's operations on a device (profile section 6.5): the backend of
:class:`~device_sdk.channels.admin.AdminChannel`.

It gets the trust store and the device's operations as callables, never the device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..channels import Role
from ..identity import fingerprint_from_text
from ..pairing.trust import DeviceTrustStore

__all__ = ["DeviceAdmin"]

MIN_ADMIN_WINDOW_S = 180.0
"""An admin's open-window request for fewer seconds opens the window for this long (the profile's minimum)."""


class DeviceAdmin:
    """Carries out admin requests.

    ``trust`` lists and changes the paired controllers; ``open_window(seconds)`` opens the pairing
    window as an admin; ``remove_peer(fp)`` forgets a controller and closes its connections;
    ``role_changed(fp, role)`` tells the channels a controller's new role; ``rename(name)`` renames
    the device and returns the name now in use.
    """

    def __init__(
        self,
        *,
        trust: DeviceTrustStore,
        open_window: Callable[[float | None], None],
        remove_peer: Callable[[bytes], bool],
        role_changed: Callable[[bytes, Role], None],
        rename: Callable[[str], str],
    ) -> None:
        self._trust = trust
        self._open_window = open_window
        self._remove_peer = remove_peer
        self._role_changed = role_changed
        self._rename = rename

    def open_window(self, seconds: int | None) -> None:
        self._open_window(None if seconds is None else max(MIN_ADMIN_WINDOW_S, float(seconds)))

    def list_peers(self) -> list[dict[str, Any]]:
        # "last_seen" is an extension key (profile section 3: string keys are extensions).
        return [
            {
                "fp": p.fingerprint_text,
                "name": p.name,
                "role": p.role,
                "paired_at": p.paired_at,
                "last_seen": p.last_seen,
            }
            for p in self._trust.list()
        ]

    def remove_peer(self, fp: str) -> bool:
        """Remove-peer, and leave (a peer removing itself): on disk before the answer."""
        return self._remove_peer(fingerprint_from_text(fp))

    def set_role(self, fp: str, role: Role) -> bool:
        raw = fingerprint_from_text(fp)
        if not self._trust.is_trusted(raw):
            return False
        self._trust.set_role(raw, role)
        self._role_changed(raw, role)
        return True

    def rename(self, name: str) -> str:
        return self._rename(name)
