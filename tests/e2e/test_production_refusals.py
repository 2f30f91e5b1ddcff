"""`usersuite serve` in production refuses each unsafe setting with one line naming it (9.4)."""

from pathlib import Path

import pytest

from tests.support.processes import run_usersuite, server_env
from tests.support.tools import describe

STRONG = "production-secret-0123456789abcdef0123"
JWT = {
    "USERSUITE_AUTH__ENABLED": "true",
    "USERSUITE_AUTH__HS256_SECRET": STRONG,
    "USERSUITE_AUTH__ISSUER": "https://idp.example",
    "USERSUITE_AUTH__AUDIENCE": "usersuite-api",
    "USERSUITE_AUTH__REFLECTION": "authenticated",
}


@pytest.mark.parametrize(
    ("env_values", "setting"),
    [
        ({"USERSUITE_AUTH__SIGNING_KEYS": '{"svc": "x"}'}, "auth.signing_keys['svc']"),
        ({"USERSUITE_AUTH__SIGNING_KEYS": '{"svc": "dev-abc"}'}, "auth.signing_keys['svc']"),
        ({**JWT, "USERSUITE_AUTH__JWKS_URL": "http://idp.example/jwks"}, "auth.jwks_url"),
        ({**JWT, "USERSUITE_AUTH__JWKS_URL": "file:///keys/jwks.json"}, "auth.jwks_url"),
        ({**JWT, "USERSUITE_AUTH__ISSUER": None}, "auth.issuer"),
        ({**JWT, "USERSUITE_AUTH__AUDIENCE": None}, "auth.audience"),
        ({"USERSUITE_LISTEN": "0.0.0.0:50051"}, "tls.allow_plaintext"),
        ({**JWT, "USERSUITE_AUTH__REFLECTION": None}, "auth.reflection"),
    ],
    ids=[
        "short-signing-key",
        "dev-signing-key",
        "http-jwks-url",
        "file-jwks-url",
        "default-issuer",
        "default-audience",
        "plaintext-on-all-addresses",
        "reflection-not-chosen",
    ],
)
def test_serve_refuses_an_unsafe_production_setting_in_one_line(
    tmp_path: Path, env_values: dict[str, str | None], setting: str
) -> None:
    env = server_env("postgresql+psycopg://u:p@127.0.0.1:1/none")
    for name, value in env_values.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value

    result = run_usersuite("serve", env=env, cwd=tmp_path)

    assert result.returncode == 2, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, describe(result)
    assert setting in lines[0], describe(result)
    assert STRONG not in lines[0]
