"""Settings.load: layering of sources, production safety checks and redaction."""

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from tests.support.environment import clean_environment  # noqa: F401 (autouse fixture)
from usersuite.platform.config import Settings, redact_url

GOOD_SECRET = "prod-page-token-secret-0123456789abcdef"
DEV: dict[str, Any] = {"mode": "dev"}


def write_toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "usersuite.toml"
    path.write_text(text)
    return path


# --- precedence: defaults < config file < environment < flags --------------------------------


def test_defaults() -> None:
    settings = Settings.load(**DEV)

    assert settings.listen == "127.0.0.1:50051"
    assert settings.log_level == "INFO"
    assert settings.database.pool_size == 10
    assert settings.database_url is None


def test_production_is_the_default_mode() -> None:
    settings = Settings.load()
    assert settings.mode == "production"
    with pytest.raises(ValueError, match="page_token_secret"):
        settings.check_api_security()


def test_config_file_overrides_defaults(tmp_path: Path) -> None:
    config = write_toml(
        tmp_path, 'mode = "dev"\nlisten = "127.0.0.1:1111"\n[database]\npool_size = 3\n'
    )

    settings = Settings.load(config)

    assert settings.listen == "127.0.0.1:1111"
    assert settings.database.pool_size == 3
    assert settings.log_level == "INFO"


def test_environment_overrides_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_toml(
        tmp_path, 'mode = "dev"\nlisten = "127.0.0.1:1111"\n[database]\npool_size = 3\n'
    )
    monkeypatch.setenv("USERSUITE_LISTEN", "127.0.0.1:2222")

    settings = Settings.load(config)

    assert settings.listen == "127.0.0.1:2222"
    assert settings.database.pool_size == 3


def test_flags_override_the_environment_and_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_toml(tmp_path, 'mode = "dev"\nlisten = "127.0.0.1:1111"\nlog_level = "ERROR"\n')
    monkeypatch.setenv("USERSUITE_LISTEN", "127.0.0.1:2222")
    monkeypatch.setenv("USERSUITE_LOG_LEVEL", "WARNING")

    settings = Settings.load(config, listen="127.0.0.1:3333")

    assert settings.listen == "127.0.0.1:3333"
    assert settings.log_level == "WARNING"


def test_flags_that_were_not_given_do_not_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("USERSUITE_LISTEN", "127.0.0.1:2222")

    settings = Settings.load(listen=None, mode="dev")

    assert settings.listen == "127.0.0.1:2222"


def test_environment_overrides_defaults_without_a_config_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("USERSUITE_MODE", "dev")
    monkeypatch.setenv("USERSUITE_DATABASE__POOL_SIZE", "7")

    settings = Settings.load()

    assert settings.mode == "dev"
    assert settings.database.pool_size == 7


def test_nested_environment_variables_use_double_underscores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_toml(
        tmp_path,
        'mode = "dev"\n[limits]\ndefault_deadline_seconds = 5.0\nmax_deadline_seconds = 30.0\n',
    )
    monkeypatch.setenv("USERSUITE_LIMITS__MAX_DEADLINE_SECONDS", "40")

    settings = Settings.load(config)

    assert settings.limits.default_deadline_seconds == 5.0
    assert settings.limits.max_deadline_seconds == 40.0


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        Settings.load(tmp_path / "missing.toml", **DEV)


def test_unknown_settings_are_left_out_in_dev_mode(tmp_path: Path) -> None:
    config = write_toml(tmp_path, 'mode = "dev"\nlisten_adress = "127.0.0.1:1"\n')

    assert Settings.load(config).listen == "127.0.0.1:50051"


def test_unknown_settings_are_refused_in_production_mode(tmp_path: Path) -> None:
    config = write_toml(tmp_path, 'listen_adress = "127.0.0.1:1"\n')

    with pytest.raises(ValueError, match="refuses unknown settings: listen_adress"):
        Settings.load(config)


# --- production safety ------------------------------------------------------------------------


def test_production_refuses_a_missing_page_token_secret() -> None:
    with pytest.raises(ValueError, match="page_token_secret") as caught:
        Settings.load(mode="production").check_api_security()

    message = str(caught.value)
    assert "USERSUITE_PAGE_TOKEN_SECRET" in message
    assert "32" in message
    assert "production" in message


def test_production_refuses_a_short_page_token_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERSUITE_PAGE_TOKEN_SECRET", "x" * 31)

    with pytest.raises(ValueError, match="at least 32 characters"):
        Settings.load(mode="production").check_api_security()


def test_production_refuses_a_dev_page_token_secret() -> None:
    # Refused as the settings load (a model validator), before any command can use it.
    with pytest.raises(ValueError, match="dev secret"):
        Settings.load(mode="production", page_token_secret="dev-" + "x" * 40)


def test_production_refuses_auth_without_any_key() -> None:
    settings = Settings.load(mode="production", page_token_secret=GOOD_SECRET)
    with pytest.raises(ValueError, match="no key is configured"):
        settings.check_api_security()


def test_production_refuses_a_dev_hs256_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERSUITE_AUTH__HS256_SECRET", "dev-" + "x" * 40)
    with pytest.raises(ValueError, match="hs256_secret"):
        Settings.load(mode="production", page_token_secret=GOOD_SECRET)


def test_production_accepts_a_strong_page_token_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERSUITE_AUTH__ENABLED", "false")

    settings = Settings.load(mode="production", page_token_secret=GOOD_SECRET)
    settings.check_api_security()

    assert settings.page_token_secret is not None
    assert settings.page_token_secret.get_secret_value() == GOOD_SECRET


def test_commands_other_than_the_api_load_without_api_secrets() -> None:
    settings = Settings.load(mode="production", nats_url="nats://127.0.0.1:4222")
    assert settings.page_token_secret is None


def test_dev_mode_allows_a_dev_secret() -> None:
    settings = Settings.load(mode="dev", page_token_secret="dev-short")

    assert settings.page_token_secret is not None


# --- addresses and database URLs --------------------------------------------------------------


@pytest.mark.parametrize("address", ["127.0.0.1:0", "0.0.0.0:50051", "[::1]:65535", "db:1"])
def test_good_listen_addresses_are_accepted(address: str) -> None:
    assert Settings.load(listen=address, **DEV).listen == address


@pytest.mark.parametrize(
    "address",
    ["localhost", "127.0.0.1:", ":50051", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:http"],
)
def test_bad_listen_addresses_are_refused(address: str) -> None:
    with pytest.raises(ValidationError, match="host:port"):
        Settings.load(listen=address, **DEV)


def test_a_bad_metrics_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERSUITE_METRICS_LISTEN", "nope")

    with pytest.raises(ValidationError, match="metrics_listen"):
        Settings.load(**DEV)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://usersuite:pw@db.example:5432/usersuite",
        "sqlite+aiosqlite:///data/usersuite.db",
    ],
)
def test_good_database_urls_are_accepted(url: str) -> None:
    settings = Settings.load(database_url=url, **DEV)

    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == url


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("not a url", "not a database URL"),
        ("://nothing", "not a database URL"),
        ("mysql+pymysql://u:p@db/usersuite", "postgresql"),
        ("redis://localhost:6379/0", "postgresql"),
    ],
)
def test_bad_database_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        Settings.load(database_url=url, **DEV)


# --- redaction --------------------------------------------------------------------------------


def test_redacted_hides_the_database_password_and_the_page_token_secret() -> None:
    settings = Settings.load(
        mode="dev",
        database_url="postgresql+psycopg://usersuite:s3cret-pw@db.example:5432/usersuite",
        page_token_secret=GOOD_SECRET,
    )

    shown = settings.redacted()
    text = json.dumps(shown)

    assert "s3cret-pw" not in text
    assert GOOD_SECRET not in text
    assert shown["database_url"] == "postgresql+psycopg://usersuite:***@db.example:5432/usersuite"
    assert shown["page_token_secret"] != GOOD_SECRET
    assert shown["listen"] == settings.listen


def test_redacted_hides_nested_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USERSUITE_AUTH__HS256_SECRET", "hs256-" + "z" * 40)

    text = json.dumps(Settings.load(**DEV).redacted())

    assert "zzzzzzzz" not in text


def test_redacted_without_a_database_url() -> None:
    assert Settings.load(**DEV).redacted()["database_url"] is None


def test_secrets_do_not_leak_through_repr() -> None:
    settings = Settings.load(
        mode="dev",
        database_url="postgresql+psycopg://usersuite:s3cret-pw@db/usersuite",
        page_token_secret=GOOD_SECRET,
    )

    assert "s3cret-pw" not in repr(settings)
    assert GOOD_SECRET not in repr(settings)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("nats://relay:s3cr3t@host:4222", "nats://relay:***@host:4222"),
        ("nats://s3cr3t-token@host:4222", "nats://***@host:4222"),
        ("postgresql+psycopg://u:pw@h:5432/db?password=q&sslmode=require",
         "postgresql+psycopg://u:***@h:5432/db?password=***&sslmode=require"),
        ("sqlite+aiosqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
        ("nats://127.0.0.1:4222", "nats://127.0.0.1:4222"),
    ],
)  # fmt: skip
def test_redact_url_hides_credentials_only(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redacted_settings_hide_nats_and_query_credentials() -> None:
    settings = Settings.load(
        nats_url="nats://relay:s3cr3t@host:4222",
        database_url="postgresql+psycopg://u:pw@h/db?password=qsecret",
    )
    text = json.dumps(settings.redacted())
    assert "s3cr3t" not in text
    assert "qsecret" not in text
