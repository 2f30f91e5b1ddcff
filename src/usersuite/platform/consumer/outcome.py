"""How the consumer settled one message."""

import enum


class Outcome(enum.StrEnum):
    HANDLED = "handled"
    DUPLICATE = "duplicate"
    RETRY = "retry"
    DEAD_LETTERED = "dead_lettered"
