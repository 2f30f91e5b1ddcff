"""The services one image can serve, by the name `usersuite serve NAME` takes.

Importing this module loads no service; an entry loads its migrations when asked for, and its
composition root (usersuite.bootstrap) only when the process is built, so `migrate` and the
schema checks never load the API's stack."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI imports this module to list the names: nothing heavy at import
    from usersuite.platform.config import Settings
    from usersuite.platform.db.migrate import Migrations
    from usersuite.platform.grpc.container import Container


@dataclass(frozen=True)
class ServiceEntry:
    """How to build a service's API process, its migrations, and the sample call its ready line
    prints (a gRPC method and a JSON body, with the scopes a dev token needs)."""

    build: "Callable[[Settings], Container[Any]]"
    migrations: "Migrations"
    sample_method: str
    sample_body: dict[str, Any] = field(default_factory=dict)
    sample_scopes: str = ""
    # Settings `serve` refuses to start without (besides database_url), checked before it forks.
    needs: tuple[str, ...] = ()


def _build_users(settings: "Settings") -> "Container[Any]":
    from usersuite.bootstrap import bootstrap

    return bootstrap(settings)


def _build_orders(settings: "Settings") -> "Container[Any]":
    from usersuite.bootstrap.orders import bootstrap_orders

    return bootstrap_orders(settings)


def _build_billing(settings: "Settings") -> "Container[Any]":
    from usersuite.bootstrap.billing import bootstrap_billing

    return bootstrap_billing(settings)


def _users() -> ServiceEntry:
    from usersuite.users.adapters.db.schema import migrations

    return ServiceEntry(
        build=_build_users,
        migrations=migrations,
        sample_method="user.v1.UserService/CreateUser",
        # The id the orders and billing samples name, so the printed commands chain in dev.
        sample_body={
            "user_id": "ada-lovelace",
            "user": {"display_name": "Ada Lovelace", "email": "ada@example.com"},
        },
        sample_scopes="users.read users.write",
    )


def _orders() -> ServiceEntry:
    from usersuite.orders.adapters.db.schema import migrations

    return ServiceEntry(
        build=_build_orders,
        migrations=migrations,
        sample_method="order.v1.OrderService/CreateOrder",
        sample_body={
            "order": {
                "user": "users/ada-lovelace",
                "line_items": [{"sku": "BOOK-1", "quantity": 1, "unit_price_minor": 1999}],
                "currency_code": "EUR",
            }
        },
        sample_scopes="orders.read orders.write",
        # Its saga's reply consumer and deadline scanner run in the process.
        needs=("nats_url",),
    )


def _billing() -> ServiceEntry:
    from usersuite.billing.adapters.db.schema import migrations

    return ServiceEntry(
        build=_build_billing,
        migrations=migrations,
        sample_method="billing.v1.BillingService/GetAccount",
        sample_body={"name": "accounts/ada-lovelace"},
        sample_scopes="billing.read billing.write",
        # Its consumer (accounts follow users; the order saga's credit) runs in the process.
        needs=("nats_url",),
    )


# Each entry imports its service only when asked for, so `serve users` loads no other service.
SERVICES: dict[str, Callable[[], ServiceEntry]] = {
    "users": _users,
    "orders": _orders,
    "billing": _billing,
}


def service(name: str) -> ServiceEntry:
    return SERVICES[name]()
