"""The one Settings class: defaults < config file < USERSUITE_* environment < CLI flags.

This is the only module that reads the environment. Secrets are SecretStr and never logged.
"""

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from sqlalchemy.engine import make_url

from usersuite.platform.config.addresses import parse_address
from usersuite.platform.config.gateway import GatewaySettings
from usersuite.platform.config.groups import (
    AuthSettings,
    BillingSettings,
    BridgeSettings,
    DatabaseSettings,
    DevSettings,
    LimitSettings,
    OrdersSettings,
    StreamSettings,
    TelemetrySettings,
    TlsSettings,
)
from usersuite.platform.config.layers import (
    ENV_PREFIX,
    NESTED_DELIMITER,
    Source,
    UnknownSetting,
    env_path,
    environment_layer,
    names_a_setting,
    read_file,
    unknown_in_environment,
    value_sources,
)
from usersuite.platform.config.production import (
    MIN_SECRET_LENGTH,
    PAGE_TOKEN_SECRET_REQUIRED,
    production_refusals,
    unknown_settings_refused,
)
from usersuite.platform.config.redaction import redact, redact_url

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Layers:
    """The config file's known settings, and the unknown names in the file and environment."""

    file: dict[str, Any]
    unknown: tuple[UnknownSetting, ...]


# The layers of the settings being built; the sources below read them.
_layers: ContextVar[_Layers | None] = ContextVar("layers", default=None)
# Each unknown name is reported once per process (`usersuite dev` loads its settings twice).
_reported: set[str] = set()


@contextmanager
def _reading(config_file: Path | None) -> Iterator[_Layers]:
    if config_file is not None and not config_file.is_file():
        raise ValueError(f"config file {config_file} does not exist")
    file, in_file = read_file(Settings, config_file) if config_file else ({}, [])
    layers = _Layers(file, (*unknown_in_environment(Settings, os.environ), *in_file))
    token = _layers.set(layers)
    try:
        yield layers
    finally:
        _layers.reset(token)


class _KnownEnvironment(EnvSettingsSource):
    """The environment without the USERSUITE_* names that are no setting (reported instead)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        prefix = ENV_PREFIX.lower()
        return {
            name: value
            for name, value in super()._load_env_vars().items()
            if not name.startswith(prefix) or names_a_setting(Settings, env_path(name))
        }


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
        layers = _layers.get()
        file = InitSettingsSource(settings_cls, layers.file if layers is not None else {})
        return (init_settings, _KnownEnvironment(settings_cls), file)


class _ModeProbe(_LayeredSettings):
    """Reads only `mode` from the same sources as Settings, without validating the rest."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore")
    mode: Literal["dev", "production"] | None = None


class Settings(_LayeredSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=NESTED_DELIMITER, extra="forbid", frozen=True
    )

    mode: Literal["dev", "production"] = Field(
        "production", description="dev allows generated secrets and the embedded defaults"
    )
    listen: str = Field("127.0.0.1:50051", description="gRPC address; port 0 picks a free port")
    metrics_listen: str = Field("127.0.0.1:9464", description="/metrics, /healthz, /readyz")
    database_url: SecretStr | None = Field(
        None, description="postgresql+psycopg://... or sqlite+aiosqlite:///path"
    )
    database: DatabaseSettings = DatabaseSettings()
    page_token_secret: SecretStr | None = Field(
        None, description=f"HMAC key for page tokens, at least {MIN_SECRET_LENGTH} characters"
    )
    shutdown_grace_seconds: float = Field(10.0, ge=0)
    workers: Annotated[int, Field(ge=1)] | Literal["auto"] = Field(
        1, description="serve: processes sharing the port; auto = the CPUs this process may use"
    )
    migrate_on_start: bool = Field(False, description="serve: migrate a schema that is behind")
    idempotency_retention_hours: float = Field(24.0, gt=0)
    dev: DevSettings = DevSettings()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    nats_url: str | None = Field(None, description="nats://host:4222; dev starts one if unset")
    stream: StreamSettings = StreamSettings()
    bridge: BridgeSettings = BridgeSettings()
    auth: AuthSettings = AuthSettings()
    tls: TlsSettings = TlsSettings()
    limits: LimitSettings = LimitSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    gateway: GatewaySettings = GatewaySettings()
    orders: OrdersSettings = OrdersSettings()
    billing: BillingSettings = BillingSettings()

    @field_validator("listen", "metrics_listen")
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
    def _consistent_limits(self) -> Self:
        if self.limits.default_deadline_seconds > self.limits.max_deadline_seconds:
            raise ValueError("limits.default_deadline_seconds exceeds limits.max_deadline_seconds")
        return self

    @model_validator(mode="after")
    def _safe_in_production(self) -> Self:
        """Weak secrets, unverifiable tokens and plaintext off loopback, whichever command loads
        them: the first refusal, one line naming its setting (config/production.py)."""
        if self.mode != "production":
            return self
        refusals = production_refusals(
            page_token_secret=self.page_token_secret,
            auth=self.auth,
            tls=self.tls,
            listen=self.listen,
        )
        if refusals:
            raise ValueError(refusals[0])
        return self

    @property
    def reflection_public(self) -> bool:
        """Reflection without a token: chosen explicitly, or by default in dev mode."""
        if self.auth.reflection is None:
            return self.mode == "dev"
        return self.auth.reflection == "public"

    def check_api_security(self) -> None:
        """Refuses to serve the API in production mode without the secrets only it needs.

        Weak secrets are refused when the settings load; missing ones only here, so other
        commands (bridge, migrate, events tail) run with just what they use.
        """
        if self.mode != "production":
            return
        if self.page_token_secret is None:
            raise ValueError(PAGE_TOKEN_SECRET_REQUIRED)
        auth = self.auth
        if auth.enabled and not (
            auth.hs256_secret or auth.jwks_file or auth.jwks_url or auth.signing_keys
        ):
            raise ValueError(
                "auth is enabled but no key is configured: set auth.jwks_file, "
                "auth.jwks_url, auth.hs256_secret or auth.signing_keys "
                "(or disable auth explicitly with USERSUITE_AUTH__ENABLED=false)"
            )
        if auth.enabled and auth.reflection is None:
            raise ValueError(
                "auth.reflection must be chosen in production mode: 'public' (anyone may "
                "list and describe the API) or 'authenticated' (USERSUITE_AUTH__REFLECTION)"
            )

    @classmethod
    def load(cls, config_file: Path | None = None, **flags: Any) -> "Settings":
        """Builds the effective settings; `flags` are CLI flags, None meaning "not given".

        A name in the environment or the file that is no setting is refused in production
        mode, and left out with a warning naming the closest setting otherwise.
        """
        given = _given(flags)
        with _reading(config_file) as layers:
            if layers.unknown:
                cls._report(layers.unknown, given.get("mode") or _ModeProbe().mode)
            return cls(**given)

    @classmethod
    def _report(cls, unknown: tuple[UnknownSetting, ...], mode: str | None) -> None:
        if (mode or cls.model_fields["mode"].default) == "production":
            raise ValueError(unknown_settings_refused([str(name) for name in unknown]))
        for name in map(str, unknown):
            if name not in _reported:
                _reported.add(name)
                log.warning("%s", name)

    @classmethod
    def sources(cls, config_file: Path | None = None, **flags: Any) -> dict[str, Source]:
        """Where each setting (by dotted name) of `load` with the same arguments comes from."""
        with _reading(config_file) as layers:
            environment = environment_layer(cls, os.environ)
            return value_sources(cls, _given(flags), environment, layers.file)

    @classmethod
    def explicit_mode(cls, config_file: Path | None = None) -> str | None:
        """The mode the environment or config file sets, if any (commands that default to dev)."""
        with _reading(config_file):
            return _ModeProbe().mode

    def redacted(self) -> dict[str, Any]:
        """The effective settings for humans: secrets masked, credentials in URLs hidden."""
        shown: dict[str, Any] = redact(self.model_dump(mode="json"))
        if self.database_url is not None:
            shown["database_url"] = redact_url(self.database_url.get_secret_value())
        return shown


def _given(flags: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in flags.items() if value is not None}
