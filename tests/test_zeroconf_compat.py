"""What device_sdk/discovery/_zeroconf_compat.py takes from python-zeroconf beyond its ``__all__``.

Fails loudly when a zeroconf release moves or renames one of them, or encodes a DNS number differently.
"""

from __future__ import annotations

import zeroconf
import zeroconf.const

from device_sdk.discovery import _zeroconf_compat as compat

ZEROCONF = f"zeroconf {zeroconf.__version__}"


def test_the_record_classes_are_the_ones_zeroconf_keeps_importable() -> None:
    for name in ("DNSAddress", "DNSOutgoing", "DNSPointer", "DNSQuestion", "DNSRecord", "DNSService", "DNSText"):
        assert getattr(zeroconf, name, None) is getattr(compat, name), f"{ZEROCONF}: zeroconf.{name} moved"


def test_the_dns_numbers_match_zeroconfs() -> None:
    for name in (
        "CLASS_IN",
        "CLASS_UNIQUE",
        "FLAGS_AA",
        "FLAGS_QR_QUERY",
        "FLAGS_QR_RESPONSE",
        "TYPE_A",
        "TYPE_AAAA",
        "TYPE_ANY",
        "TYPE_TXT",
    ):
        assert getattr(zeroconf.const, f"_{name}", None) == getattr(compat, name), f"{ZEROCONF}: _{name} differs"


def test_a_probe_encodes_with_these_numbers() -> None:
    out = compat.DNSOutgoing(compat.FLAGS_QR_QUERY)
    out.add_question(compat.DNSQuestion("x._openscreen._udp.local.", compat.TYPE_ANY, compat.CLASS_IN))
    packet = out.packets()[0]
    incoming = zeroconf.DNSIncoming(packet)  # type: ignore[attr-defined]  # kept importable, as above
    assert incoming.is_query() and [(q.type, q.class_) for q in incoming.questions] == [(255, 1)]
