"""What database errors mean, in one place: the API's units of work, the relay and the consumer
all ask here whether the database is unavailable rather than deciding on their own.

Unavailable (cannot be reached, or does not answer now) is the caller's cue to answer
UNAVAILABLE or to retry later; a refused value, a cancelled statement or a bug is not.
"""

import psycopg
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from usersuite.platform.domain.errors import FieldViolation, ValidationFailed
from usersuite.platform.service.errors import DeadlineExceeded, ServiceUnavailable

# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout or a cancel request.
QUERY_CANCELED = "57014"

# Whatever the database, its driver or the way to it may raise. A long-running worker (the
# relay) retries any of them on a new session: from its side even a cancelled statement or a
# missing table (a bridge started before the migrations) passes with time.
DATABASE_ERRORS = (DBAPIError, PoolTimeoutError, psycopg.Error, OSError)


def is_data_error(exc: BaseException) -> bool:
    """PostgreSQL's class 22: a value the column cannot hold (too long, NUL byte, ...)."""
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None) or ""
    return isinstance(exc, DBAPIError) and sqlstate.startswith("22")


def is_cancelled_by_deadline(exc: BaseException) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == QUERY_CANCELED


def is_unavailable(exc: BaseException) -> bool:
    """Whether the database could not be reached or answered (as opposed to a bug)."""
    if isinstance(exc, IntegrityError) or is_cancelled_by_deadline(exc) or is_data_error(exc):
        return False
    if isinstance(exc, PoolTimeoutError | ConnectionError | TimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return isinstance(exc, OSError)


def service_error(error: BaseException) -> Exception | None:
    """The service's error for database trouble (None: not the database's, let it pass)."""
    if is_unavailable(error):
        return ServiceUnavailable("the database is unavailable")
    if is_data_error(error):
        # Validation should have refused the value first; never let it become INTERNAL.
        violation = FieldViolation("request", "a value cannot be stored (malformed or too long)")
        return ValidationFailed([violation])
    if is_cancelled_by_deadline(error):
        return DeadlineExceeded("the database work did not finish before the deadline")
    return None
