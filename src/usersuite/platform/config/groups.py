"""The nested setting groups: auth, TLS, limits, telemetry, the event stream and the relay."""

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator

from usersuite.platform.config.addresses import parse_address

# The users service's events; its subscribers' default filter.
EVENT_SUBJECT_PREFIX = "user.v1."
EVENT_SUBJECTS = f"{EVENT_SUBJECT_PREFIX}>"
# One stream holds every package's events and saga messages (docs/suite.md). Its name stays
# the one the users service gave it, so a deployment's existing stream is updated in place.
EVENT_STREAM = "USER_V1"
SUITE_PACKAGES = ("user.v1", "order.v1", "billing.v1")
STREAM_SUBJECTS = tuple(f"{package}.>" for package in SUITE_PACKAGES)


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
    # Verified tokens remembered by their bytes (each until its exp or the max age): a caller
    # reusing its token is verified once, not per call. 0 turns the cache off.
    token_cache_size: int = Field(10_000, ge=0)
    token_cache_seconds: float = Field(60.0, gt=0, description="how long a key withdrawal lags")
    exempt_methods: tuple[str, ...] = Field(
        (), description="more method-name prefixes that need no credentials (health always)"
    )
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
    # No call finishes in less: one that arrives with less time left is refused at once
    # (DEADLINE_EXCEEDED) instead of starting work its caller will not wait for.
    min_deadline_seconds: float = Field(0.002, ge=0, description="0: no floor")
    rate_limit_enabled: bool = True
    principal_rate_per_second: float = Field(100.0, gt=0)
    principal_burst: int = Field(200, ge=1)
    global_rate_per_second: float = Field(2000.0, gt=0)
    global_burst: int = Field(4000, ge=1)
    # Failed verifications, per (client address, credential) and for the whole server; checked
    # before verifying anything (see api/interceptors/rate_limit.py, FailedAuthLimiter).
    auth_failure_rate_per_second: float = Field(1.0, gt=0)
    auth_failure_burst: int = Field(20, ge=1)
    auth_failure_global_rate_per_second: float = Field(50.0, gt=0)
    auth_failure_global_burst: int = Field(500, ge=1)
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
    # auto: human-readable lines on a terminal, JSON lines otherwise (collectors, files).
    log_format: Literal["auto", "json", "text"] = "auto"


class StreamSettings(BaseModel):
    """The JetStream stream the bridge creates or updates for every event subject."""

    model_config = {"frozen": True, "extra": "forbid"}

    name: str = Field(EVENT_STREAM, pattern=r"^[A-Za-z0-9_-]+$")
    subjects: tuple[str, ...] = STREAM_SUBJECTS
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
    # ce-source is this followed by the message's package: //usersuite/billing.v1
    cloudevents_source: str = "//usersuite"
    partitions: int = Field(
        16, ge=1, le=4096, description="outbox partitions (hash of the user); same in every bridge"
    )
    max_in_flight: int = Field(
        1000, ge=1, le=100_000, description="publishes awaiting JetStream's acknowledgement"
    )
    rebalance_interval_seconds: float = Field(
        2.0, gt=0, description="how often a bridge re-plans its share of the partitions"
    )
    leader_handover_seconds: float = Field(
        15.0, gt=0, description="cut off from NATS this long, a bridge gives its partitions back"
    )
    stall_seconds: float = Field(
        60.0, gt=0, description="/healthz fails after this long without progress or known wait"
    )
    # PostgreSQL advisory locks (lock_key, partition) and (lock_key + 1, member pid).
    lock_key: int = Field(736_182, ge=1, le=2**31 - 2)


class DatabaseSettings(BaseModel):
    """The connection pool and the health probe (the URL itself is `database_url`)."""

    model_config = {"frozen": True, "extra": "forbid"}

    pool_size: int = Field(10, ge=1, le=500)
    max_overflow: int = Field(0, ge=0, le=500)
    pool_timeout_seconds: float = Field(5.0, gt=0)
    health_interval_seconds: float = Field(2.0, gt=0)
    coalesce_window_seconds: float = Field(
        0.002,
        ge=0,
        le=60,
        description="once reads (creates) have lately shared queries (statements), how long a "
        "point read (a create's commit) waits at most for others to share its query (statement) "
        "(0: never waits); a few milliseconds",
    )


class DevSettings(BaseModel):
    """`usersuite dev`: where its files live and where its embedded nats-server listens."""

    model_config = {"frozen": True, "extra": "forbid"}

    dir: Path = Field(Path(".dev"), description="the SQLite file, secrets and NATS data")
    nats_listen: str = Field(
        "127.0.0.1:4222", description="the embedded nats-server (unless nats_url is set)"
    )

    @field_validator("nats_listen")
    @classmethod
    def _address(cls, value: str) -> str:
        parse_address(value)
        return value


class OrdersSettings(BaseModel):
    """The orders service's credit saga: how long a step waits for billing, how often it asks."""

    model_config = {"frozen": True, "extra": "forbid"}

    step_timeout_seconds: float = Field(5.0, gt=0, description="the first attempt's wait")
    backoff_multiplier: int = Field(2, ge=1, description="each retry waits this much longer")
    max_wait_seconds: float = Field(300.0, gt=0, description="no attempt waits longer")
    max_attempts: int = Field(5, ge=1, description="ReserveCredit sends before compensating")
    release_attempts: int | None = Field(
        None, ge=1, description="ReleaseCredit sends before parking; unset: never parks"
    )
    scan_interval_seconds: float = Field(1.0, gt=0, description="overdue-saga scan period")
    scan_batch_size: int = Field(100, ge=1, le=10_000)

    @model_validator(mode="after")
    def _waits(self) -> Self:
        if self.max_wait_seconds < self.step_timeout_seconds:
            raise ValueError("max_wait_seconds must be at least step_timeout_seconds")
        return self


class BillingSettings(BaseModel):
    """The billing service: what an account opened for a new user starts with."""

    model_config = {"frozen": True, "extra": "forbid"}

    default_credit_limit_minor: int = Field(
        100_000, ge=0, le=2**63 - 1, description="a new account's credit limit, in minor units"
    )
    default_currency_code: str = Field(
        "EUR", pattern=r"^[A-Z]{3}$", description="a new account's ISO 4217 currency"
    )
