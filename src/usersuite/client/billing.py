"""BillingClient: a typed async client of billing.v1.BillingService."""

import grpc
from google.protobuf import field_mask_pb2

from billing.v1 import billing_pb2, billing_pb2_grpc
from usersuite.client.base import ServiceClient


class BillingClient(ServiceClient):
    """billing.v1.BillingService; see ServiceClient for deadlines, tokens, the breaker and
    errors. An account is named after its user: the account of "users/ID" is "accounts/ID"."""

    package = "billing.v1"

    def _bind(self, channel: grpc.aio.Channel) -> None:
        self._stub = billing_pb2_grpc.BillingServiceStub(channel)

    async def get_account(self, name: str, *, deadline: float | None = None) -> billing_pb2.Account:
        request = billing_pb2.GetAccountRequest(name=name)
        account: billing_pb2.Account = await self._call(self._stub.GetAccount, request, deadline)
        return account

    async def set_credit_limit(
        self,
        name: str,
        credit_limit_minor: int,
        *,
        etag: str = "",
        deadline: float | None = None,
    ) -> billing_pb2.Account:
        """Sets the account's credit limit (integer minor units); with `etag`, only if nobody
        changed the account since. A limit below what is reserved is FailedPrecondition
        (CREDIT_LIMIT_BELOW_RESERVED)."""
        request = billing_pb2.UpdateAccountRequest(
            account=billing_pb2.Account(
                name=name, credit_limit_minor=credit_limit_minor, etag=etag
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["credit_limit_minor"]),
        )
        account: billing_pb2.Account = await self._call(self._stub.UpdateAccount, request, deadline)
        return account
