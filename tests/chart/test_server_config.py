"""The config.toml the chart writes is accepted by the server's own Settings, with the values
the chart meant (`usersuite config show --config FILE`, as the pods start with it)."""

import json
from pathlib import Path

from tests.chart.manifests import Manifests
from tests.support.processes import child_env, run_usersuite
from tests.support.tools import describe


def test_server_accepts_the_rendered_config(rendering: Manifests, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(rendering.config_toml())
    result = run_usersuite("config", "show", "--config", str(config), env=child_env())
    assert result.returncode == 0, f"the server refuses the chart's config\n{describe(result)}"
    shown = json.loads(result.stdout)
    expected = rendering.settings()
    assert shown["mode"] == "production"
    for key in ("listen", "metrics_listen", "nats_url", "log_level"):
        assert shown[key] == expected[key], key
    assert shown["database"]["pool_size"] == expected["database"]["pool_size"]
    assert shown["database"]["max_overflow"] == expected["database"]["max_overflow"]
    assert shown["auth"]["enabled"] == expected["auth"]["enabled"]
    assert shown["shutdown_grace_seconds"] == expected["shutdown_grace_seconds"]


def test_server_rejects_a_bad_extra_setting(tmp_path: Path) -> None:
    """extraSettings reach the server verbatim, so its own validation is the backstop."""
    config = tmp_path / "config.toml"
    config.write_text('mode = "production"\n[limits]\nprincipal_rate_per_secnd = 5\n')
    result = run_usersuite("config", "show", "--config", str(config), env=child_env())
    assert result.returncode == 2, describe(result)
    assert "principal_rate_per_secnd" in result.stderr, describe(result)
