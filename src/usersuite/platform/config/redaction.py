"""Credentials hidden from anything shown to people: in URLs, and under credential-like names."""

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

# A name containing one of these words holds a credential: `access_token`, `api_key`,
# `client_secret`, `sslpassword`, `credentials`...
CREDENTIAL_WORDS = ("password", "passwd", "pass", "secret", "token", "key", "credential")


def is_credential_name(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in CREDENTIAL_WORDS)


def redact_url(url: str) -> str:
    """A URL safe to show: its password and credential-like query values replaced by ***."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    secret_query = any(is_credential_name(key) for key, _ in pairs)
    if "@" not in parts.netloc and not secret_query:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"***@{host}"
    query = urlencode([(k, "***" if is_credential_name(k) else v) for k, v in pairs], safe="*")
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


def redact(value: Any, name: str = "") -> Any:
    """Masks values under credential-like names and credentials inside URLs, recursively."""
    if isinstance(value, dict):
        return {key: redact(item, str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item, name) for item in value]
    if not isinstance(value, str):
        return value  # numbers and flags (bridge.lock_key) are not credentials
    if is_credential_name(name) and not name.endswith("_file"):
        return "***"
    return redact_url(value) if "://" in value else value
