"""Per-request data that interceptors set and handlers and adapters read, in contextvars."""

from contextvars import ContextVar
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    """Who is calling: a JWT subject, a verified client certificate, or a request signer."""

    subject: str
    scopes: frozenset[str] = field(default_factory=frozenset)
    # "jwt", "mtls", "signature", or "anonymous" when authentication is disabled.
    method: str = "anonymous"


ANONYMOUS = Principal(subject="")

principal: ContextVar[Principal] = ContextVar("principal", default=ANONYMOUS)
# The verified TLS client identity (certificate subject CN / SAN), when mTLS is on.
peer_identity: ContextVar[str] = ContextVar("peer_identity", default="")
# time.monotonic() by which the call must finish; None when it has no deadline.
deadline: ContextVar[float | None] = ContextVar("deadline", default=None)
