"""A network that loses, duplicates and reorders messages, and an inbox that drops redeliveries:
what JetStream and the consumers' inboxes promise at worst, for unit tests of the saga rules."""

import itertools
from dataclasses import dataclass


@dataclass(frozen=True)
class Envelope:
    """One message on the wire; every send gets a new id, as every outbox row does."""

    message_id: int
    body: object


class LossyNetwork:
    def __init__(self) -> None:
        self.in_flight: list[Envelope] = []
        self._ids = itertools.count(1)

    def send(self, body: object) -> None:
        self.in_flight.append(Envelope(next(self._ids), body))

    def take(self, pick: int) -> Envelope:
        """Removes and returns any message in flight: picking other than the first reorders."""
        return self.in_flight.pop(pick % len(self.in_flight))

    def duplicate(self, pick: int, *, redelivery: bool) -> None:
        """A redelivery keeps the message id (the inbox drops it); otherwise the copy gets a new
        one, as a message re-published after the duplicate window and the inbox forgot it."""
        original = self.in_flight[pick % len(self.in_flight)]
        message_id = original.message_id if redelivery else next(self._ids)
        self.in_flight.append(Envelope(message_id, original.body))

    def drop(self, pick: int) -> None:
        self.take(pick)


class Inbox:
    """Exactly-once receipt by message id, as the consumers' inbox tables give."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def first_time(self, envelope: Envelope) -> bool:
        if envelope.message_id in self.seen:
            return False
        self.seen.add(envelope.message_id)
        return True
