"""How an outbox row travels: subject <package>.<Message>, protobuf body, CloudEvents headers.

The headers are written once per event, straight into NATS's wire form (`NATS/1.0` and one
`Key: value` line each), the bytes nats-py would make of the same dict: nats-py checks and
re-encodes a dict on every publish, one of the largest costs per event of a relay.
"""

from collections.abc import Iterator, Mapping
from datetime import datetime
from functools import lru_cache

from usersuite.platform.service.outbox import OutboxRow

CONTENT_TYPE = "application/protobuf"
HEADER_LINE = b"NATS/1.0\r\n"
EXPECTED_LAST_MSG_ID = "Nats-Expected-Last-Msg-Id"
TRACE_KEYS = ("traceparent", "tracestate")


def _clean(value: str) -> str:
    """What nats-py does to every header value: no value can end its line or inject a command
    (its `translate` to the same effect costs ten times as much)."""
    return value.strip().replace("\r", " ").replace("\n", " ")


class EventHeaders(Mapping[str, str]):
    """An event's headers in NATS's wire form (`encoded`), readable as a mapping too."""

    __slots__ = ("encoded",)

    def __init__(self, encoded: bytes) -> None:
        self.encoded = encoded

    def guarded(self, previous_event_id: str) -> "EventHeaders":
        """These headers with `Nats-Expected-Last-Msg-Id`: stored only right after that event."""
        guard = f"{EXPECTED_LAST_MSG_ID}: {_clean(previous_event_id)}\r\n\r\n".encode()
        return EventHeaders(self.encoded[:-2] + guard)

    def _lines(self) -> dict[str, str]:
        lines = self.encoded[len(HEADER_LINE) : -4].decode().split("\r\n")
        return dict(line.split(": ", 1) for line in lines)

    def __getitem__(self, key: str) -> str:
        return self._lines()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lines())

    def __len__(self) -> int:
        return len(self._lines())

    def __repr__(self) -> str:
        return f"EventHeaders({self._lines()!r})"


@lru_cache(maxsize=256)
def _type_lines(event_type: str, source: str) -> str:
    """The lines that depend only on the event's type (a handful of types per service)."""
    package = event_type.rpartition(".")[0]
    return f"ce-type: {_clean(event_type)}\r\nce-source: {_clean(f'{source}/{package}')}\r\n"


def event_time(occurred: datetime) -> str:
    return occurred.isoformat().replace("+00:00", "Z")


def encode_headers(
    event_id: str,
    event_type: str,
    *,
    aggregate_name: str,
    occurred: datetime,
    trace_context: Mapping[str, str],
    source: str,
) -> EventHeaders:
    """`source` names the producer; the message's package follows it (//usersuite/user.v1).

    Nats-Msg-Id is the event id: JetStream drops a repeat within the duplicate window.
    """
    event = _clean(event_id)
    trace = (
        "".join(
            f"{key}: {_clean(trace_context[key])}\r\n"
            for key in TRACE_KEYS
            if trace_context.get(key)
        )
        if trace_context
        else ""  # most events carry none
    )
    text = (
        f"NATS/1.0\r\nNats-Msg-Id: {event}\r\nce-specversion: 1.0\r\nce-id: {event}\r\n"
        f"{_type_lines(event_type, source)}ce-time: {_clean(event_time(occurred))}\r\n"
        f"ce-subject: {_clean(aggregate_name)}\r\ncontent-type: {CONTENT_TYPE}\r\n{trace}\r\n"
    )
    return EventHeaders(text.encode())


def event_headers(row: OutboxRow, source: str) -> EventHeaders:
    return encode_headers(
        row.event_id,
        row.event_type,
        aggregate_name=row.aggregate_name,
        occurred=row.occurred_time,
        trace_context=row.trace_context,
        source=source,
    )


def headers_for(row: OutboxRow, source: str) -> dict[str, str]:
    """The headers of `row` as a dict (for a plain nats-py publish)."""
    return dict(event_headers(row, source))
