"""Agent identity: the device's key pair, agent certificate and fingerprint (profile sections 1-2).

:class:`AgentIdentity` keeps the key and certificate in the state directory; the functions build
and check the names, serial text and fingerprints that peers compute independently.
"""

from __future__ import annotations

from .agent import CERT_FILE, KEY_FILE, META_FILE, AgentIdentity, stored_names
from .certificate import (
    COUNTER_BITS,
    MAX_COUNTER,
    MAX_MODEL_NAME_LENGTH,
    RENEW_BEFORE,
    SERIAL_BASE_BITS,
    VALIDITY_BACKDATE,
    VALIDITY_PERIOD,
    certificate_matches,
    compose_serial,
    generate_private_key,
    issue_certificate,
    new_serial_base,
)
from .fingerprint import (
    FINGERPRINT_SIZE,
    FINGERPRINT_TEXT_LENGTH,
    fingerprint_from_text,
    fingerprint_text,
    spki_fingerprint,
    spki_fingerprint_der,
)
from .names import (
    DEFAULT_LABEL,
    ELLIPSIS,
    MAX_INSTANCE_NAME_BYTES,
    MAX_LABEL_LENGTH,
    agent_hostname,
    check_sn,
    instance_label,
    serial_hex,
    truncate_instance_name,
)

__all__ = [
    "CERT_FILE",
    "COUNTER_BITS",
    "DEFAULT_LABEL",
    "ELLIPSIS",
    "FINGERPRINT_SIZE",
    "FINGERPRINT_TEXT_LENGTH",
    "KEY_FILE",
    "MAX_COUNTER",
    "MAX_INSTANCE_NAME_BYTES",
    "MAX_LABEL_LENGTH",
    "MAX_MODEL_NAME_LENGTH",
    "META_FILE",
    "RENEW_BEFORE",
    "SERIAL_BASE_BITS",
    "VALIDITY_BACKDATE",
    "VALIDITY_PERIOD",
    "AgentIdentity",
    "agent_hostname",
    "certificate_matches",
    "check_sn",
    "compose_serial",
    "fingerprint_from_text",
    "fingerprint_text",
    "generate_private_key",
    "instance_label",
    "issue_certificate",
    "new_serial_base",
    "serial_hex",
    "spki_fingerprint",
    "spki_fingerprint_der",
    "stored_names",
    "truncate_instance_name",
]
