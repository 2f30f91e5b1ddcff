"""Rows of the benchmark, judged against the issue's targets, written as Markdown and JSON."""

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Literal


@dataclass
class Row:
    group: str
    scenario: str
    unit: str = "rps"
    value: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    baseline: str = ""
    ratio: float | None = None
    target: str = ""
    met: bool | None = None
    note: str = ""
    # The baseline's value from runs alternating with this row's (a shared machine drifts);
    # when set, the ratio is to it rather than to the baseline's own row.
    paired: float | None = None


@dataclass(frozen=True)
class Target:
    """One goal: `ratio` compares with the baseline row, `time-ratio` compares latencies
    (baseline rps / rps), `value` and `p99` compare the row's own numbers."""

    text: str
    measure: Literal["ratio", "time-ratio", "value", "p99"]
    bound: Literal["min", "max"]
    threshold: float
    baseline: str = ""


@dataclass(frozen=True)
class Plan:
    """What a scenario is compared with and what it must reach."""

    baseline: str = ""
    targets: tuple[Target, ...] = field(default_factory=tuple)


def _base_value(row: Row, baseline: str, by_name: dict[str, Row]) -> float | None:
    if row.paired is not None:
        return row.paired
    base = by_name.get(baseline)
    return None if base is None else base.value


def _measured(row: Row, target: Target, by_name: dict[str, Row]) -> float | None:
    if target.measure == "value":
        return row.value
    if target.measure == "p99":
        return row.p99_ms
    base = _base_value(row, target.baseline, by_name)
    if not base or not row.value:
        return None
    return row.value / base if target.measure == "ratio" else base / row.value


def judge(rows: Iterable[Row], plans: dict[str, Plan]) -> list[Row]:
    """Fills each row's ratio to its baseline, its target text and whether it is met."""
    rows = list(rows)
    by_name = {row.scenario: row for row in rows}
    for row in rows:
        plan = plans.get(row.scenario, Plan())
        row.baseline = plan.baseline
        base = _base_value(row, plan.baseline, by_name) if plan.baseline else None
        if base and row.value is not None:
            row.ratio = row.value / base
        if not plan.targets:
            continue
        row.target = " and ".join(target.text for target in plan.targets)
        verdicts: list[bool | None] = []
        for target in plan.targets:
            measured = _measured(row, target, by_name)
            if measured is None:
                verdicts.append(None)
                continue
            if target.measure == "time-ratio":
                row.ratio = measured
            ok = (
                measured >= target.threshold
                if target.bound == "min"
                else measured <= target.threshold
            )
            verdicts.append(ok)
        row.met = None if None in verdicts else all(verdicts)
    return rows


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return ""
    return f"{value:,.{digits}f}"


def _met(row: Row) -> str:
    if row.met is None:
        return "—" if row.target else ""
    return "met" if row.met else "**missed**"


def render(rows: list[Row], machine: str, versions: str, notes: Iterable[str] = ()) -> str:
    lines = [
        "# usersuite benchmark",
        "",
        f"Machine: {machine}",
        "",
        f"Versions: {versions}",
        "",
        "| group | scenario | value | p50 ms | p99 ms | ratio (to) | target | met | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        value = f"{_num(row.value, 1 if row.unit in ('MB', '%') else 0)} {row.unit}"
        value = value if row.value is not None else ""
        paired = ", paired" if row.paired is not None else ""
        ratio = f"{row.ratio:.2f}× ({row.baseline}{paired})" if row.ratio is not None else ""
        lines.append(
            f"| {row.group} | {row.scenario} | {value} | {_num(row.p50_ms, 1)} | "
            f"{_num(row.p99_ms, 1)} | {ratio} | {row.target} | {_met(row)} | {row.note} |"
        )
    lines += ["", *[f"- {note}" for note in notes]]
    return "\n".join(lines).rstrip() + "\n"


def _cell(row: Row) -> str:
    if row.value is None:
        return row.note
    digits = 1 if row.unit in ("MB", "%") else 0
    shown = f"{_num(row.value, digits)} {row.unit}"
    if row.p99_ms is not None and row.unit == "events/s":
        shown += f", p99 {_num(row.p99_ms, 1)} ms"
    if row.ratio is not None:
        shown += f" ({row.ratio:.2f}×)"
    return shown


def comparison(before: list[Row], after: list[Row]) -> str:
    """Each scenario before and after, with its ratio to its baseline in the same run."""
    earlier = {row.scenario: row for row in before}
    lines = [
        "## Before and after",
        "",
        "Ratios are to the baseline of the same run, so runs on a busier machine compare.",
        "",
        "| scenario | before | after |",
        "|---|---|---|",
    ]
    for row in after:
        was = earlier.get(row.scenario)
        if was is not None:
            lines.append(f"| {row.scenario} | {_cell(was)} | {_cell(row)} |")
    return "\n".join(lines) + "\n"


def save(rows: list[Row], path: Path) -> None:
    path.write_text(json.dumps([asdict(row) for row in rows], indent=1) + "\n")


def load(path: Path) -> list[Row]:
    names = {f.name for f in fields(Row)}
    return [
        Row(**{k: v for k, v in item.items() if k in names})
        for item in json.loads(path.read_text())
    ]


# Above this load average at the start, paired ratios drift with the other work: no verdict.
QUIET_LOAD = 1.5


def withhold_verdicts(rows: list[Row], load: float) -> str | None:
    """Clears every met/missed when the machine was not quiet; the note that says why."""
    if load <= QUIET_LOAD:
        return None
    for row in rows:
        row.met = None
    return (
        f"No verdict: the load average at the start was {load:.1f}, above {QUIET_LOAD}; targets "
        "are judged only on a quiet machine (the numbers and ratios stand as measured)."
    )
