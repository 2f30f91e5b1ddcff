"""Billing's error catalog against billing.proto's contract, and its message mapping."""

from datetime import UTC, datetime

import grpc
import pytest

from billing.v1 import billing_pb2, saga_pb2
from usersuite.billing.api.errors import BILLING_ERRORS
from usersuite.billing.api.inbound import SUBJECTS, release_command, reserve_command
from usersuite.billing.api.mapping import encode_message, user_id_from_account
from usersuite.billing.domain import errors
from usersuite.billing.domain.events import ReplySent
from usersuite.billing.domain.messages import CreditRefused, RefusalReason
from usersuite.platform.domain.errors import DomainError
from usersuite.platform.domain.events import EventMetadata

PREFIX = "ERROR_REASON_"


def test_every_reason_the_catalog_gives_is_in_the_contract() -> None:
    names = billing_pb2.ErrorReason.keys()
    contract = {name.removeprefix(PREFIX) for name in names}
    assert BILLING_ERRORS.reasons() <= contract
    assert BILLING_ERRORS.domain == "usersuite.billing.v1"


@pytest.mark.parametrize(
    ("error", "code", "reason"),
    [
        (errors.AccountNotFound("ada"), grpc.StatusCode.NOT_FOUND, "ACCOUNT_NOT_FOUND"),
        (errors.EtagMismatch("ada"), grpc.StatusCode.ABORTED, "ETAG_MISMATCH"),
        (
            errors.CreditLimitBelowReserved("ada", 1, 2),
            grpc.StatusCode.FAILED_PRECONDITION,
            "CREDIT_LIMIT_BELOW_RESERVED",
        ),
        (errors.AccountClosed("ada"), grpc.StatusCode.FAILED_PRECONDITION, "ACCOUNT_CLOSED"),
    ],
)
def test_domain_errors_map_to_their_status(
    error: DomainError, code: grpc.StatusCode, reason: str
) -> None:
    spec = BILLING_ERRORS.spec_for(error)
    assert (spec.code, spec.reason, spec.metadata) == (code, reason, {"name": "accounts/ada"})


def test_a_malformed_account_name_is_a_field_violation() -> None:
    with pytest.raises(errors.ValidationFailed) as bad:
        user_id_from_account("users/ada", field="account.name")
    spec = BILLING_ERRORS.spec_for(bad.value)
    assert spec.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in spec.violations] == ["account.name"]


def test_saga_commands_become_commands() -> None:
    reserve = saga_pb2.ReserveCredit(
        command_id="c1", saga_id="s1", order="orders/o1", account="accounts/ada",
        amount_minor=5, currency_code="EUR",
    )  # fmt: skip
    assert reserve_command(reserve).user_id == "ada"
    reserve.account = "nonsense"
    assert reserve_command(reserve).user_id is None
    release = release_command(saga_pb2.ReleaseCredit(command_id="c2", saga_id="s1", order="o"))
    assert (release.command_id, release.order) == ("c2", "o")
    assert SUBJECTS == (
        "user.v1.UserCreated",
        "user.v1.UserDeleted",
        "billing.v1.ReserveCredit",
        "billing.v1.ReleaseCredit",
    )


def test_a_reply_is_encoded_under_its_full_name_with_its_metadata() -> None:
    meta = EventMetadata("e1", datetime(2026, 12, 6, tzinfo=UTC), "orders/o1", 0, "")
    reply = CreditRefused("c1", "s1", "orders/o1", RefusalReason.RELEASED)
    event_type, payload = encode_message(ReplySent(meta, reply))

    assert event_type == "billing.v1.CreditRefused"
    decoded = saga_pb2.CreditRefused.FromString(payload)
    assert decoded.reason == saga_pb2.CreditRefused.REASON_RELEASED
    assert (decoded.metadata.event_id, decoded.command_id, decoded.saga_id) == ("e1", "c1", "s1")
