"""Credentials hidden from anything shown to people: URLs with passwords or secret query values."""

from urllib.parse import parse_qsl, urlencode, urlsplit

SECRET_QUERY_KEYS = ("password", "passwd", "pass", "secret", "token", "key", "sslpassword")


def redact_url(url: str) -> str:
    """A URL safe to show: its password and credential-like query values replaced by ***."""
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    secret_query = any(key.lower() in SECRET_QUERY_KEYS for key, _ in pairs)
    if "@" not in parts.netloc and not secret_query:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"***@{host}"
    query = urlencode(
        [(k, "***" if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*"
    )
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")
