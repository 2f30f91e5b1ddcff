"""Per-request data that interceptors set and handlers and adapters read, in contextvars."""

from contextvars import ContextVar, Token
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    """Who is calling: a JWT subject, a verified client certificate, or a request signer."""

    subject: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    # "jwt", "mtls", "signature", or "anonymous" when authentication is disabled.
    method: str = "anonymous"


ANONYMOUS = Principal(subject="")


@dataclass
class CallReport:
    """What the call learned on its way in, for the access log and metrics on its way out."""

    principal: Principal = ANONYMOUS


principal: ContextVar[Principal] = ContextVar("principal", default=ANONYMOUS)
# Opened by whoever reports the call (the access log), filled in by those who learn facts.
report: ContextVar[CallReport | None] = ContextVar("report", default=None)
# time.monotonic() by which the call must finish; None when it has no deadline.
deadline: ContextVar[float | None] = ContextVar("deadline", default=None)


def identify(caller: Principal) -> Token[Principal]:
    """Sets the caller for the rest of the call and notes it in the call's report."""
    opened = report.get()
    if opened is not None:
        opened.principal = caller
    return principal.set(caller)
