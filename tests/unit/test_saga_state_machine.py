"""Orders' saga and billing's reservations together over a lossy network, driven by hypothesis:
whatever is lost, duplicated, reordered or late, credit is held exactly for approved orders."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.support.billing_tables import BillingTables
from tests.support.fakes import Counter
from tests.support.lossy_network import Envelope, Inbox, LossyNetwork
from usersuite.billing.domain import messages as billing
from usersuite.billing.domain.account import Account, AccountState
from usersuite.billing.domain.errors import CreditLimitBelowReserved
from usersuite.billing.domain.reservations import ReservationState
from usersuite.orders.domain import messages as orders
from usersuite.orders.domain.order import LineItem, Order, OrderState
from usersuite.orders.domain.retry import RetryPolicy
from usersuite.orders.domain.saga import (
    Saga,
    SagaStep,
    Transition,
    cancel,
    on_deadline,
    on_reply,
    start,
)

T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
# ada and dee have EUR accounts (dee's may close), bob's is in USD, cy has none.
ACCOUNTS = {"ada": "EUR", "dee": "EUR", "bob": "USD"}
USERS = (*ACCOUNTS, "cy")
POLICY = RetryPolicy(
    first_wait=timedelta(seconds=10),
    multiplier=2,
    max_wait=timedelta(seconds=20),
    reserve_attempts=3,
    release_attempts=None,
)
SETTLE_ROUNDS = 200


def to_orders(reply: billing.CreditReply) -> orders.CreditReply:
    """What the wire does between the two services' words for the same reply."""
    match reply:
        case billing.CreditReserved(command_id, saga_id, order, amount_minor):
            return orders.CreditReserved(command_id, saga_id, order, amount_minor)
        case billing.CreditRefused(command_id, saga_id, order, reason):
            return orders.CreditRefused(
                command_id, saga_id, order, orders.RefusalReason[reason.name]
            )
        case billing.CreditReleased(command_id, saga_id, order):
            return orders.CreditReleased(command_id, saga_id, order)


class SagaWorld(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.ids = Counter("id-{}")
        self.billing = BillingTables()
        for user, currency in ACCOUNTS.items():
            self.billing.accounts[user] = Account.open(
                user, currency_code=currency, credit_limit_minor=1000, now=T0
            )
        self.orders: dict[str, Order] = {}
        self.sagas: dict[str, Saga] = {}
        self.network = LossyNetwork()
        self.billing_inbox = Inbox()
        self.orders_inbox = Inbox()
        # Command ids that changed billing's rows, and reply command ids that moved an order.
        self.billing_effects: list[str] = []
        self.order_effects: list[str] = []

    # --- the world's moves ----------------------------------------------------------------

    @rule(
        user=st.sampled_from(USERS),
        prices=st.lists(st.integers(0, 400), min_size=1, max_size=3),
    )
    def create_order(self, user: str, prices: list[int]) -> None:
        lines = [LineItem(f"sku-{i}", 1, price) for i, price in enumerate(prices)]
        order = Order.place(
            self.ids(), user_id=user, line_items=lines, currency_code="EUR", now=self.now
        )
        self.apply(
            start(order, saga_id=self.ids(), command_id=self.ids(), now=self.now, policy=POLICY)
        )

    @precondition(lambda self: self.network.in_flight)
    @rule(pick=st.integers(0, 20))
    def deliver(self, pick: int) -> None:
        self.receive(self.network.take(pick))

    @precondition(lambda self: self.network.in_flight)
    @rule(pick=st.integers(0, 20), redelivery=st.booleans())
    def duplicate(self, pick: int, redelivery: bool) -> None:
        self.network.duplicate(pick, redelivery=redelivery)

    @precondition(lambda self: self.network.in_flight)
    @rule(pick=st.integers(0, 20))
    def drop(self, pick: int) -> None:
        self.network.drop(pick)

    @rule(seconds=st.integers(1, 60))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        self.fire_deadlines()

    @precondition(lambda self: self.approved_orders())
    @rule(pick=st.integers(0, 20))
    def cancel_approved(self, pick: int) -> None:
        approved = self.approved_orders()
        order = approved[pick % len(approved)]
        self.apply(
            cancel(order, saga_id=self.ids(), command_id=self.ids(), now=self.now, policy=POLICY)
        )

    @rule(user=st.sampled_from(("ada", "dee")), limit=st.integers(0, 2000))
    def change_limit(self, user: str, limit: int) -> None:
        account = self.billing.accounts[user]
        if account.state is AccountState.CLOSED:
            return
        if limit < account.reserved_minor:
            with pytest.raises(CreditLimitBelowReserved):
                account.with_credit_limit(limit, self.now)
            return
        self.billing.accounts[user] = account.with_credit_limit(limit, self.now)

    @rule()
    def close_dees_account(self) -> None:
        self.billing.accounts["dee"] = self.billing.accounts["dee"].close(self.now)

    # --- what must always hold ------------------------------------------------------------

    @invariant()
    def reserved_is_the_sum_of_active_reservations_within_the_limit(self) -> None:
        for user, account in self.billing.accounts.items():
            assert account.reserved_minor == self.billing.active_sum(user)
            assert account.reserved_minor <= account.credit_limit_minor

    @invariant()
    def no_command_takes_effect_twice(self) -> None:
        assert len(set(self.billing_effects)) == len(self.billing_effects)
        assert len(set(self.order_effects)) == len(self.order_effects)

    @invariant()
    def an_order_is_pending_exactly_while_its_saga_reserves(self) -> None:
        reserving = {s.order for s in self.sagas.values() if s.step is SagaStep.RESERVE_CREDIT}
        pending = {o.name for o in self.orders.values() if o.state is OrderState.PENDING}
        assert reserving == pending

    def teardown(self) -> None:
        """Once the network delivers everything and deadlines fire, every saga ends, and credit
        is held exactly for the approved orders."""
        for _ in range(SETTLE_ROUNDS):
            # Newest first: old copies of commands arrive last, the hardest order for billing.
            while self.network.in_flight:
                self.receive(self.network.take(-1))
            waiting = [s.deadline for s in self.live_sagas() if s.deadline is not None]
            if not waiting:
                break
            self.now = max(self.now, min(waiting))
            self.fire_deadlines()
        assert not self.live_sagas()
        self.reserved_is_the_sum_of_active_reservations_within_the_limit()
        for order in self.orders.values():
            reservation = self.billing.reservations.get(order.name)
            active = reservation is not None and reservation.state is ReservationState.ACTIVE
            if order.state is OrderState.APPROVED:
                assert reservation is not None
                assert active
                assert reservation.amount_minor == order.total_minor
            else:
                assert order.state is not OrderState.PENDING
                assert not active

    # --- plumbing ---------------------------------------------------------------------------

    def receive(self, envelope: Envelope) -> None:
        match envelope.body:
            case orders.ReserveCredit() | orders.ReleaseCredit() as command:
                if self.billing_inbox.first_time(envelope):
                    self.billing_handles(command)
            case (
                orders.CreditReserved() | orders.CreditRefused() | orders.CreditReleased() as reply
            ):
                if self.orders_inbox.first_time(envelope):
                    self.orders_handle(reply)

    def billing_handles(self, command: orders.SagaCommand) -> None:
        if isinstance(command, orders.ReserveCredit):
            outcome = self.billing.reserve(
                command.account.removeprefix("accounts/"),
                order=command.order,
                amount_minor=command.amount_minor,
                currency_code=command.currency_code,
                command_id=command.command_id,
                saga_id=command.saga_id,
                now=self.now,
            )
        else:
            outcome = self.billing.release(
                order=command.order,
                command_id=command.command_id,
                saga_id=command.saga_id,
                now=self.now,
            )
        if outcome.reservation is not None:
            self.billing_effects.append(command.command_id)
        self.network.send(to_orders(outcome.reply))

    def orders_handle(self, reply: orders.CreditReply) -> None:
        saga = self.sagas[reply.saga_id]
        t = on_reply(saga, self.orders[saga.order.removeprefix("orders/")], reply, now=self.now)
        if t.order_change is not None:
            self.order_effects.append(reply.command_id)
        self.apply(t)

    def fire_deadlines(self) -> None:
        for saga in self.live_sagas():
            if saga.due(self.now):
                order = self.orders[saga.order.removeprefix("orders/")]
                self.apply(
                    on_deadline(saga, order, now=self.now, policy=POLICY, new_command_id=self.ids)
                )

    def apply(self, t: Transition) -> None:
        self.orders[t.order.id] = t.order
        self.sagas[t.saga.saga_id] = t.saga
        for command in t.commands:
            self.network.send(command)

    def live_sagas(self) -> list[Saga]:
        return [s for s in self.sagas.values() if s.step is not SagaStep.DONE]

    def approved_orders(self) -> list[Order]:
        return sorted(
            (o for o in self.orders.values() if o.state is OrderState.APPROVED), key=lambda o: o.id
        )


SagaWorld.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
TestSagaWorld = SagaWorld.TestCase
