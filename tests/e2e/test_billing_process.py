"""`usersuite migrate billing` and `serve billing`, its API over a real channel and its consumer."""

from collections.abc import Callable

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from nats.aio.client import Client

from billing.v1 import billing_pb2, billing_pb2_grpc
from tests.support.billing import provision, publish, reserve_credit, user_created
from tests.support.nats import NatsServer
from tests.support.processes import Launch, run_usersuite, serve_args, server_env
from tests.support.status import failure
from tests.support.tools import describe
from tests.support.waiting import eventually
from usersuite.billing.adapters.db import schema as billing_schema

LIMIT = 10_000
Code = grpc.StatusCode


async def test_serve_billing_answers_over_a_real_channel(
    empty_database: Callable[[], str], nats_server: NatsServer, nc: Client, launch: Launch
) -> None:
    url = empty_database()
    env = server_env(
        url,
        USERSUITE_NATS_URL=nats_server.url,
        USERSUITE_BILLING__DEFAULT_CREDIT_LIMIT_MINOR=str(LIMIT),
    )
    migrated = run_usersuite("migrate", "billing", env=env)
    assert migrated.returncode == 0, describe(migrated)
    head = billing_schema.migrations.head_revision()
    assert f"database schema at {head} (was empty)" in migrated.stdout
    await provision(nc)
    server = launch(serve_args("billing"), env)
    ready = server.wait_ready()
    assert "billing.v1.BillingService/GetAccount" in ready

    await publish(nc, user_created("ada"))
    await publish(nc, reserve_credit("orders/o1", "ada", 2500))
    async with grpc.aio.insecure_channel(server.target) as channel:
        stub = billing_pb2_grpc.BillingServiceStub(channel)
        get = billing_pb2.GetAccountRequest(name="accounts/ada")

        async def reserved() -> bool:
            try:
                return (await stub.GetAccount(get)).reserved_minor == 2500
            except grpc.aio.AioRpcError as exc:
                if exc.code() != Code.NOT_FOUND:  # NOT_FOUND: not consumed yet
                    raise
                return False

        await eventually(reserved, what="the account opened and the credit reserved")
        account = await stub.GetAccount(get)
        assert (account.name, account.user, account.currency_code) == (
            "accounts/ada", "users/ada", "EUR",
        )  # fmt: skip
        assert account.credit_limit_minor == LIMIT
        assert account.state == billing_pb2.Account.STATE_OPEN

        def update(limit: int, etag: str = "", *paths: str) -> billing_pb2.UpdateAccountRequest:
            changed = billing_pb2.Account(name="accounts/ada", credit_limit_minor=limit, etag=etag)
            mask = FieldMask(paths=list(paths or ["credit_limit_minor"]))
            return billing_pb2.UpdateAccountRequest(account=changed, update_mask=mask)

        raised = await stub.UpdateAccount(update(20_000, account.etag))
        assert raised.credit_limit_minor == 20_000
        assert raised.etag != account.etag

        stale = await failure(stub.UpdateAccount(update(30_000, account.etag)))
        assert (stale.code, stale.reason) == (Code.ABORTED, "ETAG_MISMATCH")
        below = await failure(stub.UpdateAccount(update(2000)))
        assert below.code == Code.FAILED_PRECONDITION
        assert below.reason == "CREDIT_LIMIT_BELOW_RESERVED"
        assert below.domain == "usersuite.billing.v1"
        missing = await failure(stub.GetAccount(billing_pb2.GetAccountRequest(name="accounts/bob")))
        assert (missing.code, missing.reason) == (Code.NOT_FOUND, "ACCOUNT_NOT_FOUND")

        bad_name = await failure(stub.GetAccount(billing_pb2.GetAccountRequest(name="users/ada")))
        assert (bad_name.code, bad_name.reason) == (Code.INVALID_ARGUMENT, "VALIDATION_FAILED")
        assert list(bad_name.violations) == ["name"]
        bad_request = update(-1, "", "credit_limit_minor", "state")
        bad_update = await failure(stub.UpdateAccount(bad_request))
        assert bad_update.code == Code.INVALID_ARGUMENT
        assert sorted(bad_update.violations) == [
            "account.credit_limit_minor",
            "update_mask",
        ]
        assert (await stub.GetAccount(get)).credit_limit_minor == 20_000

    server.terminate()
    assert server.wait() == 0, server.output()
