"""Billing's accounts and reservations in memory, stored as the domain's outcomes say, for
unit tests of the pure reservation rules (the real tables are the adapters' job)."""

from datetime import datetime

from usersuite.billing.domain import reservations
from usersuite.billing.domain.account import Account
from usersuite.billing.domain.reservations import CreditOutcome, Reservation, ReservationState


class BillingTables:
    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.reservations: dict[str, Reservation] = {}

    def reserve(
        self,
        user_id: str,
        *,
        order: str,
        amount_minor: int,
        currency_code: str,
        command_id: str,
        saga_id: str,
        now: datetime,
    ) -> CreditOutcome:
        outcome = reservations.reserve(
            self.accounts.get(user_id),
            self.reservations.get(order),
            order=order,
            amount_minor=amount_minor,
            currency_code=currency_code,
            command_id=command_id,
            saga_id=saga_id,
            now=now,
        )
        return self._keep(outcome)

    def release(self, *, order: str, command_id: str, saga_id: str, now: datetime) -> CreditOutcome:
        existing = self.reservations.get(order)
        # ReleaseCredit names no account: the reservation says whose it is.
        owner = None if existing is None or existing.user_id is None else existing.user_id
        outcome = reservations.release(
            None if owner is None else self.accounts.get(owner),
            existing,
            order=order,
            command_id=command_id,
            saga_id=saga_id,
            now=now,
        )
        return self._keep(outcome)

    def active_sum(self, user_id: str) -> int:
        return sum(
            r.amount_minor
            for r in self.reservations.values()
            if r.user_id == user_id and r.state is ReservationState.ACTIVE
        )

    def _keep(self, outcome: CreditOutcome) -> CreditOutcome:
        if outcome.account is not None:
            self.accounts[outcome.account.user_id] = outcome.account
        if outcome.reservation is not None:
            self.reservations[outcome.reservation.order] = outcome.reservation
        return outcome
