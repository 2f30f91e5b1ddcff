"""Per-request data that interceptors set and handlers read, carried in contextvars."""

from contextvars import ContextVar

# The authenticated caller (JWT `sub` or verified peer identity); empty without auth.
principal: ContextVar[str] = ContextVar("principal", default="")
