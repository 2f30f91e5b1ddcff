"""The one Settings class: defaults < config file < USERSUITE_* environment < CLI flags.

This is the only module that reads the environment. Secrets are SecretStr and never logged.
"""

import ipaddress
from pathlib import Path
from typing import Any, Literal, Self
from urllib.parse import parse_qsl, urlencode, urlsplit

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url

MIN_SECRET_LENGTH = 32
DEV_SECRET_PREFIX = "dev-"  # noqa: S105 - a marker that production refuses, not a secret


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


class AddressInUse(Exception):
    """A configured address cannot be bound (taken, or not an address of this machine)."""


def parse_address(value: str) -> tuple[str, int]:
    """Splits `host:port` (IPv6 as `[::1]:port`); port 0 means pick a free one."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"'{value}' is not host:port with a port from 0 to 65535")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


# Method-name prefixes that need no credentials: probes must work without a token.
DEFAULT_AUTH_EXEMPT = ("/grpc.health.v1.Health/",)
REFLECTION_PREFIXES = (
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
)


class AuthSettings(BaseModel):
    """Authentication (JWT, optional request signing) and scope-based authorization."""

    model_config = {"frozen": True, "extra": "forbid"}

    enabled: bool = Field(True, description="false only for trusted networks and tests")
    hs256_secret: SecretStr | None = Field(None, description="shared HS256 secret (dev)")
    jwks_file: Path | None = Field(None, description="JWKS file with RS256/ES256 public keys")
    jwks_url: str | None = Field(None, description="JWKS URL, cached; refreshed on unknown kid")
    jwks_cache_seconds: float = Field(300.0, gt=0, description="background refresh period")
    jwks_min_refresh_seconds: float = Field(30.0, ge=0, description="rate limit for refreshes")
    jwks_max_stale_seconds: float = Field(
        3600.0, gt=0, description="cached keys are refused when the provider is down this long"
    )
    jwks_fetch_timeout_seconds: float = Field(5.0, gt=0, le=60)
    jwks_max_bytes: int = Field(256 * 1024, ge=1024, description="a larger JWKS is refused")
    jwks_ca_file: Path | None = Field(None, description="CA bundle for the JWKS URL's TLS")
    issuer: str = "usersuite"
    audience: str = "usersuite"
    leeway_seconds: float = Field(30.0, ge=0, le=300)
    exempt_methods: tuple[str, ...] = DEFAULT_AUTH_EXEMPT
    reflection: Literal["public", "authenticated"] | None = Field(
        None, description="who may list and describe the API; unset: public in dev only"
    )
    # Request signing for service callers without a JWT: key id -> shared HMAC secret.
    signing_keys: dict[str, SecretStr] = Field(default_factory=dict)
    signing_scopes: tuple[str, ...] = ("users.read", "users.write")
    signing_max_skew_seconds: float = Field(300.0, gt=0)
    signing_nonce_cache_size: int = Field(100_000, ge=1)
    # Scopes granted to a caller identified only by a verified client certificate (mTLS);
    # empty means a certificate alone authorizes nothing and a token is still required.
    mtls_scopes: tuple[str, ...] = ()


class TlsSettings(BaseModel):
    """Server TLS from mounted files; a client CA turns on mutual TLS."""

    model_config = {"frozen": True, "extra": "forbid"}

    cert_file: Path | None = None
    key_file: Path | None = None
    client_ca_file: Path | None = Field(None, description="require client certs from this CA")
    allow_plaintext: bool = Field(
        False, description="production: serve without TLS on a non-loopback address (a mesh)"
    )

    @model_validator(mode="after")
    def _pairs(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls.cert_file and tls.key_file must be set together")
        if self.client_ca_file is not None and self.cert_file is None:
            raise ValueError("tls.client_ca_file (mTLS) needs tls.cert_file and tls.key_file")
        return self

    @property
    def enabled(self) -> bool:
        return self.cert_file is not None


class LimitSettings(BaseModel):
    """Deadlines, rate limits and transport limits."""

    model_config = {"frozen": True, "extra": "forbid"}

    default_deadline_seconds: float = Field(10.0, gt=0)
    max_deadline_seconds: float = Field(60.0, gt=0)
    rate_limit_enabled: bool = True
    principal_rate_per_second: float = Field(100.0, gt=0)
    principal_burst: int = Field(200, ge=1)
    global_rate_per_second: float = Field(2000.0, gt=0)
    global_burst: int = Field(4000, ge=1)
    # Calls that fail authentication, per peer address; checked before verifying anything.
    auth_failure_rate_per_second: float = Field(1.0, gt=0)
    auth_failure_burst: int = Field(20, ge=1)
    max_message_bytes: int = Field(4 * 1024 * 1024, ge=1024)
    max_concurrent_streams: int = Field(100, ge=1)
    keepalive_time_seconds: float = Field(60.0, gt=0)
    keepalive_timeout_seconds: float = Field(20.0, gt=0)
    keepalive_min_client_interval_seconds: float = Field(10.0, gt=0)


class TelemetrySettings(BaseModel):
    """Tracing (exported by the standard OTEL_* variables), access logs and metrics."""

    model_config = {"frozen": True, "extra": "forbid"}

    tracing: bool = Field(False, description="export spans over OTLP, configured by OTEL_*")
    access_log: bool = True
    metrics: bool = True
    log_format: Literal["json", "text"] = "json"


class _LayeredSettings(BaseSettings):
    """Sources, highest first: init kwargs (the CLI flags), the environment, the TOML file."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))


class _ModeProbe(_LayeredSettings):
    """Reads only `mode` from the same sources as Settings, without validating the rest."""

    model_config = SettingsConfigDict(env_prefix="USERSUITE_", extra="ignore")
    mode: Literal["dev", "production"] | None = None


class StreamSettings(BaseModel):
    """The JetStream stream the bridge creates or updates for `user.v1.>`."""

    model_config = {"frozen": True, "extra": "forbid"}

    name: str = Field("USER_V1", pattern=r"^[A-Za-z0-9_-]+$")
    subjects: tuple[str, ...] = ("user.v1.>",)
    storage: Literal["file", "memory"] = "file"
    replicas: int = Field(1, ge=1, le=5)
    max_age_seconds: float = Field(7 * 24 * 3600.0, ge=0, description="0: no limit")
    max_bytes: int = Field(-1, ge=-1, description="-1: no limit")
    max_msg_size: int = Field(-1, ge=-1, description="-1: the server's max_payload")
    duplicate_window_seconds: float = Field(120.0, ge=120.0, description="Nats-Msg-Id dedup")


class BridgeSettings(BaseModel):
    """The outbox relay: batches, polling, retries, parking and retention."""

    model_config = {"frozen": True, "extra": "forbid"}

    batch_size: int = Field(500, ge=1, le=10_000)
    poll_interval_seconds: float = Field(1.0, gt=0, description="fallback to LISTEN/NOTIFY")
    publish_timeout_seconds: float = Field(5.0, gt=0)
    max_attempts: int = Field(5, ge=1, description="a row NATS rejects this often is parked")
    backoff_initial_seconds: float = Field(0.2, gt=0)
    backoff_max_seconds: float = Field(10.0, gt=0)
    retention_hours: float = Field(24.0, gt=0, description="dispatched rows older are deleted")
    retention_interval_seconds: float = Field(60.0, gt=0)
    retention_batch_size: int = Field(1000, ge=1)
    cloudevents_source: str = "//usersuite/user.v1"
    # PostgreSQL advisory lock key: one bridge relays at a time, the others stand by.
    leader_lock_key: int = 7_361_822_001


class Settings(_LayeredSettings):
    model_config = SettingsConfigDict(
        env_prefix="USERSUITE_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    mode: Literal["dev", "production"] = Field(
        "production", description="dev allows generated secrets and the embedded defaults"
    )
    listen: str = Field("127.0.0.1:50051", description="gRPC address; port 0 picks a free port")
    metrics_listen: str = Field("127.0.0.1:9464", description="/metrics, /healthz, /readyz")
    database_url: SecretStr | None = Field(
        None, description="postgresql+psycopg://... or sqlite+aiosqlite:///path"
    )
    db_pool_size: int = Field(10, ge=1, le=500)
    db_max_overflow: int = Field(5, ge=0, le=500)
    db_pool_timeout_seconds: float = Field(5.0, gt=0)
    db_health_interval_seconds: float = Field(2.0, gt=0)
    page_token_secret: SecretStr | None = Field(
        None, description=f"HMAC key for page tokens, at least {MIN_SECRET_LENGTH} characters"
    )
    shutdown_grace_seconds: float = Field(10.0, ge=0)
    migrate_on_start: bool = Field(False, description="serve: migrate a schema that is behind")
    idempotency_retention_hours: float = Field(24.0, gt=0)
    dev_dir: Path = Field(Path(".dev"), description="dev mode: SQLite file, secrets, NATS data")
    dev_nats_listen: str = Field(
        "127.0.0.1:4222", description="dev mode: the embedded nats-server (unless nats_url is set)"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    nats_url: str | None = Field(None, description="nats://host:4222; dev starts one if unset")
    stream: StreamSettings = StreamSettings()
    bridge: BridgeSettings = BridgeSettings()
    auth: AuthSettings = AuthSettings()
    tls: TlsSettings = TlsSettings()
    limits: LimitSettings = LimitSettings()
    telemetry: TelemetrySettings = TelemetrySettings()

    @field_validator("listen", "metrics_listen", "dev_nats_listen")
    @classmethod
    def _address(cls, value: str) -> str:
        parse_address(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        try:
            backend = make_url(value.get_secret_value()).get_backend_name()
        except Exception:
            raise ValueError("database_url is not a database URL") from None
        if backend not in ("postgresql", "sqlite"):
            raise ValueError("database_url must be postgresql+psycopg://... or sqlite+aiosqlite://")
        return value

    @model_validator(mode="after")
    def _production_safety(self) -> Self:
        """Refuses, in production mode, what only makes sense on a laptop: one line, one setting."""
        refusals = production_refusals(self) if self.mode == "production" else []
        if refusals:
            raise ValueError(refusals[0])
        return self

    @model_validator(mode="after")
    def _consistent_limits(self) -> Self:
        if self.limits.default_deadline_seconds > self.limits.max_deadline_seconds:
            raise ValueError("limits.default_deadline_seconds exceeds limits.max_deadline_seconds")
        return self

    @property
    def reflection_public(self) -> bool:
        """Reflection without a token: chosen explicitly, or by default in dev mode."""
        if self.auth.reflection is None:
            return self.mode == "dev"
        return self.auth.reflection == "public"

    @property
    def public_methods(self) -> tuple[str, ...]:
        """Method-name prefixes that need no credentials (and are not rate limited)."""
        reflection = REFLECTION_PREFIXES if self.reflection_public else ()
        return (*self.auth.exempt_methods, *reflection)

    def check_api_security(self) -> None:
        """Refuses insecure API settings in production mode (the API server calls this).

        Only the API needs these secrets, so other commands (bridge, migrate, events tail)
        run with just what they use.
        """
        if self.mode != "production":
            return
        secret = self.page_token_secret
        if secret is None or len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"page_token_secret (USERSUITE_PAGE_TOKEN_SECRET) of at least "
                f"{MIN_SECRET_LENGTH} characters is required in production mode"
            )
        if secret.get_secret_value().startswith(DEV_SECRET_PREFIX):
            raise ValueError("page_token_secret is a dev secret; refusing it in production mode")
        auth = self.auth
        if auth.enabled:
            if not (auth.hs256_secret or auth.jwks_file or auth.jwks_url or auth.signing_keys):
                raise ValueError(
                    "auth is enabled but no key is configured: set auth.jwks_file, "
                    "auth.jwks_url, auth.hs256_secret or auth.signing_keys "
                    "(or disable auth explicitly with USERSUITE_AUTH__ENABLED=false)"
                )
            if auth.reflection is None:
                raise ValueError(
                    "auth.reflection must be chosen in production mode: 'public' (anyone may "
                    "list and describe the API) or 'authenticated' (USERSUITE_AUTH__REFLECTION)"
                )

    @classmethod
    def load(cls, config_file: Path | None = None, **flags: Any) -> "Settings":
        """Builds the effective settings; `flags` are CLI flags, None meaning "not given"."""
        given = {key: value for key, value in flags.items() if value is not None}
        if config_file is None:
            return cls(**given)
        if not config_file.is_file():
            raise ValueError(f"config file {config_file} does not exist")
        with_file = type(
            "Settings", (cls,), {"model_config": {**cls.model_config, "toml_file": config_file}}
        )
        settings: Settings = with_file(**given)
        return settings

    @classmethod
    def explicit_mode(cls, config_file: Path | None = None) -> str | None:
        """The mode the environment or config file sets, if any (commands that default to dev)."""
        probe: type[_ModeProbe] = _ModeProbe
        if config_file is not None:
            config = {**_ModeProbe.model_config, "toml_file": config_file}
            probe = type("ModeProbe", (_ModeProbe,), {"model_config": config})
        return probe().mode

    def redacted(self) -> dict[str, Any]:
        """The effective settings for humans: secrets masked, credentials in URLs hidden."""
        shown = _redact(self.model_dump(mode="json"))
        if self.database_url is not None:
            shown["database_url"] = redact_url(self.database_url.get_secret_value())
        return dict(shown)


def _redact(value: Any, name: str = "") -> Any:
    """Masks values of credential-like setting names and credentials inside URLs, recursively."""
    if isinstance(value, dict):
        return {key: _redact(item, str(key)) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact(item, name) for item in value]
    if not isinstance(value, str):
        return value  # numbers and flags (leader_lock_key) are not credentials
    if is_credential_name(name) and not name.endswith("_file"):
        return "***"
    return redact_url(value) if "://" in value else value


def production_refusals(settings: "Settings") -> list[str]:
    """Every unsafe production setting, each as one line naming it (the first is raised)."""
    auth, found = settings.auth, []
    keys = {f"auth.signing_keys[{key_id[:64]!r}]": key for key_id, key in auth.signing_keys.items()}
    if auth.hs256_secret is not None:
        keys = {"auth.hs256_secret": auth.hs256_secret, **keys}
    for name, key in keys.items():
        value = key.get_secret_value()
        if len(value) < MIN_SECRET_LENGTH or value.startswith(DEV_SECRET_PREFIX):
            found.append(
                f"{name} must be at least {MIN_SECRET_LENGTH} characters and not a dev secret "
                "in production mode"
            )
    if auth.jwks_url is not None:
        url = urlsplit(auth.jwks_url)
        scheme = url.scheme.lower()
        if scheme == "file":
            found.append("auth.jwks_url must not be a file:// URL: set auth.jwks_file instead")
        elif scheme != "https" and not (scheme == "http" and is_loopback(url.hostname or "")):
            found.append("auth.jwks_url must be https:// (plain http:// only on loopback)")
    if auth.enabled and (auth.hs256_secret or auth.jwks_file or auth.jwks_url):
        for name in ("issuer", "audience"):
            if name not in auth.model_fields_set:
                found.append(f"auth.{name} must be set explicitly in production mode")
    host, _ = parse_address(settings.listen)
    if not settings.tls.enabled and not settings.tls.allow_plaintext and not is_loopback(host):
        found.append(
            f"listen {settings.listen} is not loopback and TLS is off: set tls.cert_file and "
            "tls.key_file, or tls.allow_plaintext = true behind a mesh that terminates TLS"
        )
    return found
