"""How an exception reads in a log line."""


def describe(exc: BaseException) -> str:
    """`Type: message`, or just the type when the exception has no message."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
