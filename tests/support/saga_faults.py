"""Deliveries a broken network or a replayed stream would make, injected into JetStream: saga
messages stored again (duplicates past JetStream's dedup window, which only the inboxes stop) and
old commands and replies sent again as new messages after their saga moved on (late ones), and
commands deleted before their consumer saw them (lost ones)."""

import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client

from billing.v1 import saga_pb2
from tests.support.events import STREAM, Stored, stream_messages

RELEASED = saga_pb2.CreditRefused.Reason.REASON_RELEASED
SAGA_TYPES = ("ReserveCredit", "ReleaseCredit", "CreditReserved", "CreditRefused", "CreditReleased")


@dataclass(frozen=True)
class SagaMessage:
    """A saga command or reply as the stream stores it, decoded."""

    stored: Stored
    kind: str  # ReserveCredit, CreditReserved, ...
    message: Any

    @property
    def order(self) -> str:
        return str(self.message.order)

    @property
    def event_id(self) -> str:
        """The id the consumers' inboxes know it by (as platform/consumer/events.py reads it)."""
        return self.stored.headers.get("ce-id") or str(self.message.metadata.event_id)


async def saga_messages(nc: Client) -> list[SagaMessage]:
    """Every saga command and reply in the stream, in stream order."""
    found = []
    for stored in await stream_messages(nc):
        kind = stored.subject.rsplit(".", 1)[1]
        if stored.subject.startswith("billing.v1.") and kind in SAGA_TYPES:
            found.append(SagaMessage(stored, kind, getattr(saga_pb2, kind).FromString(stored.data)))
    return found


def _headers(stored: Stored, event_id: str) -> dict[str, str]:
    """The stored headers with a fresh Nats-Msg-Id and no other Nats-* header (a stored
    Nats-Expected-Last-Msg-Id guard would make JetStream refuse the copy)."""
    headers = {k: v for k, v in stored.headers.items() if not k.startswith("Nats-")}
    headers["ce-id"] = event_id
    headers["Nats-Msg-Id"] = str(uuid.uuid4())
    return headers


async def store_again(nc: Client, message: SagaMessage) -> None:
    """The same message (same ce-id and payload) stored once more under a new Nats-Msg-Id, as a
    publisher retrying after JetStream's duplicate window would: the consumer's inbox must
    absorb it."""
    headers = _headers(message.stored, message.event_id)
    await nc.jetstream().publish(message.stored.subject, message.stored.data, headers=headers)


async def send_late(nc: Client, message: SagaMessage) -> None:
    """The message's command or reply sent again as a new message (a new event id; the same
    command id, saga and order), as a stale retry that arrives after its saga moved on."""
    copy = type(message.message)()
    copy.CopyFrom(message.message)
    event_id = str(uuid.uuid4())
    copy.metadata.event_id = event_id
    headers = _headers(message.stored, event_id)
    await nc.jetstream().publish(message.stored.subject, copy.SerializeToString(), headers=headers)


async def lose(nc: Client, messages: list[SagaMessage]) -> None:
    """The messages deleted from the stream, as if they never reached it: a consumer that has
    not yet been given them never will be."""
    for message in messages:
        await nc.jetstream().delete_msg(STREAM, message.stored.seq)


def firsts(messages: list[SagaMessage]) -> list[SagaMessage]:
    """Each order's first ReserveCredit, CreditReserved and CreditRefused."""
    first: dict[tuple[str, str], SagaMessage] = {}
    for message in messages:
        if message.kind in ("ReserveCredit", "CreditReserved", "CreditRefused"):
            first.setdefault((message.order, message.kind), message)
    return list(first.values())


async def late_deliveries(nc: Client, lost: list[SagaMessage]) -> Counter[str]:
    """After the suite settled: each order's first ReserveCredit, CreditReserved and
    CreditRefused sent again as new messages (so billing meets released, refused and active
    reservations, and orders gets replies for sagas that ended), and every release's messages
    stored again."""
    sent: Counter[str] = Counter()
    stored = await saga_messages(nc)
    for message in stored:
        if message.kind in ("ReleaseCredit", "CreditReleased"):
            await store_again(nc, message)
            sent[f"{message.kind} stored again"] += 1
    for message in firsts(lost + stored):
        await send_late(nc, message)
        sent[f"late {message.kind}"] += 1
    return sent


async def refused_released(nc: Client) -> int:
    """Billing's refusals of a ReserveCredit that came after its order's release."""
    return sum(
        message.kind == "CreditRefused" and message.message.reason == RELEASED
        for message in await saga_messages(nc)
    )
