"""The order saga as pure transitions: each takes the state and returns the next one plus the
commands to send; the caller stores both in one transaction and supplies the time and the ids."""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from usersuite.orders.domain.messages import (
    CreditRefused,
    CreditReleased,
    CreditReply,
    CreditReserved,
    RefusalReason,
    ReleaseCredit,
    ReserveCredit,
    SagaCommand,
)
from usersuite.orders.domain.order import Order, OrderState, RejectionReason
from usersuite.orders.domain.retry import RetryPolicy

IdFactory = Callable[[], str]

# Closed accounts and other currencies reach the user as "no (usable) account", as order.v1 says.
REJECTION_FOR_REFUSAL: dict[RefusalReason, RejectionReason] = {
    RefusalReason.CREDIT_LIMIT_EXCEEDED: RejectionReason.CREDIT_LIMIT_EXCEEDED,
    RefusalReason.NO_ACCOUNT: RejectionReason.NO_ACCOUNT,
    RefusalReason.ACCOUNT_CLOSED: RejectionReason.NO_ACCOUNT,
    RefusalReason.CURRENCY_MISMATCH: RejectionReason.NO_ACCOUNT,
}


class SagaKind(Enum):
    CREATE = "CREATE"
    CANCEL = "CANCEL"


class SagaStep(Enum):
    RESERVE_CREDIT = "RESERVE_CREDIT"
    RELEASE_CREDIT = "RELEASE_CREDIT"
    DONE = "DONE"


class SagaEvent(Enum):
    SENT = "SENT"
    RESENT = "RESENT"
    REPLIED = "REPLIED"
    TIMED_OUT = "TIMED_OUT"
    PARKED = "PARKED"


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to a saga step, for `usersuite saga show`."""

    at: datetime
    step: SagaStep
    event: SagaEvent
    command_id: str
    attempt: int
    detail: str = ""


@dataclass(frozen=True)
class Saga:
    """One saga of one order: its step, the command it waits on, and when it stops waiting.

    `command` is None once DONE. A parked saga keeps its (past) deadline so it can be reported,
    but its deadline no longer fires; a late CreditReleased still finishes it.
    """

    saga_id: str
    order: str
    kind: SagaKind
    step: SagaStep
    command: SagaCommand | None
    attempt: int
    deadline: datetime | None
    parked: bool
    timeline: tuple[TimelineEntry, ...]

    @property
    def command_id(self) -> str | None:
        return None if self.command is None else self.command.command_id

    def overdue(self, now: datetime) -> bool:
        """Still waiting after its deadline: due, or parked (for reports and health)."""
        return self.step is not SagaStep.DONE and self.deadline is not None and self.deadline <= now

    def due(self, now: datetime) -> bool:
        """Whether on_deadline at `now` would act."""
        return self.overdue(now) and not self.parked


@dataclass(frozen=True)
class Transition:
    """The saga and order after a transition, and the commands to send in the same transaction.

    `order_change` is the order's new state when this transition changed it (an event to
    publish); `applied` is False when the input was ignored and nothing needs storing.
    """

    saga: Saga
    order: Order
    commands: tuple[SagaCommand, ...] = ()
    order_change: OrderState | None = None
    applied: bool = True


def start(
    order: Order, *, saga_id: str, command_id: str, now: datetime, policy: RetryPolicy
) -> Transition:
    """The CREATE saga of a new PENDING order: reserve its total on its user's account."""
    command = ReserveCredit(
        command_id, saga_id, order.name, order.account, order.total_minor, order.currency_code
    )
    saga = _send(
        _new(saga_id, order, SagaKind.CREATE), command, SagaStep.RESERVE_CREDIT, now, policy
    )
    return Transition(saga, order, (command,))


def cancel(
    order: Order, *, saga_id: str, command_id: str, now: datetime, policy: RetryPolicy
) -> Transition:
    """The CANCEL saga: the APPROVED order is CANCELLED at once; its credit is released after."""
    cancelled = order.cancel(now)
    command = ReleaseCredit(command_id, saga_id, order.name)
    saga = _send(
        _new(saga_id, order, SagaKind.CANCEL), command, SagaStep.RELEASE_CREDIT, now, policy
    )
    return Transition(saga, cancelled, (command,), OrderState.CANCELLED)


def on_reply(saga: Saga, order: Order, reply: CreditReply, *, now: datetime) -> Transition:
    """Billing's reply to the current command moves the saga on; any other reply is ignored."""
    _check_pair(saga, order)
    if (
        saga.step is SagaStep.DONE
        or reply.saga_id != saga.saga_id
        or reply.command_id != saga.command_id
    ):
        return Transition(saga, order, applied=False)  # a duplicate or a stale reply
    match saga.step, reply:
        case SagaStep.RESERVE_CREDIT, CreditReserved():
            return _finish(
                _replied(saga, now, "CreditReserved"), order.approve(now), OrderState.APPROVED
            )
        case SagaStep.RESERVE_CREDIT, CreditRefused(reason=reason) if (
            reason in REJECTION_FOR_REFUSAL
        ):
            detail = f"CreditRefused {reason.value}"
            rejected = order.reject(REJECTION_FOR_REFUSAL[reason], now)
            return _finish(_replied(saga, now, detail), rejected, OrderState.REJECTED)
        case SagaStep.RELEASE_CREDIT, CreditReleased():
            return _finish(_replied(saga, now, "CreditReleased"), order, None)
    # RELEASED refusals (they only follow a compensation) and replies that do not answer this
    # step's kind of command.
    return Transition(saga, order, applied=False)


def on_deadline(
    saga: Saga, order: Order, *, now: datetime, policy: RetryPolicy, new_command_id: IdFactory
) -> Transition:
    """No reply by the deadline: send the same command again, or compensate, or park.

    `new_command_id` is called only when the saga compensates (a new ReleaseCredit).
    """
    _check_pair(saga, order)
    if not saga.due(now) or saga.command is None:
        return Transition(saga, order, applied=False)
    if saga.attempt < _attempts(saga.step, policy):
        return Transition(_send(saga, saga.command, saga.step, now, policy), order, (saga.command,))
    if saga.step is SagaStep.RELEASE_CREDIT:
        # A release is never refused, so there is nothing to compensate: stop asking, and leave
        # the saga to be reported past its deadline.
        return Transition(replace(_log(saga, now, SagaEvent.PARKED), parked=True), order)
    # Compensate: whatever billing may have reserved is released, and the order is rejected now.
    release = ReleaseCredit(new_command_id(), saga.saga_id, saga.order)
    compensating = _send(
        _log(saga, now, SagaEvent.TIMED_OUT), release, SagaStep.RELEASE_CREDIT, now, policy
    )
    rejected = order.reject(RejectionReason.BILLING_TIMEOUT, now)
    return Transition(compensating, rejected, (release,), OrderState.REJECTED)


def _new(saga_id: str, order: Order, kind: SagaKind) -> Saga:
    """A saga before its first command (which `_send` gives it)."""
    return Saga(
        saga_id=saga_id,
        order=order.name,
        kind=kind,
        step=SagaStep.DONE,
        command=None,
        attempt=0,
        deadline=None,
        parked=False,
        timeline=(),
    )


def _attempts(step: SagaStep, policy: RetryPolicy) -> float:
    if step is SagaStep.RESERVE_CREDIT:
        return policy.reserve_attempts
    return float("inf") if policy.release_attempts is None else policy.release_attempts


def _send(
    saga: Saga, command: SagaCommand, step: SagaStep, now: datetime, policy: RetryPolicy
) -> Saga:
    """The saga waiting on `command`: attempt 1 of a new command, the next one of the same."""
    attempt = saga.attempt + 1 if command == saga.command else 1
    moved = replace(
        saga, step=step, command=command, attempt=attempt, deadline=now + policy.wait(attempt)
    )
    return _log(moved, now, SagaEvent.SENT if attempt == 1 else SagaEvent.RESENT)


def _replied(saga: Saga, now: datetime, detail: str) -> Saga:
    return _log(saga, now, SagaEvent.REPLIED, detail)


def _finish(saga: Saga, order: Order, order_change: OrderState | None) -> Transition:
    done = replace(saga, step=SagaStep.DONE, command=None, deadline=None, parked=False)
    return Transition(done, order, (), order_change)


def _log(saga: Saga, now: datetime, event: SagaEvent, detail: str = "") -> Saga:
    command_id = saga.command_id or ""
    entry = TimelineEntry(now, saga.step, event, command_id, saga.attempt, detail)
    return replace(saga, timeline=(*saga.timeline, entry))


def _check_pair(saga: Saga, order: Order) -> None:
    if order.name != saga.order:
        raise ValueError(f"saga {saga.saga_id} is for {saga.order}, not {order.name}")
