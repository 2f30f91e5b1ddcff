"""The Order aggregate: what a user ordered, its total, and where the saga has taken it."""

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum

from usersuite.orders.domain.errors import InvalidValue, OrderNotCancellable, OrderNotPending

CURRENCY_CODE_PATTERN = re.compile(r"[A-Z]{3}")
# Quantities travel as protobuf int32, amounts as int64.
QUANTITY_MAX = 2**31 - 1
MINOR_UNITS_MAX = 2**63 - 1
SKU_MAX = 64


class OrderState(Enum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class RejectionReason(Enum):
    CREDIT_LIMIT_EXCEEDED = "CREDIT_LIMIT_EXCEEDED"
    NO_ACCOUNT = "NO_ACCOUNT"
    BILLING_TIMEOUT = "BILLING_TIMEOUT"


def check_currency_code(value: str) -> str:
    if not CURRENCY_CODE_PATTERN.fullmatch(value):
        raise InvalidValue("must be an ISO 4217 code: three upper-case letters such as 'EUR'")
    return value


@dataclass(frozen=True)
class LineItem:
    sku: str
    quantity: int
    unit_price_minor: int

    @property
    def total_minor(self) -> int:
        return self.quantity * self.unit_price_minor


def check_line_items(items: Sequence[LineItem]) -> tuple[LineItem, ...]:
    """The items, or InvalidValue naming the first bad field (`line_items[i].quantity`)."""
    if not items:
        raise InvalidValue("must hold at least one line item", "line_items")
    for index, item in enumerate(items):
        at = f"line_items[{index}]"
        if not item.sku.strip() or len(item.sku) > SKU_MAX:
            raise InvalidValue(f"must be 1-{SKU_MAX} characters, not blank", f"{at}.sku")
        if not 1 <= item.quantity <= QUANTITY_MAX:
            raise InvalidValue(f"must be between 1 and {QUANTITY_MAX}", f"{at}.quantity")
        if not 0 <= item.unit_price_minor <= MINOR_UNITS_MAX:
            raise InvalidValue(
                f"must be between 0 and {MINOR_UNITS_MAX} minor units", f"{at}.unit_price_minor"
            )
    if sum(item.total_minor for item in items) > MINOR_UNITS_MAX:
        raise InvalidValue(f"the total must be at most {MINOR_UNITS_MAX} minor units", "line_items")
    return tuple(items)


@dataclass(frozen=True)
class Order:
    """An order as the domain sees it; `version` counts its changes, starting at 1."""

    id: str
    user_id: str
    line_items: tuple[LineItem, ...]
    currency_code: str
    state: OrderState
    rejection_reason: RejectionReason | None
    create_time: datetime
    update_time: datetime
    version: int

    @classmethod
    def place(
        cls,
        order_id: str,
        *,
        user_id: str,
        line_items: Sequence[LineItem],
        currency_code: str,
        now: datetime,
    ) -> "Order":
        """A new PENDING order, its lines and currency checked."""
        try:
            currency = check_currency_code(currency_code)
        except InvalidValue as exc:
            raise InvalidValue(str(exc), "currency_code") from None
        return cls(
            id=order_id,
            user_id=user_id,
            line_items=check_line_items(line_items),
            currency_code=currency,
            state=OrderState.PENDING,
            rejection_reason=None,
            create_time=now,
            update_time=now,
            version=1,
        )

    @property
    def name(self) -> str:
        return f"orders/{self.id}"

    @property
    def user(self) -> str:
        return f"users/{self.user_id}"

    @property
    def account(self) -> str:
        """Billing's account for the order's user (one per user, named after the user)."""
        return f"accounts/{self.user_id}"

    @property
    def total_minor(self) -> int:
        return sum(item.total_minor for item in self.line_items)

    @property
    def etag(self) -> str:
        """An opaque checksum of this state; a new one for every version of every order."""
        state = f"{self.id}\x00{self.version}\x00{self.update_time.isoformat()}"
        return hashlib.blake2b(state.encode(), digest_size=12).hexdigest()

    def approve(self, now: datetime) -> "Order":
        self._check_pending()
        return self._moved(OrderState.APPROVED, None, now)

    def reject(self, reason: RejectionReason, now: datetime) -> "Order":
        self._check_pending()
        return self._moved(OrderState.REJECTED, reason, now)

    def cancel(self, now: datetime) -> "Order":
        if self.state is not OrderState.APPROVED:
            raise OrderNotCancellable(self.id, self.state.value)
        return self._moved(OrderState.CANCELLED, None, now)

    def _check_pending(self) -> None:
        if self.state is not OrderState.PENDING:
            raise OrderNotPending(self.id, self.state.value)

    def _moved(self, state: OrderState, reason: RejectionReason | None, now: datetime) -> "Order":
        return replace(
            self, state=state, rejection_reason=reason, update_time=now, version=self.version + 1
        )
