"""Orders, sagas and their timelines as the JSON the database columns hold."""

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from usersuite.orders.domain.messages import ReleaseCredit, ReserveCredit, SagaCommand
from usersuite.orders.domain.order import LineItem, Order, OrderState, RejectionReason
from usersuite.orders.domain.saga import SagaEvent, SagaStep, TimelineEntry


def line_items_to_json(items: tuple[LineItem, ...]) -> str:
    return json.dumps([asdict(item) for item in items], separators=(",", ":"))


def line_items_from_json(text: str) -> tuple[LineItem, ...]:
    return tuple(LineItem(**item) for item in json.loads(text))


def command_to_json(command: SagaCommand | None) -> str | None:
    if command is None:
        return None
    return json.dumps({"type": type(command).__name__, **asdict(command)}, sort_keys=True)


def command_from_json(text: str | None) -> SagaCommand | None:
    if text is None:
        return None
    data = json.loads(text)
    kind = data.pop("type")
    if kind == "ReserveCredit":
        return ReserveCredit(**data)
    if kind == "ReleaseCredit":
        return ReleaseCredit(**data)
    raise ValueError(f"unknown saga command {kind!r}")


def timeline_to_json(entries: tuple[TimelineEntry, ...]) -> str:
    return json.dumps(
        [
            {
                "at": entry.at.isoformat(),
                "step": entry.step.value,
                "event": entry.event.value,
                "command_id": entry.command_id,
                "attempt": entry.attempt,
                "detail": entry.detail,
            }
            for entry in entries
        ]
    )


def timeline_from_json(text: str) -> tuple[TimelineEntry, ...]:
    return tuple(
        TimelineEntry(
            at=datetime.fromisoformat(entry["at"]),
            step=SagaStep(entry["step"]),
            event=SagaEvent(entry["event"]),
            command_id=entry["command_id"],
            attempt=entry["attempt"],
            detail=entry["detail"],
        )
        for entry in json.loads(text)
    )


def order_to_json(order: Order) -> str:
    """The idempotent response of a call: the order as it answered."""
    return json.dumps(
        {
            "id": order.id,
            "user_id": order.user_id,
            "line_items": [asdict(item) for item in order.line_items],
            "currency_code": order.currency_code,
            "state": order.state.value,
            "rejection_reason": order.rejection_reason and order.rejection_reason.value,
            "create_time": order.create_time.isoformat(),
            "update_time": order.update_time.isoformat(),
            "version": order.version,
        }
    )


def order_from_json(text: str) -> Order:
    data: dict[str, Any] = json.loads(text)
    reason = data["rejection_reason"]
    return Order(
        id=data["id"],
        user_id=data["user_id"],
        line_items=tuple(LineItem(**item) for item in data["line_items"]),
        currency_code=data["currency_code"],
        state=OrderState(data["state"]),
        rejection_reason=RejectionReason(reason) if reason else None,
        create_time=datetime.fromisoformat(data["create_time"]),
        update_time=datetime.fromisoformat(data["update_time"]),
        version=data["version"],
    )
