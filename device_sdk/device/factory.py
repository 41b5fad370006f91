"""Factory data: the setup code printed on the device's sticker, created once and kept for life.

``factory.json`` (0600) in the state directory holds the passcode, discriminator, vendor and
product ids and commissioning flow. It is created on first start (drawing the passcode and the
discriminator with a CSPRNG unless given) and is never regenerated afterwards, not even by a
factory reset, so that the printed sticker stays valid. Only ``override=True`` replaces it;
:meth:`FactoryData.for_this_run` changes the passcode or discriminator in memory only (for one run,
as ``device-sdk run --setup-code N --discriminator D`` does), leaving the stored file alone.
(The device key and certificate live in :mod:`device_sdk.identity`; the pairing mode is
configuration, not factory data.)
"""

from __future__ import annotations

import contextlib
import logging
import stat
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InvalidSetupCode, StateError
from ..pairing.setup_code import (
    DISCOVERY_ON_NETWORK,
    FLOW_STANDARD,
    SetupPayload,
    encode_manual,
    encode_qr,
    generate_discriminator,
    generate_passcode,
)
from ..storage.statefile import ensure_dir, read_json, write_json

__all__ = ["DEFAULT_PRODUCT_ID", "DEFAULT_VENDOR_ID", "FACTORY_FILE", "FACTORY_VERSION", "FactoryData"]

_log = logging.getLogger(__name__)

FACTORY_FILE = "factory.json"
"""The file name of the factory data in the state directory."""
FACTORY_VERSION = 1
DEFAULT_VENDOR_ID = 0xFFF1
"""Matter's test vendor id, used unless the maker sets its own."""
DEFAULT_PRODUCT_ID = 0x8000
"""Matter's test product id, used unless the maker sets its own."""

_FIELDS = ("passcode", "discriminator", "vendor_id", "product_id", "flow")


@dataclass(frozen=True, kw_only=True)
class FactoryData:
    """The sticker's setup code: validated on construction (:class:`ConfigError` when invalid)."""

    passcode: int = field(repr=False)
    """The setup passcode: the PSK of sticker mode."""
    discriminator: int
    """The 12-bit discriminator, advertised as ``d`` in TXT."""
    vendor_id: int = DEFAULT_VENDOR_ID
    product_id: int = DEFAULT_PRODUCT_ID
    flow: int = FLOW_STANDARD
    """Matter commissioning flow (0 standard, 1 user intent, 2 custom)."""

    def __post_init__(self) -> None:
        try:
            self.payload  # noqa: B018 - validates every field
        except InvalidSetupCode as exc:
            raise ConfigError(f"invalid factory data: {exc}") from None

    @property
    def payload(self) -> SetupPayload:
        """The Matter onboarding payload (discovery: on the IP network)."""
        return SetupPayload(
            passcode=self.passcode,
            discriminator=self.discriminator,
            vendor_id=self.vendor_id,
            product_id=self.product_id,
            flow=self.flow,
            discovery=DISCOVERY_ON_NETWORK,
        )

    @property
    def qr_text(self) -> str:
        """The ``MT:`` text of the sticker's QR code."""
        return encode_qr(self.payload)

    @property
    def manual_code(self) -> str:
        """The sticker's 11-digit manual code (21 digits for a non-standard flow), no dashes."""
        return encode_manual(self.payload)

    def for_this_run(self, *, passcode: int | None = None, discriminator: int | None = None) -> FactoryData:
        """A copy with the given passcode and/or discriminator, for one run: nothing is stored.

        Raises :class:`ConfigError` when a value is invalid.
        """
        changes = {k: v for k, v in (("passcode", passcode), ("discriminator", discriminator)) if v is not None}
        return replace(self, **changes) if changes else self

    @staticmethod
    def path(state_dir: Path) -> Path:
        """Where the factory data of ``state_dir`` is stored."""
        return Path(state_dir) / FACTORY_FILE

    @classmethod
    def load(cls, state_dir: Path) -> FactoryData | None:
        """The stored factory data, or ``None`` when there is none; :class:`StateError` when unusable."""
        path = cls.path(state_dir)
        if path.parent.is_dir():
            for stale in path.parent.glob(f".{FACTORY_FILE}.*.tmp"):
                with contextlib.suppress(FileNotFoundError):
                    stale.unlink()
        with contextlib.suppress(FileNotFoundError):
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise StateError(
                    f"{path} holds the setup code but is accessible to other users "
                    f"(mode {mode & 0o777:o}): chmod 600 it"
                )
        document = read_json(path)
        if document is None:
            return None
        if not isinstance(document, dict):
            raise StateError(f"{path} is corrupt: not a JSON object")
        if document.get("version") != FACTORY_VERSION:
            raise StateError(f"{path} has version {document.get('version')!r}; this device_sdk reads {FACTORY_VERSION}")
        values: dict[str, Any] = {}
        for name in _FIELDS:
            value = document.get(name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise StateError(f"{path} is corrupt: {name} is missing or not an integer")
            values[name] = value
        try:
            return cls(**values)
        except ConfigError as exc:
            raise StateError(f"{path} is corrupt: {exc}") from None

    def save(self, state_dir: Path) -> None:
        """Write the factory data (0600, atomically) into ``state_dir``."""
        ensure_dir(Path(state_dir))
        document: dict[str, int] = {"version": FACTORY_VERSION}
        document.update({name: getattr(self, name) for name in _FIELDS})
        write_json(self.path(state_dir), document)

    @classmethod
    def load_or_create(
        cls,
        state_dir: Path,
        *,
        passcode: int | None = None,
        discriminator: int | None = None,
        vendor_id: int | None = None,
        product_id: int | None = None,
        flow: int | None = None,
        override: bool = False,
    ) -> FactoryData:
        """The device's factory data: the stored one, or a new one created and stored now.

        When none is stored, the given values are validated and used; a missing passcode or
        discriminator is drawn with a CSPRNG, vendor/product default to 0xFFF1/0x8000 and the flow
        to standard. When one is stored, it is returned unchanged; a given value that differs
        from the stored one raises :class:`ConfigError` (the printed sticker would no longer
        match) unless ``override`` is true, which replaces the stored data with a new one built
        from the given values as above.
        """
        given = {
            "passcode": passcode,
            "discriminator": discriminator,
            "vendor_id": vendor_id,
            "product_id": product_id,
            "flow": flow,
        }
        existing = None if override else cls.load(state_dir)
        if existing is not None:
            conflicts = [n for n, v in given.items() if v is not None and v != getattr(existing, n)]
            if conflicts:
                raise ConfigError(
                    f"the device's factory data ({cls.path(state_dir)}) already hold another "
                    f"{' and '.join(conflicts)}, and are kept for life so that the printed sticker stays valid: "
                    "use another code for one run only (`device-sdk run --setup-code`), or delete the file "
                    "to provision the device anew"
                )
            return existing
        created = cls(
            passcode=generate_passcode() if passcode is None else passcode,
            discriminator=generate_discriminator() if discriminator is None else discriminator,
            vendor_id=DEFAULT_VENDOR_ID if vendor_id is None else vendor_id,
            product_id=DEFAULT_PRODUCT_ID if product_id is None else product_id,
            flow=FLOW_STANDARD if flow is None else flow,
        )
        created.save(state_dir)
        _log.info(
            "%s factory data in %s (discriminator %d)",
            "replaced" if override else "created",
            cls.path(state_dir),
            created.discriminator,
        )
        return created
