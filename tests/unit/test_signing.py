"""Request signing: the wire format, and every way SignatureVerifier accepts or rejects a call."""

import hashlib
import hmac

import pytest

from tests.support.clock import ManualClock
from usersuite.platform.grpc.auth.signing import (
    KEY_ID,
    NONCE,
    SIGNATURE,
    TIMESTAMP,
    SignatureVerifier,
    sign_request,
)
from usersuite.platform.grpc.errors import Unauthenticated
from usersuite.platform.service.request_context import Principal

METHOD = "/user.v1.UserService/GetUser"
BODY = b"\n\x0busers/ada-1"
KEY_ID_A = "svc-a"
KEY_A = b"signing-key-of-svc-a-0123456789abcdef"
SCOPES = frozenset({"users.read"})
NOW = 1_700_000_000.0
SKEW = 300.0


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def verifier(clock: ManualClock) -> SignatureVerifier:
    return SignatureVerifier(
        {KEY_ID_A: KEY_A}, scopes=SCOPES, max_skew_seconds=SKEW, nonce_cache_size=3, clock=clock
    )


def signed(
    *,
    method: str = METHOD,
    body: bytes = BODY,
    key_id: str = KEY_ID_A,
    key: bytes = KEY_A,
    timestamp: float = NOW,
    nonce: str = "nonce-0001",
) -> dict[str, str]:
    return dict(sign_request(method, body, key_id, key, timestamp=timestamp, nonce=nonce))


def rejection(verifier: SignatureVerifier, metadata: dict[str, str], body: bytes = BODY) -> str:
    """The Unauthenticated message; asserts it gives away neither the key nor the signature."""
    with pytest.raises(Unauthenticated) as caught:
        verifier.verify(METHOD, metadata, body)
    message = caught.value.message
    assert KEY_A.decode() not in message
    if metadata.get(SIGNATURE):
        assert metadata[SIGNATURE] not in message
    return message


def test_metadata_matches_the_documented_wire_format() -> None:
    metadata = sign_request(METHOD, BODY, KEY_ID_A, KEY_A, timestamp=NOW + 0.9, nonce="nonce-0001")

    # Computed here from the module docstring, independently of the implementation.
    canonical = f"{METHOD}\n1700000000\nnonce-0001\n{hashlib.sha256(BODY).hexdigest()}"
    expected = hmac.new(KEY_A, canonical.encode(), hashlib.sha256).hexdigest()
    assert metadata == [
        ("x-usersuite-key-id", "svc-a"),
        ("x-usersuite-timestamp", "1700000000"),
        ("x-usersuite-nonce", "nonce-0001"),
        ("x-usersuite-signature", expected),
    ]


def test_defaults_are_now_and_a_fresh_nonce_each_call() -> None:
    first = dict(sign_request(METHOD, BODY, KEY_ID_A, KEY_A))
    second = dict(sign_request(METHOD, BODY, KEY_ID_A, KEY_A))

    assert first[NONCE] != second[NONCE]
    SignatureVerifier({KEY_ID_A: KEY_A}, scopes=SCOPES).verify(METHOD, first, BODY)


def test_valid_signature_gives_the_signer_principal(verifier: SignatureVerifier) -> None:
    principal = verifier.verify(METHOD, signed(), BODY)

    assert principal == Principal(subject="signer:svc-a", scopes=SCOPES, method="signature")


def test_has_signature_only_when_the_signature_is_present(verifier: SignatureVerifier) -> None:
    assert verifier.has_signature({SIGNATURE: "00"})
    assert not verifier.has_signature({KEY_ID: KEY_ID_A, TIMESTAMP: "1", NONCE: "nonce-0001"})
    assert not verifier.has_signature({"authorization": "Bearer x"})


@pytest.mark.parametrize("absent", [KEY_ID, TIMESTAMP, NONCE])
def test_missing_metadata_is_named(verifier: SignatureVerifier, absent: str) -> None:
    metadata = signed()
    del metadata[absent]

    assert absent in rejection(verifier, metadata)


def test_unknown_key_id(verifier: SignatureVerifier) -> None:
    message = rejection(verifier, signed(key_id="svc-b", key=b"some-other-key-0123456789abcdef"))

    assert "unknown" in message
    assert "svc-b" in message


def test_known_key_id_with_the_wrong_key(verifier: SignatureVerifier) -> None:
    assert "does not match" in rejection(verifier, signed(key=b"not-the-key-of-svc-a-012345678"))


def test_tampered_body(verifier: SignatureVerifier) -> None:
    assert "does not match" in rejection(verifier, signed(), body=BODY + b"\x10\x01")


def test_signature_for_another_method(verifier: SignatureVerifier) -> None:
    metadata = signed(method="/user.v1.UserService/DeleteUser")

    assert "does not match" in rejection(verifier, metadata)


@pytest.mark.parametrize(("name", "value"), [(TIMESTAMP, str(int(NOW) + 1)), (NONCE, "nonce-0002")])
def test_signed_metadata_cannot_be_changed(
    verifier: SignatureVerifier, name: str, value: str
) -> None:
    metadata = signed()
    metadata[name] = value

    assert "does not match" in rejection(verifier, metadata)


@pytest.mark.parametrize("offset", [-SKEW - 1, SKEW + 1])
def test_timestamp_outside_the_skew_window(verifier: SignatureVerifier, offset: float) -> None:
    message = rejection(verifier, signed(timestamp=NOW + offset))

    assert "timestamp" in message


@pytest.mark.parametrize("offset", [-SKEW, SKEW])
def test_timestamp_at_the_edge_of_the_window(verifier: SignatureVerifier, offset: float) -> None:
    verifier.verify(METHOD, signed(timestamp=NOW + offset), BODY)


@pytest.mark.parametrize("value", ["1700000000.5", "-1700000000", " 1700000000", "abc", "1e9"])
def test_timestamp_must_be_whole_unix_seconds(verifier: SignatureVerifier, value: str) -> None:
    metadata = signed()
    metadata[TIMESTAMP] = value

    assert TIMESTAMP in rejection(verifier, metadata)


@pytest.mark.parametrize("nonce", ["short", "x" * 129, "has space1", "new\nline1"])
def test_malformed_nonce(verifier: SignatureVerifier, nonce: str) -> None:
    assert NONCE in rejection(verifier, signed(nonce=nonce))


@pytest.mark.parametrize("signature", ["zz" * 32, "ab" * 31, "ab" * 33, "é" * 64])
def test_malformed_signature(verifier: SignatureVerifier, signature: str) -> None:
    metadata = signed()
    metadata[SIGNATURE] = signature

    assert SIGNATURE in rejection(verifier, metadata)


def test_signature_hex_case_does_not_matter(verifier: SignatureVerifier) -> None:
    metadata = signed()
    metadata[SIGNATURE] = metadata[SIGNATURE].upper()

    verifier.verify(METHOD, metadata, BODY)


def test_replayed_nonce_is_rejected(verifier: SignatureVerifier, clock: ManualClock) -> None:
    metadata = signed()
    verifier.verify(METHOD, metadata, BODY)
    clock.now += SKEW  # the timestamp is still acceptable, so the nonce must be remembered

    assert "already used" in rejection(verifier, metadata)


def test_replay_with_a_fresh_signature_and_same_nonce_is_rejected(
    verifier: SignatureVerifier,
) -> None:
    verifier.verify(METHOD, signed(), BODY)

    assert "already used" in rejection(verifier, signed(timestamp=NOW + 1))


def test_nonces_are_per_key(clock: ManualClock) -> None:
    key_b = b"signing-key-of-svc-b-0123456789abcdef"
    verifier = SignatureVerifier({KEY_ID_A: KEY_A, "svc-b": key_b}, scopes=SCOPES, clock=clock)
    verifier.verify(METHOD, signed(), BODY)

    principal = verifier.verify(METHOD, signed(key_id="svc-b", key=key_b), BODY)

    assert principal.subject == "signer:svc-b"


def test_rejected_calls_do_not_burn_the_nonce(verifier: SignatureVerifier) -> None:
    rejection(verifier, signed(), body=b"tampered")

    verifier.verify(METHOD, signed(), BODY)


def test_replay_after_the_window_is_rejected_as_stale(
    verifier: SignatureVerifier, clock: ManualClock
) -> None:
    old = signed(nonce="nonce-old1")
    verifier.verify(METHOD, old, BODY)
    clock.now += SKEW + 1

    assert "timestamp" in rejection(verifier, old)


def test_nonce_cache_is_bounded_and_forgets_the_oldest_first(verifier: SignatureVerifier) -> None:
    nonces = [f"nonce-000{i}" for i in range(4)]  # the cache holds 3
    for nonce in nonces:
        verifier.verify(METHOD, signed(nonce=nonce), BODY)

    for nonce in nonces[1:]:
        assert "already used" in rejection(verifier, signed(nonce=nonce))
    # The documented trade-off of a bounded cache: the evicted, oldest nonce is accepted again.
    verifier.verify(METHOD, signed(nonce=nonces[0]), BODY)
