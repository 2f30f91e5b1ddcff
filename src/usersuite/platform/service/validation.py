"""Request validation every service shares: collect every bad field, canonical request ids."""

import uuid
from collections.abc import Callable
from typing import TypeVar

from usersuite.platform.domain.errors import FieldViolation, InvalidValue, ValidationFailed

_T = TypeVar("_T")


class Violations:
    """Collects every bad field of a request, so the caller learns all of them at once."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def check(self, field: str, check: Callable[[], _T]) -> _T | None:
        try:
            return check()
        except InvalidValue as exc:
            self.items.append(FieldViolation(field, f"{field} {exc}"))
            return None

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    def raise_if_any(self) -> None:
        if self.items:
            raise ValidationFailed(self.items)


def canonical_request_id(request_id: str, violations: Violations) -> str:
    """The request id in its canonical UUID spelling, so every spelling of one UUID is one key."""
    if not request_id:
        return ""
    try:
        return str(uuid.UUID(request_id))
    except ValueError:
        violations.add("request_id", "request_id must be a UUID")
        return ""
