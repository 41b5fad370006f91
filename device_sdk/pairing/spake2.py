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

from ..errors import InvalidArgument, PairingError

__all__ = [
    "IDENTITY",
    "InvalidPoint",
    "L",
    "M",
    "N",
    "Spake2",
    "Spake2Keys",
    "Spake2Share",
    "Spake2SharePool",
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

#: One point of order 8 (the one with positive x); its multiples are the 8 points of small order.
_T8 = bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05")

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
        raise InvalidArgument("a PSK is a non-negative integer")
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


def _small_order_points() -> frozenset[bytes]:
    """The canonical encodings of the 8 points of small order (the torsion subgroup)."""
    points = [IDENTITY]
    point = _T8
    while point != IDENTITY:
        points.append(point)
        point = _sodium.crypto_core_ed25519_add(point, _T8)
    if len(points) != 8:
        raise AssertionError("the order-8 constant does not generate the torsion subgroup")
    return frozenset(points)


SMALL_ORDER_POINTS = _small_order_points()


def validate_point(point: bytes) -> None:
    """Raise :class:`InvalidPoint` unless ``point`` is a canonical, on-curve, non-small-order encoding."""
    if len(point) != _POINT_BYTES:
        raise InvalidPoint(f"a point is {_POINT_BYTES} bytes, got {len(point)}")
    try:
        # crypto_core_ed25519_add decodes (rejecting off-curve encodings) and re-encodes
        # canonically: the sum with the identity differs from the input iff it was not canonical.
        canonical = _sodium.crypto_core_ed25519_add(point, IDENTITY)
    except (_NaclRuntimeError, _NaclError) as exc:
        raise InvalidPoint("the point is not on edwards25519") from exc
    if not hmac.compare_digest(canonical, point):
        raise InvalidPoint("the point encoding is not canonical")
    # A canonical encoding is of small order iff it is one of the 8 torsion points (the same test
    # as 8 * point == identity, without three point additions).
    if point in SMALL_ORDER_POINTS:
        raise InvalidPoint("the point is the identity or of small order")


@dataclass(frozen=True)
class Spake2Share:
    """One side's secret part of one SPAKE2 exchange, computed before the peer is known.

    The identities only enter the transcript, so a side can draw its scalar and compute its
    public value (and w times the peer's mask) ahead of time, off a pairing's critical path.
    A share must be used for one exchange only. Every field but ``role`` and ``public`` is secret.
    """

    role: Literal["A", "B"]
    w: int = field(repr=False)
    scalar: int = field(repr=False)
    public: bytes
    """pA = x*G + w*M (A) or pB = y*G + w*N (B)."""
    peer_mask: bytes = field(repr=False)
    """w*N for A, w*M for B: what is subtracted from the peer's public value."""

    @classmethod
    def generate(cls, role: Literal["A", "B"], password: bytes, *, scalar: int | None = None) -> Spake2Share:
        """A fresh share; ``scalar`` (1 <= scalar < L) is fixed only by tests, else drawn from a CSPRNG."""
        if role not in ("A", "B"):
            raise InvalidArgument(f"role must be 'A' or 'B', not {role!r}")
        if scalar is None:
            scalar = 1 + secrets.randbelow(L - 1)
        elif not 1 <= scalar < L:
            raise InvalidArgument("the SPAKE2 scalar must be in [1, L)")
        w = compute_w(password)
        own_mask, peer_mask = (M, N) if role == "A" else (N, M)
        public = _sodium.crypto_core_ed25519_add(_mul_base(scalar), _mul(w, own_mask))
        return cls(role=role, w=w, scalar=scalar, public=public, peer_mask=_mul(w, peer_mask))


class Spake2SharePool:
    """At most one share computed ahead for one role and password, handed out once.

    :meth:`take` returns the prepared share when the password matches (and forgets it), else
    computes one on the spot; :meth:`fill` prepares the next one when there is time.
    """

    def __init__(self, role: Literal["A", "B"]) -> None:
        self.role: Literal["A", "B"] = role
        self._password: bytes | None = None
        self._share: Spake2Share | None = None

    def __repr__(self) -> str:
        return f"Spake2SharePool(role={self.role!r}, ready={self._share is not None})"

    @property
    def ready(self) -> bool:
        return self._share is not None

    def fill(self, password: bytes) -> None:
        """Prepare a share for ``password`` unless one is ready."""
        if self._share is None or self._password != password:
            self._share = Spake2Share.generate(self.role, password)
            self._password = password

    def take(self, password: bytes) -> Spake2Share:
        """A share for ``password`` that nobody else gets."""
        share, self._share = self._share, None
        ready_for = self._password
        self._password = None
        if share is not None and ready_for == password:
            return share
        return Spake2Share.generate(self.role, password)


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
        self._bind(Spake2Share.generate(role, password, scalar=scalar), id_a, id_b)

    @classmethod
    def from_share(cls, share: Spake2Share, id_a: bytes, id_b: bytes) -> Spake2:
        """The side of an exchange between ``id_a`` and ``id_b`` that uses a prepared ``share``."""
        side = cls.__new__(cls)
        side._bind(share, id_a, id_b)
        return side

    def _bind(self, share: Spake2Share, id_a: bytes, id_b: bytes) -> None:
        self._role: Literal["A", "B"] = share.role
        self._id_a = id_a
        self._id_b = id_b
        self._w = share.w
        self._x = share.scalar
        self._public = share.public
        self._peer_mask = share.peer_mask

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
        unmasked = _sodium.crypto_core_ed25519_sub(peer_public, self._peer_mask)
        try:
            # Every honest peer's unmasked point is in the prime-order subgroup, where
            # x * (8 * U) = (8x mod L) * U: one multiplication. libsodium refuses any other U
            # (a torsion component, small order), which takes the general path below.
            k = _sodium.crypto_scalarmult_ed25519_noclamp(_scalar(8 * self._x), unmasked)
        except (_NaclRuntimeError, _NaclError):
            cleared = _times8(unmasked)
            if cleared == IDENTITY:
                # pB - w*N has small order: the peer used our w to send a point with no secret part.
                raise InvalidPoint("the unmasked point is of small order") from None
            k = _mul(self._x, cleared)
        if self._role == "A":
            tt = transcript(self._id_a, self._id_b, self._public, peer_public, k, self._w)
        else:
            tt = transcript(self._id_a, self._id_b, peer_public, self._public, k, self._w)
        return key_schedule(tt)
