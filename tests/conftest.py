"""Shared fixtures: agent identities in temporary state directories."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from device_sdk.identity import AgentIdentity
from device_sdk.transport import Credentials

os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")


def make_identity(directory: Path, name: str, model: str = "device_sdk test") -> AgentIdentity:
    return AgentIdentity.load_or_create(directory, model_name=model, instance_name=name)


def credentials(identity: AgentIdentity) -> Credentials:
    return Credentials.from_identity(identity)


@pytest.fixture(scope="session")
def device_identity(tmp_path_factory: pytest.TempPathFactory) -> AgentIdentity:
    return make_identity(tmp_path_factory.mktemp("device"), "Test Device")


@pytest.fixture(scope="session")
def controller_identity(tmp_path_factory: pytest.TempPathFactory) -> AgentIdentity:
    return make_identity(tmp_path_factory.mktemp("controller"), "Test Controller", "device_sdk controller")
