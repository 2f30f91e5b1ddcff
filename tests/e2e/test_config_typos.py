"""`usersuite config show` as an operator meets a typo'd setting, and where each value came from."""

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import child_env, production_env, run_usersuite
from tests.support.tools import describe

pytestmark = pytest.mark.e2e
TYPOS = {
    "USERSUITE_DATABSE_URL": "postgresql+psycopg://u@db/users",
    "USERSUITE_TLS__CERT_FIEL": "c",
}


def typo_file(tmp_path: Path, mode: str) -> Path:
    config = tmp_path / "usersuite.toml"
    config.write_text(f'mode = "{mode}"\nlisten_adress = "127.0.0.1:1"\n[tls]\ncert_fiel = "c"\n')
    return config


def warnings_in(stderr: str) -> list[str]:
    """The messages of the JSON log lines (stderr is not a terminal)."""
    return [json.loads(line)["message"] for line in stderr.splitlines() if line.strip()]


def test_dev_mode_warns_with_the_closest_setting_and_carries_on(tmp_path: Path) -> None:
    config = typo_file(tmp_path, "dev")

    result = run_usersuite(
        "config", "show", "--config", str(config), env=child_env(**TYPOS), cwd=tmp_path
    )

    assert result.returncode == 0, describe(result)
    assert warnings_in(result.stderr) == [
        "USERSUITE_DATABSE_URL is not a setting; did you mean USERSUITE_DATABASE_URL?",
        "USERSUITE_TLS__CERT_FIEL is not a setting; did you mean USERSUITE_TLS__CERT_FILE?",
        f"listen_adress in {config} is not a setting; did you mean listen?",
        f"tls.cert_fiel in {config} is not a setting; did you mean tls.cert_file?",
    ], describe(result)
    shown = json.loads(result.stdout)
    assert shown["database_url"] is None  # the typo set nothing
    assert shown["tls"]["cert_file"] is None


@pytest.mark.parametrize("where", ["environment", "file"])
def test_production_mode_refuses_a_typo_in_one_line(tmp_path: Path, where: str) -> None:
    args: tuple[str, ...]
    if where == "environment":
        args, env = (), production_env(USERSUITE_TLS__CERT_FIEL="c")
        expected = (
            "USERSUITE_TLS__CERT_FIEL is not a setting; did you mean USERSUITE_TLS__CERT_FILE?"
        )
    else:
        config = typo_file(tmp_path, "production")
        args, env = ("--config", str(config)), production_env()
        expected = f"listen_adress in {config} is not a setting; did you mean listen?"

    result = run_usersuite("config", "show", *args, env=env, cwd=tmp_path)

    assert result.returncode == 2, describe(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, describe(result)
    assert "production mode refuses unknown settings" in lines[0], describe(result)
    assert expected in lines[0], describe(result)
    assert result.stdout == "", describe(result)


def test_config_show_names_the_source_of_each_value(tmp_path: Path) -> None:
    config = tmp_path / "usersuite.toml"
    config.write_text('mode = "dev"\nshutdown_grace_seconds = 7.5\n')
    env = child_env(USERSUITE_LOG_LEVEL="WARNING")

    result = run_usersuite(
        "config", "show", "--sources", "--config", str(config), "--listen", "127.0.0.1:3333",
        env=env, cwd=tmp_path,
    )  # fmt: skip

    assert result.returncode == 0, describe(result)
    shown: dict[str, Any] = json.loads(result.stdout)
    assert shown["listen"] == {"value": "127.0.0.1:3333", "source": "flag"}
    assert shown["log_level"] == {"value": "WARNING", "source": "environment"}
    assert shown["shutdown_grace_seconds"] == {"value": 7.5, "source": "file"}
    assert shown["metrics_listen"] == {"value": "127.0.0.1:9464", "source": "default"}
    assert shown["tls.cert_file"] == {"value": None, "source": "default"}
