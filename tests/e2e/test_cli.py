"""The command line as an operator meets it: config show, dev mode, configuration errors."""

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import (
    Launch,
    child_env,
    production_env,
    run_shell,
    run_usersuite,
    server_env,
)
from tests.support.tools import describe
from tests.support.waiting import eventually, holds

DB_PASSWORD = "pw-e2e-Zq8vN3xK"
PAGE_SECRET = "page-secret-e2e-7f3a9c1b5d2e8f4a6b0c"
URL_WITH_PASSWORD = f"postgresql+psycopg://alice:{DB_PASSWORD}@db.internal:5432/users"


def config_show(*args: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    result = run_usersuite("config", "show", *args, env=env, cwd=cwd)
    assert result.returncode == 0, describe(result)
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


# --- config show --------------------------------------------------------------------------------


def test_config_show_redacts_the_database_password_and_the_secret(tmp_path: Path) -> None:
    env = production_env(
        USERSUITE_DATABASE_URL=URL_WITH_PASSWORD, USERSUITE_PAGE_TOKEN_SECRET=PAGE_SECRET
    )
    result = run_usersuite("config", "show", env=env, cwd=tmp_path)

    assert result.returncode == 0, describe(result)
    for secret in (DB_PASSWORD, PAGE_SECRET):
        assert secret not in result.stdout, result.stdout
        assert secret not in result.stderr, result.stderr
    shown = json.loads(result.stdout)
    # Redacted, not dropped: the operator still sees where the service connects.
    assert "alice" in shown["database_url"]
    assert "db.internal:5432/users" in shown["database_url"]
    assert shown["page_token_secret"], "the secret's presence should still be visible"


def test_config_file_is_overridden_by_env_which_is_overridden_by_flags(tmp_path: Path) -> None:
    config = tmp_path / "usersuite.toml"
    config.write_text(
        'listen = "127.0.0.1:1111"\n'
        "shutdown_grace_seconds = 7.5\n"
        f'page_token_secret = "{PAGE_SECRET}"\n'
    )
    env = child_env(USERSUITE_AUTH__ENABLED="false")
    with_env = child_env(USERSUITE_AUTH__ENABLED="false", USERSUITE_LISTEN="127.0.0.1:2222")

    from_file = config_show("--config", str(config), env=env, cwd=tmp_path)
    env_over_file = config_show("--config", str(config), env=with_env, cwd=tmp_path)
    flag_over_env = config_show(
        "--config", str(config), "--listen", "127.0.0.1:3333", env=with_env, cwd=tmp_path
    )

    assert from_file["listen"] == "127.0.0.1:1111"
    assert env_over_file["listen"] == "127.0.0.1:2222"
    assert flag_over_env["listen"] == "127.0.0.1:3333"
    # Values that nothing overrides still come from the file.
    for shown in (from_file, env_over_file, flag_over_env):
        assert shown["shutdown_grace_seconds"] == 7.5
        assert PAGE_SECRET not in json.dumps(shown)


# --- dev mode -----------------------------------------------------------------------------------


def test_dev_starts_on_embedded_defaults_and_its_ready_line_command_works(
    tmp_path: Path, launch: Launch
) -> None:
    workdir = tmp_path / "laptop"
    workdir.mkdir()
    # Free ports for all three services (dev gives the next services the ports after users').
    env = child_env(
        USERSUITE_LISTEN="127.0.0.1:0",
        USERSUITE_METRICS_LISTEN="127.0.0.1:0",
        USERSUITE_DEV__NATS_LISTEN="127.0.0.1:0",
        USERSUITE_GATEWAY__LISTEN="127.0.0.1:0",
        USERSUITE_GATEWAY__ADMIN_LISTEN="127.0.0.1:0",
    )

    dev = launch(["dev"], env, cwd=workdir)
    line = dev.wait_ready()
    orders_line = dev.wait_ready()
    billing_line = dev.wait_ready()

    assert "(mode dev" in line, line
    assert orders_line.startswith("usersuite orders ready on "), orders_line
    assert billing_line.startswith("usersuite billing ready on "), billing_line
    assert (workdir / ".dev" / "usersuite.db").is_file(), dev.output()
    # The grpcurl command; the gateway's curl follows it (tests/e2e/test_gateway.py).
    command = line.split("try: ", 1)[1].split(" ; or over REST: ", 1)[0]
    assert command.startswith("grpcurl "), line
    result = run_shell(command, workdir)
    assert result.returncode == 0, f"{command}\n{describe(result)}"
    user = json.loads(result.stdout)
    assert user["name"] == "users/ada-lovelace"
    assert user["email"] == "ada@example.com"
    assert user["displayName"] == "Ada Lovelace"

    # The ready line also names the events tail; the UserCreated reaches the stream.
    tail = line.split("watch events with: ", 1)[1].split(")", 1)[0]
    assert tail.startswith("usersuite events tail --nats-url nats://127.0.0.1:"), line
    events = run_shell(f"{tail} --from-start --limit 1", workdir)
    assert events.returncode == 0, describe(events)
    event = json.loads(events.stdout)
    assert event["type"] == "user.v1.UserCreated"
    assert event["subject"] == user["name"]
    assert event["payload"]["user"]["email"] == "ada@example.com"

    # The orders line places an order for that user, once billing opened Ada's account from
    # the UserCreated (the billing line's GetAccount finds it); billing approves it, and `saga
    # show` tells the story.
    get_account = billing_line.split("try: ", 1)[1]
    assert get_account.startswith("grpcurl "), billing_line
    asyncio.run(
        eventually(
            holds(lambda: run_shell(get_account, workdir).returncode == 0),
            what="Ada's account opened by billing",
        )
    )
    command = orders_line.split("try: ", 1)[1]
    assert command.startswith("grpcurl "), orders_line
    assert "then see its saga: usersuite saga show orders/ID" in orders_line, orders_line
    placed = run_shell(command, workdir)
    assert placed.returncode == 0, f"{command}\n{describe(placed)}"
    order = json.loads(placed.stdout)
    assert order["user"] == "users/ada-lovelace"
    shown: dict[str, Any] = {}

    def decided() -> bool:
        result = run_shell(f"usersuite saga show {order['name']} --json", workdir)
        assert result.returncode == 0, describe(result)
        shown.update(json.loads(result.stdout))
        return bool(shown["state"] != "PENDING")

    asyncio.run(eventually(holds(decided), what="the order's saga decided"))
    assert shown["state"] == "APPROVED", shown
    (saga,) = shown["sagas"]
    assert [(e["step"], e["event"]) for e in saga["timeline"]] == [
        ("RESERVE_CREDIT", "SENT"),
        ("RESERVE_CREDIT", "REPLIED"),
    ]


# --- configuration errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env_values", "names"),
    [
        ([], {"USERSUITE_LISTEN": "nonsense"}, "listen"),
        (["--listen", "nonsense"], {}, "listen"),
        ([], {"USERSUITE_PAGE_TOKEN_SECRET": "too-short"}, "page_token_secret"),
        ([], {"USERSUITE_DATABASE_URL": "mysql://db/users"}, "database_url"),
    ],
    ids=["env-listen", "flag-listen", "short-secret", "unsupported-database"],
)
def test_invalid_configuration_exits_2_with_one_clear_line(
    tmp_path: Path, args: list[str], env_values: dict[str, str], names: str
) -> None:
    env = server_env("postgresql+psycopg://u:p@127.0.0.1:1/none", **env_values)

    result = run_usersuite("serve", *args, env=env, cwd=tmp_path)

    assert result.returncode == 2, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, describe(result)
    assert lines[0].startswith("usersuite: invalid configuration"), describe(result)
    assert names in lines[0], describe(result)
    assert not result.stdout.strip(), describe(result)


PRODUCTION_SECRET = "production-hs256-secret-0123456789abcdef0123"


@pytest.mark.parametrize(
    ("env", "why"),
    [
        ({"USERSUITE_MODE": "production"}, "dev mode only"),
        # A production secret in the environment is never used to mint a token.
        ({"USERSUITE_AUTH__HS256_SECRET": PRODUCTION_SECRET}, "start `usersuite dev`"),
    ],
)
def test_token_refuses_outside_dev(tmp_path: Path, env: dict[str, str], why: str) -> None:
    result = run_usersuite("token", env=child_env(**env), cwd=tmp_path)

    assert result.returncode == 2, describe(result)
    assert result.stdout == ""
    assert why in result.stderr
    assert not (tmp_path / ".dev").exists()


def test_token_signs_with_the_dev_folder_secret(tmp_path: Path) -> None:
    import jwt

    secret = "dev-" + "s" * 40
    (tmp_path / ".dev").mkdir()
    (tmp_path / ".dev" / "secrets.json").write_text(json.dumps({"auth_hs256_secret": secret}))
    env = child_env(USERSUITE_AUTH__HS256_SECRET=PRODUCTION_SECRET)
    result = run_usersuite("token", "--scope", "users.read", env=env, cwd=tmp_path)

    assert result.returncode == 0, describe(result)
    claims = jwt.decode(result.stdout.strip(), secret, algorithms=["HS256"], audience="usersuite")
    assert claims["scope"] == "users.read"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(result.stdout.strip(), PRODUCTION_SECRET, algorithms=["HS256"],
                   audience="usersuite")  # fmt: skip


@pytest.mark.parametrize(
    ("variable", "what"), [("USERSUITE_LISTEN", "gRPC"), ("USERSUITE_METRICS_LISTEN", "metrics")]
)
def test_a_taken_port_exits_2_with_one_line(
    tmp_path: Path, migrated_database: str, variable: str, what: str
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        taken = f"127.0.0.1:{holder.getsockname()[1]}"
        ports = {"USERSUITE_LISTEN": "127.0.0.1:0", "USERSUITE_METRICS_LISTEN": "127.0.0.1:0"}
        env = server_env(migrated_database, **{**ports, variable: taken})
        result = run_usersuite("serve", env=env, cwd=tmp_path, timeout=60)

    assert result.returncode == 2, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    assert f"usersuite: cannot listen on {taken} ({what})" in result.stderr, describe(result)
    assert not result.stdout.strip(), describe(result)
