"""Runs the same tests several rounds and reports every test that failed in any of them.

`make flake` calls it: a test that passes in one round and fails in another races something it
does not control. Each round is a fresh pytest process; a round's failures are read from its
JUnit XML report, so the summary names them by node id.

    python tools/flake.py --rounds 10 -- -n 3 --dist loadfile tests/integration tests/e2e
"""

import argparse
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path


def failed_ids(report: Path) -> list[str]:
    """Node ids of the failed or erroring test cases in a JUnit XML report."""
    failed = []
    # The report is the one our own pytest run just wrote.
    for case in ET.parse(report).getroot().iter("testcase"):  # noqa: S314
        if case.find("failure") is not None or case.find("error") is not None:
            module = case.get("classname", "").replace(".", "/")
            failed.append(f"{module}.py::{case.get('name')}")
    return failed


def run_round(number: int, pytest_args: list[str], workdir: Path) -> list[str]:
    """One pytest run; its failures (a run that wrote no report counts as one failure)."""
    report = workdir / f"round-{number}.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    result = subprocess.run([*command, f"--junitxml={report}", *pytest_args], check=False)
    if not report.exists():
        return [f"round {number}: pytest exited {result.returncode} without a report"]
    failed = failed_ids(report)
    if result.returncode != 0 and not failed:
        failed.append(f"round {number}: pytest exited {result.returncode}")
    return failed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("pytest_args", nargs="*", help="passed to pytest (after --)")
    args = parser.parse_args()
    failures: Counter[str] = Counter()
    with tempfile.TemporaryDirectory(prefix="flake-") as tmp:
        for number in range(1, args.rounds + 1):
            failed = run_round(number, args.pytest_args, Path(tmp))
            failures.update(failed)
            verdict = f"{len(failed)} failed" if failed else "passed"
            print(f"flake: round {number}/{args.rounds} {verdict}", flush=True)
            for node_id in failed:
                print(f"flake:   {node_id}", flush=True)
    print(f"flake: {args.rounds} rounds, {sum(failures.values())} failures", flush=True)
    for node_id, count in failures.most_common():
        print(f"flake:   {count}/{args.rounds} {node_id}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
