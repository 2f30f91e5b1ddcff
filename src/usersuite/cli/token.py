"""`usersuite token`: a token for `usersuite dev`; real tokens come from an identity provider."""

import argparse

from usersuite.cli import common
from usersuite.cli.dev_secrets import stored_dev_secrets
from usersuite.cli.failures import ConfigError
from usersuite.platform.config import Settings

DEFAULT_SCOPES = "users.read users.write"
DEFAULT_TTL_SECONDS = 3600.0


def cmd_token(args: argparse.Namespace) -> int:
    """Signs with the dev folder's generated secret, or with a configured HS256 secret only
    when the mode is explicitly dev: a production secret in the environment is never used.
    """
    explicit_mode = Settings.explicit_mode(args.config)
    if explicit_mode == "production":
        raise ConfigError("this command is for dev mode only; the configured mode is production")
    settings = common.load_settings(args, mode="dev")
    configured = settings.auth.hs256_secret
    if explicit_mode == "dev" and configured is not None:
        secret = configured.get_secret_value()
    else:
        stored = stored_dev_secrets(settings.dev.dir.resolve()).get("auth_hs256_secret")
        if stored is None:
            raise ConfigError(
                f"no dev secret in {settings.dev.dir}/: start `usersuite dev` (make run) first"
            )
        secret = stored
    from usersuite.platform.grpc.auth.jwt import (
        mint_token,  # see usersuite.cli: heavy imports run on use
    )

    token = mint_token(
        secret.encode(),
        subject=args.subject,
        scopes=args.scope.split(),
        issuer=settings.auth.issuer,
        audience=settings.auth.audience,
        ttl_seconds=args.ttl,
    )
    print(token)
    return 0


def token_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scope", default=DEFAULT_SCOPES, help="space-separated")
    parser.add_argument("--subject", default="dev-user")
    parser.add_argument(
        "--ttl", type=float, default=DEFAULT_TTL_SECONDS, help="lifetime in seconds"
    )


def register(commands: common.Commands) -> None:
    common.add_command(
        commands, "token", "mint a dev token (dev mode only)", cmd_token, token_flags
    )
