"""How an outbox row travels: subject <package>.<Message>, protobuf body, CloudEvents headers."""

from usersuite.platform.service.outbox import OutboxRow

CONTENT_TYPE = "application/protobuf"


def headers_for(row: OutboxRow, source: str) -> dict[str, str]:
    """`source` names the producer; the message's package follows it (//usersuite/user.v1)."""
    package = row.event_type.rpartition(".")[0]
    headers = {
        "Nats-Msg-Id": row.event_id,  # JetStream drops a repeat within the duplicate window
        "ce-specversion": "1.0",
        "ce-id": row.event_id,
        "ce-type": row.event_type,
        "ce-source": f"{source}/{package}",
        "ce-time": row.occurred_time.isoformat().replace("+00:00", "Z"),
        "ce-subject": row.aggregate_name,
        "content-type": CONTENT_TYPE,
    }
    for key in ("traceparent", "tracestate"):
        if row.trace_context.get(key):
            headers[key] = row.trace_context[key]
    return headers
