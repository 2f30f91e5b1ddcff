"""`usersuite serve`: the gRPC API, and the ready line that tells a person how to call it."""

import argparse
import json
import os
import shlex

from usersuite.cli import common
from usersuite.cli.failures import ConfigError
from usersuite.cli.serve_workers import WORKER_FLAG, as_worker, supervise
from usersuite.platform.config import Settings, parse_address, required
from usersuite.platform.ops.workers import worker_count


def ready_line(settings: Settings, port: int, note: str = "", service: str = "users") -> str:
    host, _ = parse_address(settings.listen)
    host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - dial, not bind
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    from usersuite.cli.services import service as entry

    sample = entry(service)
    auth = ""
    if settings.auth.enabled and settings.mode == "dev":
        scopes = shlex.quote(sample.sample_scopes)
        token = f"$({common.command_name('usersuite')} token --scope {scopes})"
        auth = f'-H "authorization: Bearer {token}" '
    elif settings.auth.enabled:
        auth = '-H "authorization: Bearer $TOKEN" '  # a token from your identity provider
    body = shlex.quote(json.dumps(sample.sample_body))
    command = (
        f"{common.command_name('grpcurl')} -plaintext {auth}-d {body} "
        f"{target} {sample.sample_method}"
    )
    name = "" if service == "users" else f" {service}"
    return f"usersuite{name} ready on {target} (mode {settings.mode}{note}); try: {command}"


def cmd_serve(args: argparse.Namespace) -> int:
    given = {"workers": args.workers} if args.workers is not None else {}
    settings = common.load_settings(args, **given)
    common.database_url(settings)
    from usersuite.cli.services import service as entry

    for setting in entry(args.service).needs:  # one line naming it, before anything starts
        required(getattr(settings, setting), setting)
    if args.worker:  # started by `serve --workers N`, which checked the schema and the address
        return _serve(settings, args.service, worker=True)
    try:
        settings.check_api_security()
    except ValueError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None
    common.check_schema(settings, args.service)
    count = worker_count(settings.workers)
    if count > 1:
        note = f"; {count} workers"
        return supervise(
            settings,
            count,
            lambda port: print(ready_line(settings, port, note, args.service), flush=True),
        )
    return _serve(settings, args.service, worker=False)


def _serve(settings: Settings, service: str, *, worker: bool) -> int:
    # See usersuite.cli: heavy imports run on use.
    import uvloop

    from usersuite.cli.services import service as entry
    from usersuite.platform.grpc import server

    try:
        container = entry(service).build(settings)  # refuses insecure production settings
    except ValueError as exc:
        raise ConfigError(f"invalid configuration: {exc}") from None

    def on_ready(port: int) -> None:
        # A worker's one line tells its supervisor it serves; people read the parent's.
        print(
            f"worker {os.getpid()} serving" if worker else ready_line(settings, port, "", service),
            flush=True,
        )

    # uvloop: the same asyncio, a faster loop (measured by `make bench`).
    serving = server.serve(container, on_ready, worker=worker)
    return uvloop.run(as_worker(container, serving) if worker else serving)


def workers_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers", type=_workers,
        help="processes sharing the port (SO_REUSEPORT): N, or auto for the CPUs usable; "
        "size N by the CPU limit under a container quota (docs/scaling.md)",
    )  # fmt: skip
    parser.add_argument(WORKER_FLAG, dest="worker", action="store_true", help=argparse.SUPPRESS)


def _workers(value: str) -> int | str:
    if value == "auto":
        return value
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError("N (at least 1) or auto")
    return int(value)


def register(commands: common.Commands) -> None:
    common.add_command(
        commands, "serve", "run a service's gRPC API", cmd_serve, common.service_flag,
        common.database_flag, common.nats_flag, common.listen_flag, common.metrics_listen_flag,
        common.migrate_flag, workers_flags,
    )  # fmt: skip
