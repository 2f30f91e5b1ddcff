"""The config.toml the chart writes is accepted by the server's own Settings in production mode,
with the secrets the pods get from the Secret, and with the values the chart meant
(`usersuite config show --config FILE`, as the pods start with it)."""

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from tests.chart.manifests import Manifests
from tests.support.processes import child_env, run_usersuite
from tests.support.tools import describe
from usersuite.platform.config import Settings

# Secret keys the API container reads as USERSUITE_* variables (see _helpers.tpl, secretEnv).
SECRET_ENV = {
    "database-url": "USERSUITE_DATABASE_URL",
    "page-token-secret": "USERSUITE_PAGE_TOKEN_SECRET",
    "auth-hs256-secret": "USERSUITE_AUTH__HS256_SECRET",
    "auth-signing-keys": "USERSUITE_AUTH__SIGNING_KEYS",
}
# What an operator's existingSecret would hold: strong enough for production mode.
EXISTING_SECRET = {
    "database-url": "postgresql+psycopg://usersuite:existing-password@postgresql.db:5432/usersuite",
    "page-token-secret": "existing-secret-page-token-0123456789abcdef",
}


def pod_secrets(rendering: Manifests) -> dict[str, str]:
    """The USERSUITE_* variables the API pods get from the chart-made or existing Secret."""
    secret = rendering.maybe("Secret")
    if secret is None:
        data = EXISTING_SECRET
    else:
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    return {SECRET_ENV[key]: value for key, value in data.items() if key in SECRET_ENV}


def config_show(rendering: Manifests, tmp_path: Path) -> dict[str, Any]:
    config = tmp_path / "config.toml"
    config.write_text(rendering.config_toml())
    env = child_env(**pod_secrets(rendering))
    result = run_usersuite("config", "show", "--config", str(config), env=env)
    assert result.returncode == 0, f"the server refuses the chart's config\n{describe(result)}"
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def test_server_accepts_the_rendered_config(rendering: Manifests, tmp_path: Path) -> None:
    shown = config_show(rendering, tmp_path)
    expected = rendering.settings()
    assert shown["mode"] == "production"
    for key in ("listen", "metrics_listen", "nats_url", "log_level", "shutdown_grace_seconds"):
        assert shown[key] == expected[key], key
    for group, keys in {
        "database": ("pool_size", "max_overflow"),
        "auth": ("enabled", "issuer", "audience", "reflection"),
    }.items():
        for key in keys:
            assert shown[group][key] == expected[group][key], f"{group}.{key}"
    plaintext = expected.get("tls", {}).get("allow_plaintext", False)
    assert shown["tls"]["allow_plaintext"] == plaintext


def test_tls_off_allows_plaintext_and_tls_on_does_not(renderings: dict[str, Manifests]) -> None:
    """Production mode refuses plaintext off loopback unless told a mesh terminates TLS."""
    assert renderings["minimal"].settings()["tls"] == {"allow_plaintext": True}
    with_tls = renderings["production"].settings()["tls"]
    assert "allow_plaintext" not in with_tls
    assert with_tls["cert_file"] == "/etc/usersuite/tls/tls.crt"


def test_server_refuses_plaintext_without_the_allowance(
    renderings: dict[str, Manifests], tmp_path: Path
) -> None:
    """The allowance is what makes the TLS-off rendering acceptable: without it, a refusal."""
    rendering = renderings["minimal"]
    config = tmp_path / "config.toml"
    config.write_text(rendering.config_toml().replace("allow_plaintext = true", ""))
    env = child_env(**pod_secrets(rendering))
    result = run_usersuite("config", "show", "--config", str(config), env=env)
    assert result.returncode == 2, describe(result)
    assert "tls.allow_plaintext" in result.stderr, describe(result)


@pytest.mark.parametrize("name", ["minimal", "production", "existing-secret", "bridge-replicas"])
def test_api_may_serve_with_the_rendered_config(
    name: str, renderings: dict[str, Manifests], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `serve` checks beyond loading (a page token secret, a key, reflection chosen) holds
    for every value set that configures the API's secrets."""
    config = tmp_path / "config.toml"
    config.write_text(renderings[name].config_toml())
    for key in [k for k in os.environ if k.startswith("USERSUITE_")]:
        monkeypatch.delenv(key)
    for key, value in pod_secrets(renderings[name]).items():
        monkeypatch.setenv(key, value)
    settings = Settings.load(config)
    assert settings.mode == "production"
    settings.check_api_security()
    unchosen = tmp_path / "no-reflection.toml"
    unchosen.write_text(re.sub(r"^\s*reflection = .*\n", "", config.read_text(), flags=re.M))
    assert "reflection" not in unchosen.read_text()
    with pytest.raises(ValueError, match=r"auth\.reflection must be chosen"):
        Settings.load(unchosen).check_api_security()


def test_server_rejects_a_bad_extra_setting(tmp_path: Path) -> None:
    """extraSettings reach the server verbatim, so its own validation is the backstop."""
    config = tmp_path / "config.toml"
    config.write_text('mode = "production"\n[limits]\nprincipal_rate_per_secnd = 5\n')
    result = run_usersuite("config", "show", "--config", str(config), env=child_env())
    assert result.returncode == 2, describe(result)
    assert "principal_rate_per_secnd" in result.stderr, describe(result)
