"""`usersuite gateway config`: the Envoy configuration of the REST/gRPC-Web/Connect gateway."""

import argparse
import json
import shlex

from usersuite.cli import common
from usersuite.cli.failures import ConfigError
from usersuite.platform.config import Settings

# Another user than the grpcurl line's, so that a person may paste both.
REST_SAMPLE_USER = {"display_name": "Grace Hopper", "email": "grace@example.com"}


def rest_hint(settings: Settings, url: str) -> str:
    """A curl command that creates a user over REST through the gateway at `url`."""
    auth = ""
    if settings.auth.enabled and settings.mode == "dev":
        token = f"$({common.command_name('usersuite')} token --scope 'users.read users.write')"
        auth = f'-H "authorization: Bearer {token}" '
    elif settings.auth.enabled:
        auth = '-H "authorization: Bearer $TOKEN" '  # a token from your identity provider
    body = shlex.quote(json.dumps(REST_SAMPLE_USER))
    return f"curl -sS {auth}-H 'content-type: application/json' -d {body} {url}/v1/users"


def console_hint(settings: Settings, url: str) -> str:
    """Where the browser console is, and the token it asks for."""
    if settings.auth.enabled and settings.mode == "dev":
        return f"console at {url}/, token from: {common.command_name('usersuite')} token"
    return f"console at {url}/"


def cmd_gateway_config(args: argparse.Namespace) -> int:
    settings = common.load_settings(args)
    from usersuite.gateway import envoy_config, to_yaml  # see usersuite.cli: loaded on use

    try:
        config = envoy_config(settings)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot build the gateway configuration: {exc}") from None
    print(json.dumps(config, indent=2) if args.format == "json" else to_yaml(config), end="\n")
    return 0


def format_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=("yaml", "json"), default="yaml")


def register(commands: common.Commands) -> None:
    gateway = common.add_group(commands, "gateway", "the Envoy gateway (REST, gRPC-Web, Connect)")
    common.add_command(
        gateway, "config", "print Envoy's configuration for the current settings",
        cmd_gateway_config, common.listen_flag, format_flag,
    )  # fmt: skip
