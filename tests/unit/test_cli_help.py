"""The command line as a person meets it: --version, and --help with only a command's flags."""

import argparse
import re

import pytest

from usersuite.cli import build_parser, installed_version, main

# Each command's own flags; every command also has --config, --log-level and --log-format.
OWN_FLAGS = {
    ("serve",): {
        "--database-url",
        "--nats-url",
        "--listen",
        "--metrics-listen",
        "--migrate",
        "--workers",
    },
    ("dev",): {"--database-url", "--listen", "--metrics-listen"},
    ("bridge",): {"--database-url", "--nats-url", "--metrics-listen", "--migrate"},
    ("events", "tail"): {"--nats-url", "--subject", "--from-start", "--limit"},
    ("outbox", "list"): {"--database-url", "--state", "--limit"},
    ("outbox", "retry"): {"--database-url", "--event-id", "--all"},
    ("migrate",): {"--database-url"},
    ("token",): {"--scope", "--subject", "--ttl"},
    ("gateway", "config"): {"--listen", "--format"},
    ("config", "show"): {
        "--database-url",
        "--nats-url",
        "--listen",
        "--metrics-listen",
        "--sources",
    },
}
EVERY_COMMAND = {"--config", "--log-level", "--log-format", "--help"}


def help_of(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def test_version_names_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])

    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"usersuite {installed_version()}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", installed_version())


@pytest.mark.parametrize("command", sorted(OWN_FLAGS), ids=" ".join)
def test_help_lists_exactly_the_commands_own_flags(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    shown = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", help_of(capsys, *command)))

    assert shown == OWN_FLAGS[command] | EVERY_COMMAND


@pytest.mark.parametrize("command", sorted(OWN_FLAGS), ids=" ".join)
def test_help_opens_with_a_one_line_description(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    text = help_of(capsys, *command)

    usage, description = text.split("\n\n")[:2]
    assert usage.startswith(f"usage: usersuite {' '.join(command)}")
    assert "\n" not in description.strip()
    assert description.strip() == summary_in_parent_help(command)


def summary_in_parent_help(command: tuple[str, ...]) -> str:
    """The summary the parent's command list shows for `command`."""
    parser = build_parser()
    for name in command:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        summary = next(c.help for c in sub._choices_actions if c.dest == name)
        parser = sub.choices[name]
    assert summary
    return summary


def test_the_bridge_does_not_offer_the_grpc_listen_address(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert "--listen " not in help_of(capsys, "bridge")
