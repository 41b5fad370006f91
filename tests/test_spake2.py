"""SPAKE2 on edwards25519: RFC 9382 key schedule vectors, an independent RFC 8032 reference, rejection."""

from __future__ import annotations

import hashlib
import random

import pytest
from nacl import bindings as nacl_bindings
from nacl.exceptions import RuntimeError as NaclRuntimeError

from device_sdk.errors import PairingError
from device_sdk.pairing import spake2
from device_sdk.pairing.spake2 import (
    IDENTITY,
    InvalidPoint,
    L,
    Spake2,
    Spake2Share,
    Spake2SharePool,
    compute_w,
    key_schedule,
    password_from_psk,
    transcript,
    validate_point,
    verify_confirmation,
)

# RFC 9382 appendix B (SPAKE2-P256-SHA256-HKDF-HMAC-SHA256), copied from the RFC so that the test
# depends on no file outside the repository.
RFC9382_P256_VECTORS: list[dict[str, str]] = [
    {
        "A": "server",
        "B": "client",
        "w": "2ee57912099d31560b3a44b1184b9b4866e904c49d12ac5042c97dca461b1a5f",
        "pA": (
            "04a56fa807caaa53a4d28dbb9853b9815c61a411118a6fe516a8798434751470"
            "f9010153ac33d0d5f2047ffdb1a3e42c9b4e6be662766e1eeb4116988ede5f91"
            "2c"
        ),
        "pB": (
            "0406557e482bd03097ad0cbaa5df82115460d951e3451962f1eaf4367a420676"
            "d09857ccbc522686c83d1852abfa8ed6e4a1155cf8f1543ceca528afb591a1e0"
            "b7"
        ),
        "K": (
            "0412af7e89717850671913e6b469ace67bd90a4df8ce45c2af19010175e37eed"
            "69f75897996d539356e2fa6a406d528501f907e04d97515fbe83db277b715d33"
            "25"
        ),
        "HashTT": "0e0672dc86f8e45565d338b0540abe6915bdf72e2b35b5c9e5663168e960a91b",
        "Ke": "0e0672dc86f8e45565d338b0540abe69",
        "Ka": "15bdf72e2b35b5c9e5663168e960a91b",
        "KcA": "00c12546835755c86d8c0db7851ae86f",
        "KcB": "a9fa3406c3b781b93d804485430ca27a",
        "cA": "58ad4aa88e0b60d5061eb6b5dd93e80d9c4f00d127c65b3b35b1b5281fee38f0",
        "cB": "d3e2e547f1ae04f2dbdbf0fc4b79f8ecff2dff314b5d32fe9fcef2fb26dc459b",
    },
    {
        "A": "",
        "B": "client",
        "w": "0548d8729f730589e579b0475a582c1608138ddf7054b73b5381c7e883e2efae",
        "pA": (
            "04a897b769e681c62ac1c2357319a3d363f610839c4477720d24cbe32f5fd85f"
            "44fb92ba966578c1b712be6962498834078262caa5b441ecfa9d4a9485720e91"
            "8a"
        ),
        "pB": (
            "04e0f816fd1c35e22065d5556215c097e799390d16661c386e0ecc84593974a6"
            "1b881a8c82327687d0501862970c64565560cb5671f696048050ca66ca5f8cc7"
            "fc"
        ),
        "K": (
            "048f83ec9f6e4f87cc6f9dc740bdc2769725f923364f01c84148c049a39a735e"
            "bda82eac03e00112fd6a5710682767cff5361f7e819e53d8d3c3a2922e0d837a"
            "a6"
        ),
        "HashTT": "642f05c473c2cd79909f9a841e2f30a70bf89b18180af97353ba198789c2b963",
        "Ke": "642f05c473c2cd79909f9a841e2f30a7",
        "Ka": "0bf89b18180af97353ba198789c2b963",
        "KcA": "c6be376fc7cd1301fd0a13adf3e7bffd",
        "KcB": "b7243f4ae60440a49b3f8cab3c1fba07",
        "cA": "47d29e6666af1b7dd450d571233085d7a9866e4d49d2645e2df975489521232b",
        "cB": "3313c5cefc361d27fb16847a91c2a73b766ffa90a4839122a9b70a2f6bd1d6df",
    },
    {
        "A": "server",
        "B": "",
        "w": "626e0cdc7b14c9db3e52a0b1b3a768c98e37852d5db30febe0497b14eae8c254",
        "pA": (
            "04f88fb71c99bfffaea370966b7eb99cd4be0ff1a7d335caac4211c4afd855e2"
            "e15a873b298503ad8ba1d9cbb9a392d2ba309b48bfd7879aefd0f2cea6009763"
            "b0"
        ),
        "pB": (
            "040c269d6be017dccb15182ac6bfcd9e2a14de019dd587eaf4bdfd353f031101"
            "e7cca177f8eb362a6e83e7d5e729c0732e1b528879c086f39ba0f31a9661bd34"
            "db"
        ),
        "K": (
            "0445ee233b8ecb51ebd6e7da3f307e88a1616bae2166121221fdc0dadb986afa"
            "f3ec8a988dc9c626fa3b99f58a7ca7c9b844bb3e8dd9554aafc5b53813504c1c"
            "be"
        ),
        "HashTT": "005184ff460da2ce59062c87733c299c3521297d736598fc0a1127600efa1afb",
        "Ke": "005184ff460da2ce59062c87733c299c",
        "Ka": "3521297d736598fc0a1127600efa1afb",
        "KcA": "f3da53604f0aeecea5a33be7bddf6edf",
        "KcB": "9e3f86848736f159bd92b6e107ec6799",
        "cA": "bc9f9bbe99f26d0b2260e6456e05a86196a3307ec6663a18bf6ac825736533b2",
        "cB": "c2370e1bf813b086dff0d834e74425a06e6390f48f5411900276dcccc5a297ec",
    },
    {
        "A": "",
        "B": "",
        "w": "7bf46c454b4c1b25799527d896508afd5fc62ef4ec59db1efb49113063d70cca",
        "pA": (
            "04a65b367a3f613cf9f0654b1b28a1e3a8a40387956c8ba6063e8658563890f4"
            "6ca1ef6a676598889fc28de2950ab8120b79a5ef1ea4c9f44bc98f585634b46d"
            "66"
        ),
        "pB": (
            "04589f13218822710d98d8b2123a079041052d9941b9cf88c6617ddb2fcc0494"
            "662eea8ba6b64692dc318250030c6af045cb738bc81ba35b043c3dcb46adf6f5"
            "8d"
        ),
        "K": (
            "041a3c03d51b452537ca2a1fea6110353c6d5ed483c4f0f86f4492ca3f378d40"
            "a994b4477f93c64d928edbbcd3e85a7c709b7ea73ee97986ce3d1438e1355437"
            "72"
        ),
        "HashTT": "fc6374762ba5cf11f4b2caa08b2cd1b9907ae0e26e8d6234318d91583cd74c86",
        "Ke": "fc6374762ba5cf11f4b2caa08b2cd1b9",
        "Ka": "907ae0e26e8d6234318d91583cd74c86",
        "KcA": "5dbd2f477166b7fb6d61febbd77a5563",
        "KcB": "7689b4654407a5faeffdc8f18359d8a3",
        "cA": "dfb4db8d48ae5a675963ea5e6c19d98d4ea028d8e898dad96ea19a80ade95dca",
        "cB": "d0f0609d1613138d354f7e95f19fb556bf52d751947241e8c7118df5ef0ae175",
    },
]

# -- an independent pure-Python edwards25519 (RFC 8032 section 5.1), extended coordinates ------

P = 2**255 - 19
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)
RefPoint = tuple[int, int, int, int]
REF_IDENTITY: RefPoint = (0, 1, 1, 0)


def ref_add(a: RefPoint, b: RefPoint) -> RefPoint:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % P
    bb = (y1 + x1) * (y2 + x2) % P
    cc = 2 * t1 * t2 * D % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def ref_double(a: RefPoint) -> RefPoint:
    x1, y1, z1, _ = a
    aa = x1 * x1 % P
    bb = y1 * y1 % P
    cc = 2 * z1 * z1 % P
    h = aa + bb
    e = h - (x1 + y1) * (x1 + y1)
    g = aa - bb
    f = cc + g
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def ref_mul(s: int, a: RefPoint) -> RefPoint:
    result = REF_IDENTITY
    while s > 0:
        if s & 1:
            result = ref_add(result, a)
        a = ref_double(a)
        s >>= 1
    return result


def ref_neg(a: RefPoint) -> RefPoint:
    x, y, z, t = a
    return (-x % P, y, z, -t % P)


def ref_equal(a: RefPoint, b: RefPoint) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def ref_encode(a: RefPoint) -> bytes:
    zinv = pow(a[2], P - 2, P)
    x, y = a[0] * zinv % P, a[1] * zinv % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def ref_recover_x(y: int, sign: int) -> int | None:
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def ref_decode(data: bytes) -> RefPoint | None:
    """Strict RFC 8032 decoding: None for non-canonical or off-curve encodings."""
    value = int.from_bytes(data, "little")
    y, sign = value & ((1 << 255) - 1), value >> 255
    x = ref_recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def ref_point(data: bytes) -> RefPoint:
    point = ref_decode(data)
    assert point is not None
    return point


REF_G = ref_point(bytes.fromhex("58" + "66" * 31))


# The point of order 8 with positive x; its multiples are the 8 torsion points.
T8 = ref_point(bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"))
TORSION = [ref_encode(ref_mul(k, T8)) for k in range(8)]


def le(value: int) -> bytes:
    return value.to_bytes(32, "little")


# -- constants ---------------------------------------------------------------------------------


def test_torsion_reference_is_sound() -> None:
    assert ref_equal(ref_mul(8, T8), REF_IDENTITY)
    assert not ref_equal(ref_mul(4, T8), REF_IDENTITY)
    assert len(set(TORSION)) == 8
    assert TORSION[0] == IDENTITY
    assert ref_equal(ref_mul(L, REF_G), REF_IDENTITY)


@pytest.mark.parametrize(("name", "value"), [("M", spake2.M), ("N", spake2.N)])
def test_m_and_n_are_the_rfc9382_points(name: str, value: bytes) -> None:
    # They decode to canonical points of the prime-order subgroup, per libsodium and the reference.
    import nacl.bindings as sodium

    assert sodium.crypto_core_ed25519_is_valid_point(value)
    point = ref_point(value)
    assert ref_encode(point) == value
    assert ref_equal(ref_mul(L, point), REF_IDENTITY)
    # And they are what RFC 9382's generator yields for its seed: the first 32 bytes of the
    # iterated SHA-256 of the seed that decode to such a point.
    seed = f"edwards25519 point generation seed ({name})".encode()
    for i in range(1, 1000):
        candidate = seed
        for _ in range(i):
            candidate = hashlib.sha256(candidate).digest()
        decoded = ref_decode(candidate)
        if decoded is not None and ref_equal(ref_mul(L, decoded), REF_IDENTITY):
            assert candidate == value
            break
    else:
        pytest.fail("no point found from the seed")


# -- key schedule against RFC 9382 appendix B (P-256, but the schedule is group independent) ----


def load_vectors() -> list[dict[str, str]]:
    return RFC9382_P256_VECTORS


@pytest.mark.parametrize("vector", load_vectors(), ids=lambda v: f"A={v['A']!r},B={v['B']!r}")
def test_key_schedule_rfc9382_vectors(vector: dict[str, str]) -> None:
    tt = transcript(
        vector["A"].encode(),
        vector["B"].encode(),
        bytes.fromhex(vector["pA"]),
        bytes.fromhex(vector["pB"]),
        bytes.fromhex(vector["K"]),
        int(vector["w"], 16),
    )
    assert hashlib.sha256(tt).hexdigest() == vector["HashTT"]
    keys = key_schedule(tt)
    assert keys.ke.hex() == vector["Ke"]
    assert keys.ka.hex() == vector["Ka"]
    assert keys.kca.hex() == vector["KcA"]
    assert keys.kcb.hex() == vector["KcB"]
    assert keys.confirm_a.hex() == vector["cA"]
    assert keys.confirm_b.hex() == vector["cB"]


def test_vectors_file_has_all_four() -> None:
    assert len(load_vectors()) == 4


def test_transcript_layout() -> None:
    tt = transcript(b"a", b"", b"P" * 32, b"Q" * 32, b"K" * 32, 1)
    assert tt[:9] == (1).to_bytes(8, "little") + b"a"
    assert tt[9:17] == bytes(8)
    assert tt[-40:] == (32).to_bytes(8, "little") + bytes(31) + b"\x01"
    assert len(tt) == 6 * 8 + 1 + 0 + 32 * 4


def test_compute_w_and_password() -> None:
    assert password_from_psk(20202021) == b"20202021"
    assert password_from_psk(0) == b"0"
    with pytest.raises(ValueError):
        password_from_psk(-1)
    digest = hashlib.sha512(b"20202021").digest()
    assert compute_w(b"20202021") == int.from_bytes(digest, "little") % L
    assert compute_w(b"20202021") != int.from_bytes(digest, "big") % L


def test_keys_repr_hides_secrets() -> None:
    keys = key_schedule(b"x")
    text = repr(keys)
    for secret in (keys.ke, keys.ka, keys.kca, keys.kcb, keys.confirm_a, keys.confirm_b):
        assert secret.hex() not in text
    assert "20202021" not in repr(Spake2("A", b"20202021", b"a", b"b"))


# -- the edwards25519 operations against the reference ----------------------------------------

ID_A = bytes(range(32))
ID_B = bytes(range(32, 64))


def test_exchange_matches_reference_on_random_scalars() -> None:
    rng = random.Random(9382)
    m, n = ref_point(spake2.M), ref_point(spake2.N)
    for _ in range(4):
        x, y = rng.randrange(1, L), rng.randrange(1, L)
        password = str(rng.randrange(100_000_000)).encode()
        w = compute_w(password)
        a = Spake2("A", password, ID_A, ID_B, scalar=x)
        b = Spake2("B", password, ID_A, ID_B, scalar=y)
        ref_pa = ref_add(ref_mul(x, REF_G), ref_mul(w, m))
        ref_pb = ref_add(ref_mul(y, REF_G), ref_mul(w, n))
        assert a.public_value == ref_encode(ref_pa)
        assert b.public_value == ref_encode(ref_pb)
        ref_k = ref_mul(x, ref_mul(8, ref_add(ref_pb, ref_neg(ref_mul(w, n)))))
        assert ref_equal(ref_k, ref_mul(y, ref_mul(8, ref_add(ref_pa, ref_neg(ref_mul(w, m))))))
        expected = key_schedule(transcript(ID_A, ID_B, a.public_value, b.public_value, ref_encode(ref_k), w))
        assert a.finish(b.public_value) == expected
        assert b.finish(a.public_value) == expected


def test_both_sides_agree_and_confirmations_verify() -> None:
    a = Spake2("A", b"20202021", ID_A, ID_B)
    b = Spake2("B", b"20202021", ID_A, ID_B)
    ka, kb = a.finish(b.public_value), b.finish(a.public_value)
    assert ka == kb
    assert len(ka.ke) == 16 and len(ka.confirm_a) == 32
    assert verify_confirmation(kb.confirm_a, ka.confirm_a)
    assert not verify_confirmation(kb.confirm_a, ka.confirm_b)


def test_wrong_password_gives_different_keys() -> None:
    a = Spake2("A", b"20202021", ID_A, ID_B)
    b = Spake2("B", b"20202022", ID_A, ID_B)
    ka, kb = a.finish(b.public_value), b.finish(a.public_value)
    assert ka.ke != kb.ke
    assert not verify_confirmation(kb.confirm_a, ka.confirm_a)


def test_other_identities_give_different_keys() -> None:
    a = Spake2("A", b"1", ID_A, ID_B)
    b = Spake2("B", b"1", ID_A, ID_A)  # a man in the middle presented another certificate
    assert a.finish(b.public_value) != b.finish(a.public_value)


def test_scalar_and_role_validation() -> None:
    with pytest.raises(ValueError):
        Spake2("A", b"1", ID_A, ID_B, scalar=0)
    with pytest.raises(ValueError):
        Spake2("A", b"1", ID_A, ID_B, scalar=L)
    with pytest.raises(ValueError):
        Spake2("C", b"1", ID_A, ID_B)  # type: ignore[arg-type]


# -- rejection of bad points -------------------------------------------------------------------


@pytest.mark.parametrize("index", range(8))
def test_torsion_points_rejected(index: int) -> None:
    b = Spake2("B", b"1", ID_A, ID_B)
    with pytest.raises(InvalidPoint):
        b.finish(TORSION[index])
    assert issubclass(InvalidPoint, PairingError)


def non_canonical_encodings() -> list[bytes]:
    out = []
    for y in range(19):  # y + p still fits in 255 bits
        for sign in (0, 1):
            if ref_recover_x(y, sign) is not None:
                out.append(((y + P) | (sign << 255)).to_bytes(32, "little"))
    # x = 0 with the sign bit set: (0, 1) and (0, -1)
    out.append((1 | (1 << 255)).to_bytes(32, "little"))
    out.append(((P - 1) | (1 << 255)).to_bytes(32, "little"))
    return out


def test_non_canonical_encodings_rejected() -> None:
    encodings = non_canonical_encodings()
    assert len(encodings) >= 4
    b = Spake2("B", b"1", ID_A, ID_B)
    for encoding in encodings:
        with pytest.raises(InvalidPoint):
            b.finish(encoding)


def test_non_canonical_encoding_of_a_large_order_point_rejected() -> None:
    # A point with y < 19 and a large order exists; its y + p encoding is the interesting case.
    found = False
    for y in range(19):
        x = ref_recover_x(y, 0)
        if x is None:
            continue
        point = (x, y, 1, x * y % P)
        if ref_equal(ref_mul(8, point), REF_IDENTITY):
            continue
        found = True
        validate_point(ref_encode(point))  # the canonical form is accepted
        with pytest.raises(InvalidPoint, match="canonical"):
            validate_point((y + P).to_bytes(32, "little"))
    assert found


def test_off_curve_and_wrong_length_rejected() -> None:
    rng = random.Random(1)
    off_curve = 0
    while off_curve < 5:
        candidate = rng.randbytes(32)
        if ref_decode(candidate) is None and int.from_bytes(candidate, "little") & ((1 << 255) - 1) < P:
            off_curve += 1
            with pytest.raises(InvalidPoint):
                validate_point(candidate)
    for bad in (b"", bytes(31), bytes(33), spake2.M + b"\x00"):
        with pytest.raises(InvalidPoint):
            validate_point(bad)


def test_mixed_order_point_is_accepted_and_torsion_is_cleared() -> None:
    password = b"20202021"
    a = Spake2("A", password, ID_A, ID_B, scalar=12345)
    b = Spake2("B", password, ID_A, ID_B, scalar=67890)
    tainted = ref_encode(ref_add(ref_point(a.public_value), T8))
    validate_point(tainted)
    # B's K is the same as without the torsion; only the transcript's pA differs.
    w = compute_w(password)
    k = ref_encode(ref_mul(67890, ref_mul(8, ref_add(ref_point(tainted), ref_neg(ref_mul(w, ref_point(spake2.M)))))))
    assert b.finish(tainted) == key_schedule(transcript(ID_A, ID_B, tainted, b.public_value, k, w))


def test_peer_sending_w_times_mask_is_rejected() -> None:
    password = b"4242"
    a = Spake2("A", password, ID_A, ID_B)
    w = compute_w(password)
    # pB = w*N + torsion: pB - w*N is of small order, K would carry no secret.
    forged = ref_encode(ref_add(ref_mul(w, ref_point(spake2.N)), T8))
    with pytest.raises(InvalidPoint):
        a.finish(forged)


def test_small_order_table_is_the_torsion_subgroup() -> None:
    assert frozenset(TORSION) == spake2.SMALL_ORDER_POINTS


def test_a_prepared_share_gives_the_same_exchange_as_a_fresh_side() -> None:
    password = b"20202021"
    share = Spake2Share.generate("B", password, scalar=67890)
    assert "67890" not in repr(share) and str(compute_w(password)) not in repr(share)
    prepared = Spake2.from_share(share, ID_A, ID_B)
    fresh = Spake2("B", password, ID_A, ID_B, scalar=67890)
    a = Spake2("A", password, ID_A, ID_B, scalar=12345)
    assert prepared.public_value == fresh.public_value == share.public
    assert prepared.finish(a.public_value) == fresh.finish(a.public_value) == a.finish(share.public)


def test_share_pool_hands_each_share_out_once() -> None:
    pool = Spake2SharePool("B")
    pool.fill(b"1")
    assert pool.ready
    first = pool.take(b"1")
    assert not pool.ready
    second = pool.take(b"1")  # none ready: computed on the spot, never the same one again
    assert first.scalar != second.scalar and first.public != second.public
    pool.fill(b"1")
    other = pool.take(b"2")  # prepared for another password: not used, and dropped
    assert other.w == compute_w(b"2") and not pool.ready
    with pytest.raises(ValueError):
        Spake2Share.generate("C", b"1")


def test_fast_path_relies_on_libsodium_refusing_points_outside_the_prime_order_subgroup() -> None:
    # finish() computes K = (8x mod L) * U in one multiplication and counts on libsodium to refuse
    # any U with a torsion component (for such a U the shortcut would give a different K).
    mixed = ref_encode(ref_add(ref_mul(12345, REF_G), T8))
    with pytest.raises(NaclRuntimeError):
        nacl_bindings.crypto_scalarmult_ed25519_noclamp((999).to_bytes(32, "little"), mixed)
    # A scalar for which 8x wraps around L (8x mod L is then not a multiple of 8): the torsion
    # would survive a shortcut that libsodium did not refuse; the general path clears it.
    password = b"20202021"
    y = L - 3
    assert (8 * y) % L % 8 != 0
    a = Spake2("A", password, ID_A, ID_B, scalar=12345)
    b = Spake2("B", password, ID_A, ID_B, scalar=y)
    tainted = ref_encode(ref_add(ref_point(a.public_value), T8))
    w = compute_w(password)
    k = ref_encode(ref_mul(y, ref_mul(8, ref_add(ref_point(tainted), ref_neg(ref_mul(w, ref_point(spake2.M)))))))
    assert b.finish(tainted) == key_schedule(transcript(ID_A, ID_B, tainted, b.public_value, k, w))
