"""The Helm chart README's values table, generated from the `# --` comments of values.yaml.

`--write` rewrites the table between the README's markers; `--check` exits 1 when the README
is out of date or a value has no description (make chart runs the check).
"""

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[1] / "deploy" / "helm" / "usersuite"
START = "<!-- values-table:start -->"
END = "<!-- values-table:end -->"
KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_.-]+):")
DESCRIPTION = re.compile(r"^ *# -- (?P<text>.*)$")
CONTINUATION = re.compile(r"^ *# (?P<text>.*)$")


def described_keys(values_yaml: str) -> dict[tuple[str, ...], str]:
    """Each key path with a `# --` comment right above it, and the comment's text."""
    described: dict[tuple[str, ...], str] = {}
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    for line in values_yaml.splitlines():
        if match := DESCRIPTION.match(line):
            pending = [match["text"]]
        elif pending is not None and (match := CONTINUATION.match(line)):
            pending.append(match["text"])
        elif match := KEY.match(line):
            indent = len(match["indent"])
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, match["key"]))
            if pending is not None:
                described[tuple(key for _, key in stack)] = " ".join(pending)
            pending = None
        elif not line.strip().startswith("-"):
            pending = None
    return described


def _leaves(value: Any, path: tuple[str, ...]) -> list[tuple[str, ...]]:
    if isinstance(value, dict) and value:
        return [leaf for key, child in value.items() for leaf in _leaves(child, (*path, key))]
    return [path]


def _lookup(values: dict[str, Any], path: tuple[str, ...]) -> Any:
    found: Any = values
    for key in path:
        found = found[key]
    return found


def _type(value: Any) -> str:
    names = {bool: "bool", int: "int", float: "float", str: "string", list: "list", dict: "object"}
    return names[type(value)]


def table(chart: Path) -> str:
    """The markdown table; raises ValueError naming the values that have no description."""
    text = (chart / "values.yaml").read_text()
    values = yaml.safe_load(text)
    described = described_keys(text)
    undocumented = [
        ".".join(leaf)
        for leaf in _leaves(values, ())
        if not any(leaf[: len(path)] == path for path in described)
    ]
    if undocumented:
        raise ValueError(f"values without a `# --` description: {', '.join(undocumented)}")
    rows = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for path, description in described.items():
        value = _lookup(values, path)
        default = json.dumps(value).replace("|", "\\|")
        cells = [".".join(path), _type(value), f"`{default}`", description.replace("|", "\\|")]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def with_table(readme: str, generated: str) -> str:
    """The README with the text between the markers replaced by `generated`."""
    head, start, rest = readme.partition(START)
    _, end, tail = rest.partition(END)
    if not start or not end:
        raise ValueError(f"README.md lacks the markers {START} and {END}")
    return f"{head}{START}\n{generated}\n{END}{tail}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--chart", type=Path, default=CHART, help="the chart directory")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the README's table")
    mode.add_argument("--check", action="store_true", help="fail when the README is stale")
    args = parser.parse_args()
    readme_path = args.chart / "README.md"
    readme = readme_path.read_text()
    try:
        updated = with_table(readme, table(args.chart))
    except ValueError as exc:
        print(f"chart_values_table: {exc}", file=sys.stderr)
        return 1
    if args.write:
        readme_path.write_text(updated)
        return 0
    if updated != readme:
        print(
            f"{readme_path} is out of date with values.yaml: "
            "run `python tools/chart_values_table.py --write`",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
