"""`usersuite saga show orders/ID`: an order's sagas and their timelines, from orders' database."""

import argparse
import asyncio
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from pydantic import SecretStr

from usersuite.cli import common
from usersuite.cli.failures import Failure
from usersuite.platform.config import Settings

if TYPE_CHECKING:
    from usersuite.orders.domain.order import Order
    from usersuite.orders.domain.saga import Saga

EXIT_USAGE = 2


class BadName(Failure):
    status = EXIT_USAGE


def order_id_of(name: str) -> str:
    from usersuite.platform.domain.resource_ids import check_resource_id

    order_id = name.removeprefix("orders/")
    try:
        if not name.startswith("orders/"):
            raise ValueError("it must have the form orders/{order_id}")
        return check_resource_id(order_id, allow_generated=True)
    except ValueError as exc:
        raise BadName(f"{name!r} is not an order name: {exc}") from None


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def saga_json(saga: "Saga") -> dict[str, Any]:
    return {
        "saga_id": saga.saga_id,
        "kind": saga.kind.value,
        "step": saga.step.value,
        "command_id": saga.command_id,
        "attempt": saga.attempt,
        "deadline": _iso(saga.deadline),
        "parked": saga.parked,
        "timeline": [
            {
                "at": _iso(entry.at),
                "step": entry.step.value,
                "event": entry.event.value,
                "command_id": entry.command_id,
                "attempt": entry.attempt,
                "detail": entry.detail,
            }
            for entry in saga.timeline
        ],
    }


def show(order: "Order", sagas: "list[Saga]", out: TextIO, *, as_json: bool) -> None:
    reason = order.rejection_reason.value if order.rejection_reason else None
    if as_json:
        document = {
            "order": order.name,
            "state": order.state.value,
            "rejection_reason": reason,
            "sagas": [saga_json(saga) for saga in sagas],
        }
        print(json.dumps(document, indent=2), file=out)
        return
    print(f"{order.name}  {order.state.value}{f' ({reason})' if reason else ''}", file=out)
    for saga in sagas:
        waiting = f", waiting on {saga.command_id} until {_iso(saga.deadline)}"
        status = "done" if saga.command_id is None else waiting.removeprefix(", ")
        parked = " (parked)" if saga.parked else ""
        print(f"saga {saga.saga_id} {saga.kind.value}: {status}{parked}", file=out)
        for entry in saga.timeline:
            detail = f"  {entry.detail}" if entry.detail else ""
            print(
                f"  {_iso(entry.at)}  {entry.step.value:<14} {entry.event.value:<9} "
                f"command {entry.command_id} attempt {entry.attempt}{detail}",
                file=out,
            )


def with_dev_database(settings: Settings, explicit_mode: str | None) -> Settings:
    """With no database given and production not chosen, the orders database `usersuite dev`
    keeps (as `usersuite token` signs with dev's secret), once dev has made it."""
    from usersuite.cli.dev_suite import dev_database, dev_database_url

    if settings.database_url is not None or explicit_mode == "production":
        return settings
    if not dev_database(settings, "orders").is_file():
        return settings
    url = SecretStr(dev_database_url(settings, "orders"))
    return settings.model_copy(update={"database_url": url})


def cmd_saga_show(args: argparse.Namespace) -> int:
    order_id = order_id_of(args.name)
    settings = with_dev_database(common.load_settings(args), Settings.explicit_mode(args.config))
    common.database_url(settings)
    from usersuite.bootstrap.orders import order_sagas  # see usersuite.cli: heavy imports on use

    order, sagas = asyncio.run(order_sagas(settings, order_id))
    if order is None:
        raise BadName(f"no order {args.name} in this database")
    show(order, sagas, sys.stdout, as_json=args.json)
    return 0


def show_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", help="the order, orders/{order_id}")
    parser.add_argument("--json", action="store_true", help="one JSON document")


def register(commands: common.Commands) -> None:
    saga = common.add_group(commands, "saga", "inspect the order saga (orders' database)")
    common.add_command(
        saga, "show", "print an order's sagas and their timelines", cmd_saga_show,
        common.database_flag, show_flags,
    )  # fmt: skip
