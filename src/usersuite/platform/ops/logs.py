"""Process logging to stderr: JSON lines, or text lines for people, with the current trace id."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

from opentelemetry import trace

HANDLER_NAME = "usersuite"
LogFormat = Literal["auto", "json", "text"]
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Everything a LogRecord carries by itself; any other attribute came in through `extra=`.
_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a caller passed with `extra=`, plus the trace id of the current span."""
    fields = {key: value for key, value in vars(record).items() if key not in _RECORD_FIELDS}
    if "trace_id" not in fields:
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            fields["trace_id"] = trace.format_trace_id(span_context.trace_id)
            fields["span_id"] = trace.format_span_id(span_context.span_id)
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, then the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in extra_fields(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic one-line format, with the extra fields appended as key=value."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = extra_fields(record)
        if not fields:
            return line
        head, newline, rest = line.partition("\n")  # keep a traceback below the fields
        pairs = " ".join(f"{key}={value}" for key, value in fields.items())
        return f"{head} {pairs}{newline}{rest}"


def resolve_format(fmt: LogFormat, stream: TextIO) -> Literal["json", "text"]:
    """`auto` means text for a person at a terminal and JSON for anything else."""
    if fmt == "auto":
        return "text" if stream.isatty() else "json"
    return fmt


def configure_logging(level: str, fmt: LogFormat = "json") -> None:
    """Sends the root logger to stderr in `fmt`; calling again replaces the earlier setup."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(handler)
        handler.close()
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(HANDLER_NAME)
    chosen = resolve_format(fmt, sys.stderr)
    handler.setFormatter(JsonFormatter() if chosen == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Alembic announces its context on every schema check; only its warnings matter to us.
    logging.getLogger("alembic").setLevel(logging.DEBUG if level.upper() == "DEBUG" else "WARNING")
