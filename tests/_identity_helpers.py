"""Shared constants and helpers of the agent identity tests (test_identity_*.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import NameOID

from device_sdk.identity import AgentIdentity

T0 = datetime(2025, 3, 1, 12, 0, 0, 654321, tzinfo=UTC)
T0_SECONDS = T0.replace(microsecond=0)
MODEL = "Acme Lamp 2000"
NAME = "Kitchen Light"


def _cn(name: x509.Name) -> str:
    (attr,) = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert isinstance(attr.value, str)
    return attr.value


def _load(state: Path, *, name: str = NAME, model: str = MODEL, now: datetime = T0) -> AgentIdentity:
    return AgentIdentity.load_or_create(state, model_name=model, instance_name=name, now=now)
