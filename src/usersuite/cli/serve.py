"""`usersuite serve`: the gRPC API, and the ready line that tells a person how to call it."""

import argparse
import asyncio
import json
import shlex

from usersuite.api import server
from usersuite.bootstrap import bootstrap
from usersuite.cli import common
from usersuite.config import Settings, parse_address

SAMPLE_USER = {"user": {"display_name": "Ada Lovelace", "email": "ada@example.com"}}


def ready_line(settings: Settings, port: int, note: str = "") -> str:
    host, _ = parse_address(settings.listen)
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - dial, not bind
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    auth = ""
    if settings.auth.enabled and settings.mode == "dev":
        token = f"$({common.command_name('usersuite')} token --scope 'users.read users.write')"
        auth = f'-H "authorization: Bearer {token}" '
    elif settings.auth.enabled:
        auth = '-H "authorization: Bearer $TOKEN" '  # a token from your identity provider
    body = shlex.quote(json.dumps(SAMPLE_USER))
    command = (
        f"{common.command_name('grpcurl')} -plaintext {auth}-d {body} "
        f"{target} user.v1.UserService/CreateUser"
    )
    return f"usersuite ready on {target} (mode {settings.mode}{note}); try: {command}"


def cmd_serve(args: argparse.Namespace) -> int:
    settings = common.load_settings(args)
    common.database_url(settings)
    try:
        container = bootstrap(settings)  # refuses insecure production settings
    except ValueError as exc:
        raise common.ConfigError(f"invalid configuration: {exc}") from None
    common.check_schema(settings)

    def on_ready(port: int) -> None:
        print(ready_line(settings, port), flush=True)

    return asyncio.run(server.serve(container, on_ready))


def register(commands: common.Commands) -> None:
    common.add_command(
        commands, "serve", "run the gRPC API", cmd_serve,
        common.database_flag, common.listen_flag, common.metrics_listen_flag, common.migrate_flag,
    )  # fmt: skip
