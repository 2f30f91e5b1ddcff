"""The report as a PNG: API throughput beside the ceiling, bridge throughput beside raw publish."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from matplotlib.axes import Axes

from bench.report import Row

COLOURS = {True: "#2e7d32", False: "#c62828", None: "#607d8b"}


def _panel(axis: Axes, rows: list[Row], title: str, unit: str) -> None:
    shown = [(row, row.value) for row in rows if row.value is not None]
    names = [row.scenario for row, _ in shown]
    values = [value for _, value in shown]
    axis.barh(names, values, color=[COLOURS[row.met] for row, _ in shown])
    axis.invert_yaxis()
    axis.set_title(title)
    axis.set_xlabel(unit)
    axis.tick_params(axis="y", labelsize=8)
    for y, value in enumerate(values):
        axis.annotate(f" {value:,.0f}", (value, y), va="center", fontsize=7)


def draw(rows: list[Row], path: Path) -> None:
    api = [row for row in rows if row.unit == "rps"]
    # Throughput only: the commit-to-ack row is a latency, told by its p99 in the table.
    bridge = [row for row in rows if row.unit == "events/s" and row.p99_ms is None]
    figure, (left, right) = plt.subplots(
        2,
        1,
        figsize=(10, 9),
        gridspec_kw={"height_ratios": [max(len(api), 1), max(len(bridge), 1)]},
    )
    _panel(left, api, "gRPC calls per second (green: target met, red: missed)", "calls/s")
    _panel(right, bridge, "Events per second to JetStream", "events/s")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
