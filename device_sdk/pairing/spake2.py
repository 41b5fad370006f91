"""SPAKE2 (RFC 9382) on edwards25519 with the choices of the wire profile, section 5.

Cipher suite SPAKE2-edwards25519-SHA256-HKDF-HMAC-SHA256. Party A (the controller) uses M,
party B (the device) uses N. Identities are the 32-byte SPKI fingerprints of the TLS
certificates. All group arithmetic is libsodium's (through PyNaCl); this module only
combines it.

A received point is rejected (:class:`InvalidPoint`) when it is not 32 bytes, not a canonical
encoding, not on the curve, the identity or of small order. Points with a torsion component
(mixed order) are accepted as the profile asks: the cofactor multiplication in
``K = x * (8 * (pB - w*N))`` clears the torsion.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl import bindings as _sodium
from nacl.exceptions import CryptoError as _NaclError
from nacl.exceptions import RuntimeError as _NaclRuntimeError

from ..errors import PairingError

__all__ = [
    "IDENTITY",
    "InvalidPoint",
    "L",
    "M",
    "N",
    "Spake2",
    "Spake2Keys",
    "compute_w",
    "key_schedule",
    "password_from_psk",
    "transcript",
    "validate_point",
    "verify_confirmation",
]

#: Order of the prime-order subgroup of edwards25519.
L = 2**252 + 27742317777372353535851937790883648493

#: RFC 9382 section 6, edwards25519: seed "edwards25519 point generation seed (M)" / "(N)".
M = bytes.fromhex("d048032c6ea0b6d697ddc2e86bda85a33adac920f1bf18e1b0c6d166a5cecdaf")
N = bytes.fromhex("d3bfb518f44f3430f29d0c92af503865a1ed3281dc69b35dd868ba85f886c4ab")

#: RFC 8032 encoding of the neutral element (0, 1).
IDENTITY = b"\x01" + bytes(31)

_POINT_BYTES = 32
_CONFIRMATION_INFO = b"ConfirmationKeys"


class InvalidPoint(PairingError):
    """A received SPAKE2 public value is not an acceptable edwards25519 point."""


@dataclass(frozen=True)
class Spake2Keys:
    """The keys of one SPAKE2 exchange (RFC 9382 section 4). Every field is secret."""

    ke: bytes = field(repr=False)
    """Shared secret Ke (first half of SHA-256(TT))."""
    ka: bytes = field(repr=False)
    """Ka (second half of SHA-256(TT)), the key of the confirmation KDF."""
    kca: bytes = field(repr=False)
    """KcA, the MAC key of party A's confirmation."""
    kcb: bytes = field(repr=False)
    """KcB, the MAC key of party B's confirmation."""
    confirm_a: bytes = field(repr=False)
    """cA = HMAC-SHA-256(KcA, TT): what A sends and B expects."""
    confirm_b: bytes = field(repr=False)
    """cB = HMAC-SHA-256(KcB, TT): what B sends and A expects."""


def password_from_psk(value: int) -> bytes:
    """The SPAKE2 password for a numeric PSK: its ASCII decimal digits, no leading zeros."""
    if value < 0:
        raise ValueError("a PSK is a non-negative integer")
    return str(value).encode("ascii")


def compute_w(password: bytes) -> int:
    """w = SHA-512(password) read as a little-endian integer, reduced mod L."""
    return int.from_bytes(hashlib.sha512(password).digest(), "little") % L


def _prefixed(part: bytes) -> bytes:
    return len(part).to_bytes(8, "little") + part


def transcript(id_a: bytes, id_b: bytes, p_a: bytes, p_b: bytes, k: bytes, w: int) -> bytes:
    """TT of RFC 9382 section 3.3: each part preceded by its 8-byte little-endian length.

    ``w`` is written as a 32-byte big-endian integer.
    """
    return b"".join(_prefixed(part) for part in (id_a, id_b, p_a, p_b, k, w.to_bytes(32, "big")))


def key_schedule(tt: bytes) -> Spake2Keys:
    """Derive Ke, Ka, KcA, KcB, cA and cB from the transcript (independent of the group)."""
    digest = hashlib.sha256(tt).digest()
    half = len(digest) // 2
    ke, ka = digest[:half], digest[half:]
    kc = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_CONFIRMATION_INFO).derive(ka)
    kca, kcb = kc[:16], kc[16:]
    return Spake2Keys(
        ke=ke,
        ka=ka,
        kca=kca,
        kcb=kcb,
        confirm_a=hmac.new(kca, tt, hashlib.sha256).digest(),
        confirm_b=hmac.new(kcb, tt, hashlib.sha256).digest(),
    )


def verify_confirmation(expected: bytes, received: bytes) -> bool:
    """Compare a received confirmation MAC with the expected one in constant time."""
    return hmac.compare_digest(expected, received)


# -- group operations (libsodium) -------------------------------------------------------------


def _scalar(value: int) -> bytes:
    return (value % L).to_bytes(32, "little")


def _mul(value: int, point: bytes) -> bytes:
    """value * point for a point of the prime-order subgroup (the identity for value = 0 mod L)."""
    if value % L == 0:
        return IDENTITY
    return _sodium.crypto_scalarmult_ed25519_noclamp(_scalar(value), point)


def _mul_base(value: int) -> bytes:
    if value % L == 0:
        return IDENTITY
    return _sodium.crypto_scalarmult_ed25519_base_noclamp(_scalar(value))


def _times8(point: bytes) -> bytes:
    """8 * point by three doublings; works for any point on the curve (torsion included)."""
    for _ in range(3):
        point = _sodium.crypto_core_ed25519_add(point, point)
    return point


def validate_point(point: bytes) -> None:
    """Raise :class:`InvalidPoint` unless ``point`` is a canonical, on-curve, non-small-order encoding."""
    if len(point) != _POINT_BYTES:
        raise InvalidPoint(f"a point is {_POINT_BYTES} bytes, got {len(point)}")
    try:
        # crypto_core_ed25519_add decodes (rejecting off-curve encodings) and re-encodes
        # canonically: the sum with the identity differs from the input iff it was not canonical.
        canonical = _sodium.crypto_core_ed25519_add(point, IDENTITY)
        cleared = _times8(point)
    except (_NaclRuntimeError, _NaclError) as exc:
        raise InvalidPoint("the point is not on edwards25519") from exc
    if not hmac.compare_digest(canonical, point):
        raise InvalidPoint("the point encoding is not canonical")
    if cleared == IDENTITY:
        raise InvalidPoint("the point is the identity or of small order")


class Spake2:
    """One side of a SPAKE2 exchange.

    ``role`` "A" is the controller (uses M), "B" the device (uses N). ``scalar`` fixes the
    secret scalar (1 <= scalar < L) for tests; by default it is drawn from a CSPRNG.
    """

    def __init__(
        self,
        role: Literal["A", "B"],
        password: bytes,
        id_a: bytes,
        id_b: bytes,
        *,
        scalar: int | None = None,
    ) -> None:
        if role not in ("A", "B"):
            raise ValueError(f"role must be 'A' or 'B', not {role!r}")
        if scalar is None:
            scalar = 1 + secrets.randbelow(L - 1)
        elif not 1 <= scalar < L:
            raise ValueError("the SPAKE2 scalar must be in [1, L)")
        self._role: Literal["A", "B"] = role
        self._id_a = id_a
        self._id_b = id_b
        self._w = compute_w(password)
        self._x = scalar
        own_mask = M if role == "A" else N
        self._public = _sodium.crypto_core_ed25519_add(_mul_base(scalar), _mul(self._w, own_mask))

    def __repr__(self) -> str:
        return f"Spake2(role={self._role!r})"

    @property
    def role(self) -> Literal["A", "B"]:
        """Which party this side is."""
        return self._role

    @property
    def public_value(self) -> bytes:
        """This side's 32-byte public value: pA = x*G + w*M (A) or pB = y*G + w*N (B)."""
        return self._public

    def finish(self, peer_public: bytes) -> Spake2Keys:
        """Derive the keys from the peer's public value; :class:`InvalidPoint` if it is unacceptable."""
        validate_point(peer_public)
        peer_mask = N if self._role == "A" else M
        unmasked = _sodium.crypto_core_ed25519_sub(peer_public, _mul(self._w, peer_mask))
        cleared = _times8(unmasked)
        if cleared == IDENTITY:
            # pB - w*N has small order: the peer used our w to send a point with no secret part.
            raise InvalidPoint("the unmasked point is of small order")
        k = _mul(self._x, cleared)
        if self._role == "A":
            tt = transcript(self._id_a, self._id_b, self._public, peer_public, k, self._w)
        else:
            tt = transcript(self._id_a, self._id_b, peer_public, self._public, k, self._w)
        return key_schedule(tt)
