"""The one line a command prints for a failure its user can cause, and the exit status with it.

Every command's failure goes through `explain`: a fault a person can fix becomes
`usersuite: <what failed> (<cause>); check <setting>`, credentials redacted. Anything else keeps
its traceback: that is a bug to report. `--log-level DEBUG` logs the traceback of a known fault too.
"""

import tomllib
from pathlib import Path

from usersuite.platform.config import (
    AddressInUse,
    MissingSetting,
    SettingError,
    Settings,
    env_name,
    redact_url,
)

EXIT_UNAVAILABLE = 1  # a dependency does not answer (yet): the same command may work later
EXIT_CONFIG = 2  # a setting is wrong: the command fails the same way until it is changed

# libpq reports a refused login before any SQLSTATE exists: its wording is all there is.
WRONG_CREDENTIALS = ("password authentication failed", "no password supplied", 'role "')
MISSING_DATABASE = 'database "'
# The settings a command line can also give as a flag (usersuite.cli.common).
FLAGS = {"database_url": "--database-url", "nats_url": "--nats-url"}


class Failure(Exception):
    """A failure explained for the person who ran the command; `status` is the exit status."""

    status = EXIT_CONFIG


class ConfigError(Failure):
    """The configuration or the database state does not allow the command to run."""


class Unavailable(Failure):
    """A dependency the command needs does not answer."""

    status = EXIT_UNAVAILABLE


def explain(
    exc: BaseException, settings: Settings | None, config_file: Path | None
) -> Failure | None:
    """`exc` as one line for a person, or None when it is not a fault a person can cause."""
    if isinstance(exc, Failure):
        return exc
    if isinstance(exc, MissingSetting) and exc.setting in FLAGS:
        return ConfigError(f"{exc} or {FLAGS[exc.setting]}")
    if isinstance(exc, MissingSetting):
        return ConfigError(str(exc))
    if isinstance(exc, SettingError | AddressInUse):
        return ConfigError(f"{exc}; check {env_name(exc.setting)}")
    if isinstance(exc, tomllib.TOMLDecodeError):
        return ConfigError(f"config file {config_file} is not valid TOML ({exc}); check --config")
    if settings is None:
        return None
    if isinstance(exc, ConnectionError) and _is_nats_unreachable(exc):
        url = redact_url(str(settings.nats_url))
        return Unavailable(f"cannot reach NATS at {url} ({exc}); check {env_name('nats_url')}")
    database = _database_error(exc)
    if database is not None and settings.database_url is not None:
        return _database_failure(database, redact_url(settings.database_url.get_secret_value()))
    return None


def _is_nats_unreachable(exc: ConnectionError) -> bool:
    from usersuite.platform.nats.jetstream import NatsUnreachable  # loaded when NATS was used

    return isinstance(exc, NatsUnreachable)


def _database_error(exc: BaseException) -> BaseException | None:
    """psycopg's OperationalError behind SQLAlchemy's wrapper, if that is what `exc` is."""
    import psycopg  # loaded already when a database was used

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, psycopg.OperationalError):
            return seen
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


def _database_failure(exc: BaseException, url: str) -> Failure:
    cause, check = _cause(exc), f"check {env_name('database_url')}"
    if any(words in cause for words in WRONG_CREDENTIALS):
        return ConfigError(f"the database at {url} refused the credentials ({cause}); {check}")
    if cause.startswith(MISSING_DATABASE) and cause.endswith("does not exist"):
        return ConfigError(f"the database at {url} does not exist ({cause}); {check}")
    return Unavailable(f"cannot reach the database at {url} ({cause}); {check}")


def _cause(exc: BaseException) -> str:
    """libpq's reason, without its preamble: `connection refused`, `password authentication…`."""
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    reason = first_line.rsplit("failed: ", 1)[-1].removeprefix("FATAL:").strip()
    return reason[:1].lower() + reason[1:]
