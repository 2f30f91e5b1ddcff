"""Log lines for people at a terminal, JSON for everything else, and --log-format to choose."""

import io
import json
import logging

import pytest

from usersuite.cli import main
from usersuite.platform.ops.logs import HANDLER_NAME, JsonFormatter, TextFormatter, resolve_format


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def own_root_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The root logger's handlers and level come back as they were after each test."""
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)


def our_formatter() -> logging.Formatter | None:
    [handler] = [h for h in logging.getLogger().handlers if h.get_name() == HANDLER_NAME]
    return handler.formatter


@pytest.mark.parametrize(
    ("fmt", "tty", "expected"),
    [
        ("auto", True, "text"),
        ("auto", False, "json"),
        ("json", True, "json"),
        ("text", False, "text"),
    ],
)
def test_auto_means_text_on_a_terminal_and_json_elsewhere(
    fmt: str, tty: bool, expected: str
) -> None:
    stream = Terminal() if tty else io.StringIO()
    assert resolve_format(fmt, stream) == expected  # type: ignore[arg-type]


def test_a_command_logs_text_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stderr", Terminal())
    monkeypatch.setenv("USERSUITE_MODE", "dev")

    assert main(["config", "show"]) == 0

    assert isinstance(our_formatter(), TextFormatter)


def test_a_command_logs_json_when_stderr_is_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("sys.stderr", io.StringIO())
    monkeypatch.setenv("USERSUITE_MODE", "dev")

    assert main(["config", "show"]) == 0

    assert isinstance(our_formatter(), JsonFormatter)


def test_log_format_json_wins_over_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    monkeypatch.setenv("USERSUITE_MODE", "dev")

    assert main(["config", "show", "--log-format", "json"]) == 0
    logging.getLogger("usersuite.test").warning("to a person, but asked for JSON")

    last = terminal.getvalue().splitlines()[-1]
    assert json.loads(last)["message"] == "to a person, but asked for JSON"
