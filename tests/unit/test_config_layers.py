"""Unknown setting names and their suggestions, and where each setting's value comes from."""

import logging
from pathlib import Path

import pytest

from tests.support.environment import clean_environment  # noqa: F401 (autouse fixture)
from usersuite.platform.config import Settings
from usersuite.platform.config.layers import names_a_setting, read_file, unknown_in_environment


def unknown_env(**environ: str) -> list[str]:
    return [str(found) for found in unknown_in_environment(Settings, environ)]


# --- suggestions ------------------------------------------------------------------------------


def test_a_misspelt_variable_names_the_closest_setting() -> None:
    assert unknown_env(USERSUITE_DATABSE_URL="x") == [
        "USERSUITE_DATABSE_URL is not a setting; did you mean USERSUITE_DATABASE_URL?"
    ]


def test_a_misspelt_nested_variable_names_the_closest_nested_setting() -> None:
    assert unknown_env(USERSUITE_TLS__CERT_FIEL="x") == [
        "USERSUITE_TLS__CERT_FIEL is not a setting; did you mean USERSUITE_TLS__CERT_FILE?"
    ]


def test_a_group_alone_is_no_setting_and_suggests_the_setting_it_prefixes() -> None:
    assert unknown_env(USERSUITE_DATABASE="postgresql+psycopg://db/users") == [
        "USERSUITE_DATABASE is not a setting; did you mean USERSUITE_DATABASE_URL?"
    ]


def test_nothing_close_gets_no_suggestion() -> None:
    assert unknown_env(USERSUITE_ZZZZZZZZZZZZZZ="1") == [
        "USERSUITE_ZZZZZZZZZZZZZZ is not a setting"
    ]


def test_known_variables_and_other_prefixes_are_not_reported() -> None:
    known = {
        "USERSUITE_LISTEN": "127.0.0.1:1",
        "usersuite_log_level": "INFO",  # names are case-insensitive, as the settings read them
        "USERSUITE_TLS__CERT_FILE": "cert.pem",
        "USERSUITE_AUTH__SIGNING_KEYS__KID": "a mapping setting takes keys below it",
        "PATH": "/bin",
        "USERSUITEX": "not our prefix",
    }
    assert unknown_env(**known) == []


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("listen",), True),
        (("tls", "cert_file"), True),
        (("auth", "signing_keys", "kid"), True),
        (("tls",), False),
        (("listen", "port"), False),
        (("tls", "cert_fiel"), False),
        ((), False),
    ],
)
def test_which_paths_name_a_setting(path: tuple[str, ...], expected: bool) -> None:
    assert names_a_setting(Settings, path) is expected


def test_unknown_file_keys_are_dropped_with_a_suggestion(tmp_path: Path) -> None:
    config = tmp_path / "usersuite.toml"
    config.write_text('listen_adress = "x"\nlisten = "127.0.0.1:1"\n[tls]\ncert_fiel = "c"\n')

    kept, unknown = read_file(Settings, config)

    assert kept == {"listen": "127.0.0.1:1", "tls": {}}
    assert [str(found) for found in unknown] == [
        f"listen_adress in {config} is not a setting; did you mean listen?",
        f"tls.cert_fiel in {config} is not a setting; did you mean tls.cert_file?",
    ]


# --- loading with unknown names ---------------------------------------------------------------


def test_dev_mode_warns_once_and_loads_the_rest(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("USERSUITE_LISTN", "127.0.0.1:9")
    monkeypatch.setenv("USERSUITE_LOG_LEVEL", "ERROR")

    with caplog.at_level(logging.WARNING):
        first = Settings.load(mode="dev")
        Settings.load(mode="dev")

    assert first.log_level == "ERROR"
    assert first.listen == "127.0.0.1:50051"
    warned = [r.getMessage() for r in caplog.records if "USERSUITE_LISTN" in r.getMessage()]
    assert warned == ["USERSUITE_LISTN is not a setting; did you mean USERSUITE_LISTEN?"]


def test_production_mode_refuses_in_one_line_naming_the_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("USERSUITE_DATABSE_URL", "x")
    monkeypatch.setenv("USERSUITE_TLS__CERT_FIEL", "x")

    with pytest.raises(ValueError, match="refuses unknown settings") as caught:
        Settings.load()

    assert str(caught.value) == (
        "production mode refuses unknown settings (2 found): "
        "USERSUITE_DATABSE_URL is not a setting; did you mean USERSUITE_DATABASE_URL?"
    )


def test_the_mode_set_in_the_file_decides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "usersuite.toml"
    config.write_text('mode = "dev"\n')
    monkeypatch.setenv("USERSUITE_TLS__CERT_FIEL", "x")

    assert Settings.load(config).tls.cert_file is None
    with pytest.raises(ValueError, match="USERSUITE_TLS__CERT_FILE"):
        Settings.load(config, mode="production")


# --- sources ----------------------------------------------------------------------------------


def test_each_value_names_the_layer_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "usersuite.toml"
    config.write_text('mode = "dev"\nlisten = "127.0.0.1:1"\n[database]\npool_size = 3\n')
    monkeypatch.setenv("USERSUITE_LISTEN", "127.0.0.1:2")
    monkeypatch.setenv("USERSUITE_TLS__ALLOW_PLAINTEXT", "true")

    sources = Settings.sources(config, metrics_listen="127.0.0.1:3", nats_url=None)

    assert sources["mode"] == "file"
    assert sources["database.pool_size"] == "file"
    assert sources["listen"] == "environment"
    assert sources["tls.allow_plaintext"] == "environment"
    assert sources["metrics_listen"] == "flag"
    assert sources["nats_url"] == "default"  # a flag not given
    assert sources["database.max_overflow"] == "default"
    assert set(sources) >= {"auth.issuer", "bridge.lock_key"}
    assert "tls" not in sources  # groups are not settings, their fields are


def test_a_group_given_whole_as_a_flag_sets_all_its_fields() -> None:
    sources = Settings.sources(auth=Settings.load(mode="dev").auth)

    assert sources["auth.issuer"] == "flag"
    assert sources["tls.cert_file"] == "default"
