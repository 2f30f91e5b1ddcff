"""BillingService over the handlers: maps requests to commands and accounts to protos."""

from __future__ import annotations

from typing import Any, TypeAlias

import grpc

from billing.v1 import billing_pb2, billing_pb2_grpc
from usersuite.billing.api.mapping import account_to_proto, user_id_from_account
from usersuite.billing.service import commands
from usersuite.billing.service.handlers import AccountHandlers
from usersuite.platform.service import request_context

Context: TypeAlias = "grpc.aio.ServicerContext[Any, Any]"


class BillingServicer(billing_pb2_grpc.BillingServiceServicer):
    def __init__(self, handlers: AccountHandlers) -> None:
        self._handlers = handlers

    async def GetAccount(  # noqa: N802 - generated method names
        self, request: billing_pb2.GetAccountRequest, context: Context
    ) -> billing_pb2.Account:
        account = await self._handlers.get_account(
            commands.GetAccount(user_id_from_account(request.name))
        )
        return account_to_proto(account)

    async def UpdateAccount(  # noqa: N802
        self, request: billing_pb2.UpdateAccountRequest, context: Context
    ) -> billing_pb2.Account:
        paths = list(request.update_mask.paths) if request.HasField("update_mask") else []
        account = await self._handlers.update_account(
            commands.UpdateAccount(
                user_id=user_id_from_account(request.account.name, field="account.name"),
                credit_limit_minor=request.account.credit_limit_minor,
                paths=paths or None,
                etag=request.account.etag,
                principal=request_context.principal.get().subject,
            )
        )
        return account_to_proto(account)
