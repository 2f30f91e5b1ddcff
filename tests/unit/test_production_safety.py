"""Production refuses unsafe settings with one line naming each; redaction hides credentials."""

import json
from typing import Any

import pytest
from pydantic import ValidationError

from usersuite.platform.config import Settings, redact_url
from usersuite.platform.grpc.public_methods import public_methods

STRONG = "s" * 40
JWT = {"hs256_secret": STRONG, "issuer": "https://idp.example", "audience": "usersuite-api"}


def load(**values: Any) -> Settings:
    return Settings(**{"mode": "production", **values})


def refusal(**values: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        load(**values)
    (error,) = caught.value.errors()
    message = str(error["msg"])
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"auth": {"signing_keys": {"svc": "x"}}}, "auth.signing_keys['svc']"),
        ({"auth": {"signing_keys": {"svc": "dev-" + STRONG}}}, "auth.signing_keys['svc']"),
        ({"auth": {**JWT, "hs256_secret": "dev-" + STRONG}}, "auth.hs256_secret"),
        ({"auth": {**JWT, "jwks_url": "http://idp.example/jwks.json"}}, "auth.jwks_url"),
        ({"auth": {**JWT, "jwks_url": "file:///etc/jwks.json"}}, "auth.jwks_url"),
        ({"auth": {**JWT, "jwks_url": "ftp://idp.example/jwks"}}, "auth.jwks_url"),
        ({"auth": {"hs256_secret": STRONG, "audience": "api"}}, "auth.issuer"),
        ({"auth": {"jwks_file": "/keys.json", "issuer": "idp"}}, "auth.audience"),
        ({"listen": "0.0.0.0:50051"}, "listen 0.0.0.0:50051"),
        ({"listen": "10.1.2.3:50051"}, "tls.allow_plaintext"),
        ({"listen": "api.internal:50051"}, "tls.cert_file"),
    ],
    ids=[
        "short-signing-key",
        "dev-signing-key",
        "dev-hs256-secret",
        "http-jwks-url",
        "file-jwks-url",
        "ftp-jwks-url",
        "default-issuer",
        "default-audience",
        "plaintext-any-address",
        "plaintext-private-address",
        "plaintext-host-name",
    ],
)
def test_production_refuses_unsafe_settings_naming_them(
    values: dict[str, Any], setting: str
) -> None:
    message = refusal(**values)
    assert setting in message
    assert "dev-" + STRONG not in message


@pytest.mark.parametrize(
    "values",
    [
        {"auth": {**JWT, "jwks_url": "https://idp.example/jwks.json"}},
        {"auth": {**JWT, "jwks_url": "http://127.0.0.1:8080/jwks.json"}},
        {"auth": {**JWT, "jwks_url": "http://localhost:8080/jwks.json"}},
        {"auth": {"signing_keys": {"svc": STRONG}}},
        {"auth": {"hs256_secret": STRONG, "issuer": "usersuite", "audience": "usersuite"}},
        {"listen": "127.0.0.1:50051"},
        {"listen": "[::1]:50051"},
        {"listen": "0.0.0.0:50051", "tls": {"allow_plaintext": True}},
        {"listen": "0.0.0.0:50051", "tls": {"cert_file": "/tls.crt", "key_file": "/tls.key"}},
    ],
)
def test_production_accepts_safe_settings(values: dict[str, Any]) -> None:
    load(**values)


def test_dev_mode_allows_what_production_refuses() -> None:
    Settings(
        mode="dev",
        listen="0.0.0.0:50051",
        auth={"signing_keys": {"svc": "x"}, "jwks_url": "http://idp.example/jwks.json"},
    )


def test_production_wants_reflection_chosen_when_auth_is_on() -> None:
    settings = load(auth=JWT, page_token_secret=STRONG)
    with pytest.raises(ValueError, match=r"auth\.reflection"):
        settings.check_api_security()
    for choice in ("public", "authenticated"):
        load(auth={**JWT, "reflection": choice}, page_token_secret=STRONG).check_api_security()


def test_dev_mode_makes_reflection_public_unless_told() -> None:
    assert public_methods(Settings(mode="dev"))[-1].startswith("/grpc.reflection.")
    authenticated = Settings(mode="dev", auth={"reflection": "authenticated"})
    assert not any("reflection" in prefix for prefix in public_methods(authenticated))


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://h:4222?access_token=abc", "nats://h:4222?access_token=***"),
        ("https://idp/jwks?api_key=abc&x=1", "https://idp/jwks?api_key=***&x=1"),
        ("nats://h?credentials=abc", "nats://h?credentials=***"),
        ("https://h/?client_secret=abc", "https://h/?client_secret=***"),
        ("https://h/?token=abc", "https://h/?token=***"),
    ],
)
def test_credential_like_url_parameters_are_redacted(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redacted_settings_hide_credential_like_names_and_url_parameters() -> None:
    settings = Settings(
        mode="dev",
        nats_url="nats://h:4222?access_token=natsabc",
        auth={
            "jwks_url": "https://idp.example/jwks?key=jwksabc",
            "signing_keys": {"svc": "signabc" + STRONG},
        },
    )
    shown = settings.redacted()
    text = json.dumps(shown)
    for secret in ("natsabc", "jwksabc", "signabc"):
        assert secret not in text
    assert shown["nats_url"] == "nats://h:4222?access_token=***"
    assert shown["bridge"]["lock_key"] == settings.bridge.lock_key
