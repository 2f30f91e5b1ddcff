"""The one Settings class: defaults < config file < USERSUITE_* environment < CLI flags.

This is the only module that reads the environment. Secrets are SecretStr and never logged.
"""

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url

MIN_SECRET_LENGTH = 32
DEV_SECRET_PREFIX = "dev-"  # noqa: S105 - a marker that production refuses, not a secret


def parse_address(value: str) -> tuple[str, int]:
    """Splits `host:port` (IPv6 as `[::1]:port`); port 0 means pick a free one."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"'{value}' is not host:port with a port from 0 to 65535")
    return host.strip("[]"), int(port)


class Settings(BaseSettings):
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
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

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
    def _refuse_insecure_production(self) -> Self:
        if self.mode != "production":
            return self
        secret = self.page_token_secret
        if secret is None or len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(
                f"page_token_secret (USERSUITE_PAGE_TOKEN_SECRET) of at least "
                f"{MIN_SECRET_LENGTH} characters is required in production mode"
            )
        if secret.get_secret_value().startswith(DEV_SECRET_PREFIX):
            raise ValueError("page_token_secret is a dev secret; refusing it in production mode")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init kwargs carry the CLI flags, so they win over the environment and the file.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

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

    def redacted(self) -> dict[str, Any]:
        """The effective settings for humans: secrets masked, a database password hidden."""
        shown = self.model_dump(mode="json")
        if self.database_url is not None:
            url = make_url(self.database_url.get_secret_value())
            shown["database_url"] = url.render_as_string(hide_password=True)
        return shown
