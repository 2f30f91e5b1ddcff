"""Secrets: from a chart-made Secret or an existing one; files mounted, strings in env by
reference only; TLS from a cert-manager style Secret; never in the ConfigMap."""

import base64
import json
from typing import Any

import yaml

from tests.chart.helm import FULLNAME, VALUES
from tests.chart.manifests import Manifests, env_names, mounts

STRING_SECRETS = {
    "USERSUITE_DATABASE_URL": "database-url",
    "USERSUITE_PAGE_TOKEN_SECRET": "page-token-secret",
    "USERSUITE_AUTH__HS256_SECRET": "auth-hs256-secret",
    "USERSUITE_AUTH__SIGNING_KEYS": "auth-signing-keys",
}
FILE_KEYS = {"tls.crt", "tls.key", "ca.crt", "jwks.json"}


def secret_values(values_file: str) -> list[str]:
    """Every secret string a value set holds."""
    secrets: dict[str, Any] = yaml.safe_load((VALUES / values_file).read_text())["secrets"]
    found = [v for v in secrets.values() if isinstance(v, str) and v]
    found += [v for v in secrets.get("signingKeys", {}).values()]
    return found


def test_string_secrets_come_from_the_secret_by_reference(rendering: Manifests) -> None:
    secret_name = rendering.api()["env"][0]["valueFrom"]["secretKeyRef"]["name"]
    # The bridge needs the database only; the API every string secret.
    needs = {"api": STRING_SECRETS, "bridge": {"USERSUITE_DATABASE_URL": "database-url"}}
    for container in (rendering.api(), rendering.bridge()):
        env = env_names(container)
        assert set(env) == set(needs[container["name"]]), container["name"]
        for variable, key in needs[container["name"]].items():
            assert "value" not in env[variable], variable
            ref = env[variable]["valueFrom"]["secretKeyRef"]
            assert (ref["name"], ref["key"]) == (secret_name, key)
        for entry in env.values():
            ref = entry.get("valueFrom", {}).get("secretKeyRef", {})
            assert ref.get("key") not in FILE_KEYS, f"{entry['name']} carries a file in env"


def test_chart_made_secret_holds_the_values(renderings: dict[str, Manifests]) -> None:
    production = renderings["production"]
    data = production.one("Secret")["data"]
    decoded = {key: base64.b64decode(value).decode() for key, value in data.items()}
    assert decoded["database-url"].startswith("postgresql+psycopg://")
    assert json.loads(decoded["auth-signing-keys"]) == {
        "billing": "chart-test-signing-key-0123456789abcdef"
    }
    assert "auth-hs256-secret" not in decoded  # unset values leave their key out
    assert production.api()["env"][0]["valueFrom"]["secretKeyRef"]["name"] == FULLNAME


def test_no_secret_leaks_into_config_or_plain_env(renderings: dict[str, Manifests]) -> None:
    for name, values_file in (("minimal", "minimal.yaml"), ("production", "production.yaml")):
        rendering = renderings[name]
        plain = yaml.safe_dump(
            [o for o in rendering.objects if o["kind"] not in ("Secret",)], width=10_000
        )
        for secret in secret_values(values_file):
            assert secret not in plain, f"a secret of {values_file} is in plain sight"


def test_existing_secret_replaces_the_chart_made_one(renderings: dict[str, Manifests]) -> None:
    rendering = renderings["existing-secret"]
    assert rendering.all("Secret") == []
    for container in (rendering.api(), rendering.bridge()):
        for entry in env_names(container).values():
            if "valueFrom" in entry:
                assert entry["valueFrom"]["secretKeyRef"]["name"] == "usersuite-credentials"
    # The JWKS document is a file: mounted from the Secret where config.toml points.
    jwks_file = rendering.settings()["auth"]["jwks_file"]
    directory, filename = jwks_file.rsplit("/", 1)
    mount = mounts(rendering.api())[directory]
    volumes = rendering.one("Deployment", "-api")["spec"]["template"]["spec"]["volumes"]
    volume = next(v for v in volumes if v["name"] == mount["name"])["secret"]
    assert volume["secretName"] == "usersuite-credentials"
    assert volume["items"] == [{"key": "jwks.json", "path": filename}]


def test_tls_files_are_mounted_from_the_certificate_secret(
    renderings: dict[str, Manifests],
) -> None:
    production = renderings["production"]
    tls = production.settings()["tls"]
    volumes = production.one("Deployment", "-api")["spec"]["template"]["spec"]["volumes"]
    for setting, key in (("cert_file", "tls.crt"), ("key_file", "tls.key"),
                         ("client_ca_file", "ca.crt")):  # fmt: skip
        directory, filename = tls[setting].rsplit("/", 1)
        assert filename == key
        mount = mounts(production.api())[directory]
        assert mount["readOnly"] is True
        volume = next(v for v in volumes if v["name"] == mount["name"])
        assert volume["secret"]["secretName"] == "usersuite-tls"
    assert "tls" not in renderings["default"].settings()
