"""Page tokens: opaque, signed with the service's key, bound to the request that got them."""

import base64
import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from usersuite.platform.service.page_tokens import PageTokenCodec
from usersuite.users.domain.errors import InvalidPageToken

KEY = b"page-token-key-for-unit-tests-0123"
CODEC = PageTokenCodec(KEY)
FINGERPRINT = "page_size=10"


def raw_bytes(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def as_token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@given(cursor=st.integers(min_value=0, max_value=2**63 - 1), fingerprint=st.text(max_size=40))
def test_round_trip(cursor: int, fingerprint: str) -> None:
    assert CODEC.decode(CODEC.encode(cursor, fingerprint), fingerprint) == cursor


def test_token_is_url_safe_without_padding() -> None:
    token = CODEC.encode(123456, FINGERPRINT)

    assert token
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_token_does_not_show_the_cursor_as_plain_text() -> None:
    # Opaque to a casual reader: the cursor is inside a signed payload, not the token's text.
    assert "987654321" not in CODEC.encode(987654321, FINGERPRINT)


def test_every_tampered_byte_is_refused() -> None:
    raw = raw_bytes(CODEC.encode(42, FINGERPRINT))

    for index in range(len(raw)):
        for flip in (0x01, 0x80):
            altered = bytearray(raw)
            altered[index] ^= flip
            with pytest.raises(InvalidPageToken):
                CODEC.decode(as_token(bytes(altered)), FINGERPRINT)


def test_a_re_signed_cursor_is_refused_without_the_key() -> None:
    raw = raw_bytes(CODEC.encode(42, FINGERPRINT))
    forged_body = raw[16:].replace(b'"c":42', b'"c":99')
    assert forged_body != raw[16:]

    with pytest.raises(InvalidPageToken):
        CODEC.decode(as_token(raw[:16] + forged_body), FINGERPRINT)


def test_truncated_and_extended_tokens_are_refused() -> None:
    raw = raw_bytes(CODEC.encode(42, FINGERPRINT))

    for forged in (raw[:-1], raw[:16], raw[:10], raw + b"x", b"x" + raw):
        with pytest.raises(InvalidPageToken):
            CODEC.decode(as_token(forged), FINGERPRINT)


@pytest.mark.parametrize(
    "altered",
    [
        pytest.param(lambda t: t[:8] + "!!!!" + t[8:], id="non-alphabet-characters-inserted"),
        pytest.param(lambda t: t[:8] + "\n\n\n\n" + t[8:], id="newlines-inserted"),
    ],
)
def test_an_altered_token_text_is_refused_even_if_it_decodes_to_the_same_bytes(
    altered: Callable[[str], str],
) -> None:
    # user.proto: "a token that was altered ... fails with ... INVALID_PAGE_TOKEN". A token
    # is only valid in exactly the form the service issued it.
    token = CODEC.encode(42, FINGERPRINT)

    with pytest.raises(InvalidPageToken):
        CODEC.decode(altered(token), FINGERPRINT)


def test_a_token_signed_with_another_key_is_refused() -> None:
    other = PageTokenCodec(b"another-key-of-enough-length-4567")

    with pytest.raises(InvalidPageToken):
        CODEC.decode(other.encode(42, FINGERPRINT), FINGERPRINT)


def test_a_token_for_another_request_is_refused() -> None:
    token = CODEC.encode(42, "page_size=10")

    with pytest.raises(InvalidPageToken, match="other parameters"):
        CODEC.decode(token, "page_size=20")


@pytest.mark.parametrize(
    "garbage",
    ["", "a", "abc", "not a token", "%%%%", "é", "=" * 8, "AAAA" * 16, as_token(b"\x00" * 40)],
)
def test_garbage_is_refused(garbage: str) -> None:
    with pytest.raises(InvalidPageToken):
        CODEC.decode(garbage, FINGERPRINT)


@given(st.text(max_size=80))
def test_arbitrary_text_never_raises_anything_but_invalid_page_token(text: str) -> None:
    with contextlib.suppress(InvalidPageToken):
        CODEC.decode(text, FINGERPRINT)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        PageTokenCodec(b"too short")
