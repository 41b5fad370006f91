"""Choosing the network interfaces mDNS runs on, and the host addresses published in A/AAAA records."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import ifaddr
from zeroconf import IPVersion

from device_sdk.errors import ConfigError

__all__ = ["ResolvedInterfaces", "resolve_interfaces"]

ZeroconfInterface = str | tuple[tuple[str, int, int], int]


@dataclass(frozen=True)
class ResolvedInterfaces:
    """What python-zeroconf needs for an interface choice, and the addresses to advertise."""

    zeroconf_interfaces: tuple[ZeroconfInterface, ...]
    """IPv4 addresses and ``((ipv6, flowinfo, scope), index)`` entries, one IPv6 entry per interface."""
    ip_version: IPVersion
    """The IP versions those entries use."""
    host_addresses: tuple[str, ...]
    """Addresses for the A and AAAA records (IPv6 link-local ones without a zone)."""


def resolve_interfaces(interfaces: Sequence[str] | None) -> ResolvedInterfaces:
    """Resolve interface names (``"eth0"``, ``"lo"``) and addresses to what zeroconf and the records need.

    ``None`` means every interface; loopback addresses are then only advertised when nothing else
    exists. IPv6 is not used on loopback interfaces (multicast does not work there). Raises
    :class:`~device_sdk.errors.ConfigError` for an unknown interface name or address.
    """
    adapters = list(ifaddr.get_adapters())
    chosen: list[tuple[ifaddr.Adapter, list[ifaddr.IP]]] = []
    if interfaces is None:
        chosen = [(adapter, list(adapter.ips)) for adapter in adapters]
    else:
        for item in interfaces:
            chosen.append(_find(adapters, item))

    zc_entries: list[ZeroconfInterface] = []
    advertised: list[str] = []
    loopback_v4: list[str] = []
    v6_indexes: set[int] = set()
    for adapter, ips in chosen:
        for ip in ips:
            if isinstance(ip.ip, str):  # IPv4
                address = ip.ip
                if address not in zc_entries:
                    zc_entries.append(address)
                if ipaddress.ip_address(address).is_loopback:
                    loopback_v4.append(address)
                    if interfaces is None:
                        continue
                if address not in advertised:
                    advertised.append(address)
                continue
            v6, flowinfo, scope = ip.ip
            v6_address = ipaddress.IPv6Address(v6.split("%")[0])
            if v6_address.is_loopback or adapter.index is None or _is_loopback_adapter(adapter):
                continue
            if adapter.index not in v6_indexes:
                v6_indexes.add(adapter.index)
                zc_entries.append(((str(v6_address), flowinfo, scope), adapter.index))
            if str(v6_address) not in advertised:
                advertised.append(str(v6_address))
    if not advertised:
        advertised = list(dict.fromkeys(loopback_v4))
    if not zc_entries:
        raise ConfigError(f"no usable addresses on interfaces {interfaces!r}")
    has_v4 = any(isinstance(entry, str) for entry in zc_entries)
    has_v6 = bool(v6_indexes)
    version = IPVersion.All if has_v4 and has_v6 else IPVersion.V6Only if has_v6 else IPVersion.V4Only
    return ResolvedInterfaces(tuple(zc_entries), version, tuple(advertised))


def _is_loopback_adapter(adapter: ifaddr.Adapter) -> bool:
    return any(isinstance(ip.ip, str) and ipaddress.ip_address(ip.ip).is_loopback for ip in adapter.ips)


def _find(adapters: list[ifaddr.Adapter], item: str) -> tuple[ifaddr.Adapter, list[ifaddr.IP]]:
    """The adapter named ``item`` with all its addresses, or the adapter holding address ``item``."""
    for adapter in adapters:
        if item in (adapter.name, adapter.nice_name):
            return adapter, list(adapter.ips)
    try:
        wanted = ipaddress.ip_address(item.split("%")[0])
    except ValueError:
        names = ", ".join(sorted({a.nice_name for a in adapters})) or "none"
        raise ConfigError(f"no network interface is called {item!r} (this machine has: {names})") from None
    for adapter in adapters:
        for ip in adapter.ips:
            raw = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            if ipaddress.ip_address(raw.split("%")[0]) == wanted:
                return adapter, [ip]
    raise ConfigError(f"no network interface has the address {item}: give an interface name or one of its addresses")
