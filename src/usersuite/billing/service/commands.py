"""Commands: what a caller (a gRPC request or an inbound message) asks billing to do."""

from dataclasses import dataclass


@dataclass(frozen=True)
class GetAccount:
    user_id: str


@dataclass(frozen=True)
class UpdateAccount:
    user_id: str
    credit_limit_minor: int
    # None: no mask was sent, so a non-zero credit limit is the change asked for.
    paths: list[str] | None = None
    etag: str = ""
    principal: str = ""


@dataclass(frozen=True)
class OpenAccount:
    """From user.v1.UserCreated: the user gets an account with the default limit."""

    user_id: str
    principal: str = ""


@dataclass(frozen=True)
class CloseAccount:
    """From user.v1.UserDeleted."""

    user_id: str
    principal: str = ""


@dataclass(frozen=True)
class ReserveCredit:
    command_id: str
    saga_id: str
    order: str
    # None when the command's account name is not an account's: refused as NO_ACCOUNT.
    user_id: str | None
    amount_minor: int
    currency_code: str
    principal: str = ""


@dataclass(frozen=True)
class ReleaseCredit:
    command_id: str
    saga_id: str
    order: str
    principal: str = ""
