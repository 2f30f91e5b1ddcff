"""An event's headers, encoded once: the very bytes nats-py makes of the same dict."""

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from nats.aio.client import Client

from usersuite.platform.nats.messages import event_headers, headers_for
from usersuite.platform.service.outbox import OutboxRow

TRACE = {
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "tracestate": "vendor=value",
}


def row(**changes: Any) -> OutboxRow:
    fields: dict[str, Any] = {
        "seq": 7, "event_id": "0b6f7c1e-5e0d-4a44-9a41-3b7c2a1d9e00",
        "event_type": "user.v1.UserCreated", "aggregate_name": "users/42",
        "aggregate_version": 3, "payload": b"\x0a\x01x", "trace_context": {}, "principal": "",
        "occurred_time": datetime(2026, 12, 6, 5, 31, 46, 123456, tzinfo=UTC), "attempts": 0,
    }  # fmt: skip
    return OutboxRow(**{**fields, **changes})


def designed(event: OutboxRow, source: str = "//usersuite") -> dict[str, str]:
    """DESIGN's event headers, written out as a dict the way the relay used to hand them over."""
    headers = {
        "Nats-Msg-Id": event.event_id,
        "ce-specversion": "1.0",
        "ce-id": event.event_id,
        "ce-type": event.event_type,
        "ce-source": f"{source}/{event.event_type.rpartition('.')[0]}",
        "ce-time": event.occurred_time.isoformat().replace("+00:00", "Z"),
        "ce-subject": event.aggregate_name,
        "content-type": "application/protobuf",
    }
    for key in ("traceparent", "tracestate"):
        if event.trace_context.get(key):
            headers[key] = event.trace_context[key]
    return headers


async def nats_py_encoding(headers: dict[str, str]) -> bytes:
    """The header block nats-py's own publish path writes for `headers`."""
    client = Client()
    sent: list[bytes] = []

    async def capture(command: bytes, priority: bool = False) -> None:
        sent.append(command)

    client._send_command = capture  # type: ignore[method-assign,assignment]
    await client._send_publish("subject", "reply", b"body", 4, headers)
    [command] = sent
    control, rest = command.split(b"\r\n", 1)
    return rest[: int(control.split()[3])]


EVENTS = [
    row(),
    row(trace_context=TRACE),
    row(trace_context={"traceparent": TRACE["traceparent"], "tracestate": ""}),
    row(occurred_time=datetime(2026, 12, 6, 5, 31, 46, tzinfo=UTC)),  # no microseconds
    # Other zones than the rows' own (UTC): the time as its zone writes it.
    row(occurred_time=datetime(2026, 12, 6, 5, 31, 46, 5, tzinfo=timezone(timedelta(hours=2)))),
    row(occurred_time=datetime(2026, 12, 6, 5, 31, 46, 5, tzinfo=ZoneInfo("UTC"))),
    row(event_type="billing.v1.CreditReserved", aggregate_name="accounts/a b"),
    # Values nats-py trims and whose CR/LF it blanks: nothing may end a line or add a command.
    row(aggregate_name=" users/1\r\nPUB evil 1\r\n", trace_context={"traceparent": "x\ny "}),
]


@pytest.mark.parametrize("event", EVENTS)
async def test_the_bytes_are_what_nats_py_writes_for_the_designed_dict(event: OutboxRow) -> None:
    headers = event_headers(event, "//usersuite")
    assert headers.encoded == await nats_py_encoding(designed(event))


@pytest.mark.parametrize("event", EVENTS)
async def test_the_bytes_parse_back_with_nats_py_to_the_same_dict(event: OutboxRow) -> None:
    encoded = event_headers(event, "//usersuite").encoded
    parsed = await Client()._process_headers(encoded)
    assert parsed == dict(event_headers(event, "//usersuite"))
    if event.aggregate_name.strip() == event.aggregate_name:
        assert parsed == designed(event)


async def test_a_guard_is_one_more_header_after_the_others() -> None:
    event = row(trace_context=TRACE)
    guarded = event_headers(event, "//usersuite").guarded("e-before")
    expected = {**designed(event), "Nats-Expected-Last-Msg-Id": "e-before"}
    assert guarded.encoded == await nats_py_encoding(expected)
    assert await Client()._process_headers(guarded.encoded) == expected
    assert "Nats-Expected-Last-Msg-Id" not in event_headers(event, "//usersuite")


def test_the_headers_read_as_a_mapping_and_as_the_dict_of_headers_for() -> None:
    event = row(trace_context=TRACE)
    headers = event_headers(event, "//usersuite")
    assert headers["ce-id"] == event.event_id
    assert headers["traceparent"] == TRACE["traceparent"]
    assert len(headers) == 10
    assert list(headers) == list(designed(event))
    assert headers_for(event, "//usersuite") == designed(event)
