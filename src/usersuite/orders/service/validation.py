"""The orders API's request rules beyond the domain's (order.proto's comments): names, limits."""

import re

from usersuite.orders.domain.order import CURRENCY_CODE_PATTERN, LineItem
from usersuite.orders.service.commands import NewLineItem
from usersuite.platform.domain.resource_ids import check_resource_id
from usersuite.platform.service.validation import Violations

MAX_LINE_ITEMS = 100
MAX_QUANTITY = 1_000_000
SKU_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_SHOWN = 80


def _shown(value: str) -> str:
    return value if len(value) <= MAX_SHOWN else value[:MAX_SHOWN] + "..."


def check_user_name(value: str, field: str, violations: Violations) -> str:
    """The user id of `users/{user_id}`, or "" with a violation."""
    user_id = value.removeprefix("users/")
    if not value:
        violations.add(field, f"{field} is required, as users/{{user_id}}")
        return ""
    if not value.startswith("users/") or not user_id or "/" in user_id:
        violations.add(
            field, f"{field} must have the form users/{{user_id}}, got {_shown(value)!r}"
        )
        return ""
    checked = violations.check(field, lambda: check_resource_id(user_id, allow_generated=True))
    return checked or ""


def check_line_items(
    items: tuple[NewLineItem, ...], violations: Violations
) -> tuple[LineItem, ...]:
    """Every bad field of every line item is named; the items as the domain takes them."""
    if not items:
        violations.add("order.line_items", "order.line_items must hold at least one line item")
    elif len(items) > MAX_LINE_ITEMS:
        violations.add(
            "order.line_items",
            f"order.line_items holds {len(items)} items; at most {MAX_LINE_ITEMS} are accepted",
        )
        return ()
    for index, item in enumerate(items):
        at = f"order.line_items[{index}]"
        if not SKU_PATTERN.fullmatch(item.sku):
            violations.add(
                f"{at}.sku", f"{at}.sku must be 1-64 characters of A-Z, a-z, 0-9, '-', '_', '.'"
            )
        if not 1 <= item.quantity <= MAX_QUANTITY:
            violations.add(f"{at}.quantity", f"{at}.quantity must be between 1 and {MAX_QUANTITY}")
        if item.unit_price_minor < 0:
            violations.add(f"{at}.unit_price_minor", f"{at}.unit_price_minor must not be negative")
    return tuple(LineItem(i.sku, i.quantity, i.unit_price_minor) for i in items)


def check_currency(value: str, violations: Violations) -> str:
    if not CURRENCY_CODE_PATTERN.fullmatch(value):
        violations.add(
            "order.currency_code",
            "order.currency_code must be an ISO 4217 code: three upper-case letters such as 'EUR'",
        )
    return value
