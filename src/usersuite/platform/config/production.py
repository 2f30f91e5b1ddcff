"""What production mode refuses at start-up, whichever command loads the settings.

Each refusal is one line that names the setting; the settings validator raises the first.
"""

from urllib.parse import urlsplit

from pydantic import SecretStr

from usersuite.platform.config.addresses import is_loopback, parse_address
from usersuite.platform.config.groups import AuthSettings, TlsSettings

MIN_SECRET_LENGTH = 32
DEV_SECRET_PREFIX = "dev-"  # noqa: S105 - a marker that production refuses, not a secret
PAGE_TOKEN_SECRET_REQUIRED = (
    f"page_token_secret (USERSUITE_PAGE_TOKEN_SECRET) of at least {MIN_SECRET_LENGTH} "
    "characters is required in production mode"
)


def _weak(secret: SecretStr) -> bool:
    value = secret.get_secret_value()
    return len(value) < MIN_SECRET_LENGTH or value.startswith(DEV_SECRET_PREFIX)


def _weak_secrets(page: SecretStr | None, auth: AuthSettings) -> list[str]:
    found = []
    if page is not None and len(page.get_secret_value()) < MIN_SECRET_LENGTH:
        found.append(PAGE_TOKEN_SECRET_REQUIRED)
    elif page is not None and _weak(page):
        found.append("page_token_secret is a dev secret; refusing it in production mode")
    keys = {f"auth.signing_keys[{kid[:64]!r}]": key for kid, key in auth.signing_keys.items()}
    if auth.hs256_secret is not None:
        keys = {"auth.hs256_secret": auth.hs256_secret, **keys}
    found += [
        f"{name} must be at least {MIN_SECRET_LENGTH} characters and not a dev secret "
        "in production mode"
        for name, key in keys.items()
        if _weak(key)
    ]
    return found


def _token_verification(auth: AuthSettings) -> list[str]:
    found = []
    if auth.jwks_url is not None:
        url = urlsplit(auth.jwks_url)
        scheme = url.scheme.lower()
        if scheme == "file":
            found.append("auth.jwks_url must not be a file:// URL: set auth.jwks_file instead")
        elif scheme != "https" and not (scheme == "http" and is_loopback(url.hostname or "")):
            found.append("auth.jwks_url must be https:// (plain http:// only on loopback)")
    if auth.enabled and (auth.hs256_secret or auth.jwks_file or auth.jwks_url):
        found += [
            f"auth.{name} must be set explicitly in production mode"
            for name in ("issuer", "audience")
            if name not in auth.model_fields_set
        ]
    return found


def _transport(listen: str, tls: TlsSettings) -> list[str]:
    host, _ = parse_address(listen)
    if tls.enabled or tls.allow_plaintext or is_loopback(host):
        return []
    return [
        f"listen {listen} is not loopback and TLS is off: set tls.cert_file and "
        "tls.key_file, or tls.allow_plaintext = true behind a mesh that terminates TLS"
    ]


def unknown_settings_refused(unknown: list[str]) -> str:
    """A typo must not quietly leave a production setting at its default: one line, naming the
    first unknown name and the closest setting."""
    count = f" ({len(unknown)} found)" if len(unknown) > 1 else ""
    return f"production mode refuses unknown settings{count}: {unknown[0]}"


def production_refusals(
    *, page_token_secret: SecretStr | None, auth: AuthSettings, tls: TlsSettings, listen: str
) -> list[str]:
    """Every unsafe production setting, each as one line naming it."""
    return (
        _weak_secrets(page_token_secret, auth) + _token_verification(auth) + _transport(listen, tls)
    )
