"""What device_sdk uses of python-zeroconf beyond its ``__all__``, in one place.

The advertiser writes its own probes and announcements, and the browser reads TXT records from the
cache, so they need zeroconf's DNS record classes and its outgoing-message builder. zeroconf keeps
them importable from the package itself "for backwards compat" (``zeroconf.DNSText``, ...) but lists
them in no ``__all__``; they are imported here from their modules, and
``tests/test_zeroconf_compat.py`` checks that they are still the ones the package re-exports. The
record types, classes and header flags that ``zeroconf.const`` names with a leading underscore are
defined here with their values from RFC 1035 and RFC 6762; the same test fails loudly if zeroconf ever
encodes them differently. Everything else is used through zeroconf's public names.
"""

from __future__ import annotations

from typing import Final

from zeroconf._dns import DNSAddress, DNSPointer, DNSQuestion, DNSRecord, DNSService, DNSText
from zeroconf._protocol.outgoing import DNSOutgoing

__all__ = [
    "CLASS_IN",
    "CLASS_UNIQUE",
    "FLAGS_AA",
    "FLAGS_QR_QUERY",
    "FLAGS_QR_RESPONSE",
    "TYPE_A",
    "TYPE_AAAA",
    "TYPE_ANY",
    "TYPE_TXT",
    "DNSAddress",
    "DNSOutgoing",
    "DNSPointer",
    "DNSQuestion",
    "DNSRecord",
    "DNSService",
    "DNSText",
]

CLASS_IN: Final = 1
"""The Internet class (RFC 1035 section 3.2.4)."""
CLASS_UNIQUE: Final = 0x8000
"""The cache-flush bit of a unique record's class (RFC 6762 section 10.2)."""
FLAGS_QR_QUERY: Final = 0x0000
"""A query message (RFC 1035 section 4.1.1)."""
FLAGS_QR_RESPONSE: Final = 0x8000
"""A response message."""
FLAGS_AA: Final = 0x0400
"""Authoritative answer (every mDNS response sets it, RFC 6762 section 18.4)."""
TYPE_A: Final = 1
TYPE_AAAA: Final = 28
TYPE_TXT: Final = 16
TYPE_ANY: Final = 255
