"""configure_logging: JSON lines or text on stderr, with extra fields and the current trace id."""

import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from usersuite.platform.ops.logs import HANDLER_NAME, configure_logging

log = logging.getLogger("usersuite.test")


@pytest.fixture(autouse=True)
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.splitlines()


def test_json_lines_carry_the_standard_and_the_extra_fields(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("INFO", "json")
    log.info("user %s created", "users/1", extra={"method": "CreateUser", "duration_ms": 1.5})
    log.debug("not at INFO")
    [line] = lines(capsys)
    entry = json.loads(line)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "usersuite.test"
    assert entry["message"] == "user users/1 created"
    assert entry["method"] == "CreateUser"
    assert entry["duration_ms"] == 1.5
    assert entry["timestamp"].endswith("+00:00")
    assert "trace_id" not in entry  # no span is active


def test_json_lines_name_the_current_trace(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        log.warning("inside a span")
    log.warning("explicit", extra={"trace_id": "given"})
    inside, explicit = (json.loads(line) for line in lines(capsys))
    context = span.get_span_context()
    assert inside["trace_id"] == trace.format_trace_id(context.trace_id)
    assert inside["span_id"] == trace.format_span_id(context.span_id)
    assert explicit["trace_id"] == "given"


def test_exceptions_stay_inside_one_json_line(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("ERROR", "json")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed")
    [line] = lines(capsys)
    entry = json.loads(line)
    assert entry["message"] == "failed"
    assert "ValueError: boom" in entry["exception"]


def test_extra_fields_cannot_replace_the_standard_ones(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    log.info("real", extra={"level": "FAKE", "logger": "fake"})
    entry = json.loads(lines(capsys)[0])
    assert (entry["level"], entry["logger"], entry["message"]) == ("INFO", "usersuite.test", "real")


def test_text_format_appends_the_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "text")
    log.info("call done", extra={"code": "OK", "peer": "ipv4:127.0.0.1:5"})
    [line] = lines(capsys)
    assert " INFO usersuite.test: call done code=OK peer=ipv4:127.0.0.1:5" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)


def test_configuring_again_replaces_the_handler(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "text")
    configure_logging("WARNING", "json")
    ours = [h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME]
    assert len(ours) == 1
    log.info("dropped")
    log.warning("kept")
    [line] = lines(capsys)
    assert json.loads(line)["message"] == "kept"
