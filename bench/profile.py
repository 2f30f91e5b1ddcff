"""A py-spy profile of the full-stack server under GetUser load: where its core's time goes.

`python -m bench.profile` (make bench-profile) writes bench/results/profile-getuser.md: the share of
samples spent inside each layer (a sample counts for every layer on its stack) and the hottest leaf
functions. py-spy samples only running threads, so the shares are of CPU time, not of wall time.
"""

import argparse
import collections
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.api import CREATE, PAGE, pool_for
from bench.ghz import Call, Ghz, Load
from bench.processes import running, say
from bench.stack import LOAD_CPU, Stack

RESULTS = Path(__file__).parent / "results"
WARMUP_SECONDS = 2.0

# Layers by a substring of a py-spy frame (file paths are shortened to their package); a layer's
# samples are those with the marker on the stack and none of the exclusions (the code it calls
# that is a layer of its own, like the servicer below the interceptors).
# py-spy samples without pausing the server (`--nonblocking`), so a stack can be read while
# frames come and go: seen here, the servicer's mapping under ObservabilityInterceptor._finish.
# The interceptors call service code and the database only through the servicer (request
# signing's nonce store aside, off in these runs), so a sample with any of those frames is the
# servicer's work, wherever the torn stack puts it.
BELOW_INTERCEPTORS = (
    "usersuite/users/", "usersuite/orders/", "usersuite/billing/", "usersuite/platform/db/",
    "sqlalchemy/", "psycopg/",
)  # fmt: skip
LAYERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("interceptor stack, without the servicer it calls", "usersuite/platform/grpc/interceptors/",
     BELOW_INTERCEPTORS),
    ("  of which PyJWT decoding", "jwt/api_j", ()),
    ("servicer, handlers and database", "usersuite/users/api/servicer.py", ()),
    ("  SET LOCAL statement_timeout (deadline bound)", "_bound_by_deadline", ()),
    ("  transaction end (rollback/commit)", "SqlUnitOfWork.__aexit__", ()),
    ("  pool checkout (idle-only ping) and new connections", "_checkout", ()),
    # SQLAlchemy's async layer runs in greenlets, whose stacks do not reach the servicer.
    ("SQLAlchemy (all of it)", "sqlalchemy/", ()),
    ("psycopg (all of it)", "psycopg/", ()),
    ("  proto <-> domain mapping", "usersuite/users/api/mapping.py", ()),
    ("native code under the event loop (grpc core, uvloop)", "", ()),
    # grpc.aio's PollerCompletionQueue._poll_wrapper, a Cython thread target py-spy cannot see
    # into: grpc core polling its completion queue (the metrics server's thread only idles).
    ("grpc's completion-queue poller thread (native)", "Thread.run (threading.py", ()),
)  # fmt: skip
# Leaves that are a thread waiting, not working: left out of the total.
IDLE_LEAVES = ("select (selectors.py",)
# A Python frame that calls into native code py-spy cannot see: asyncio's callback runner, or
# the frame that entered uvloop's loop, which runs grpc's callbacks in C.
NATIVE_LEAVES = ("Handle._run (asyncio/events.py", "Runner.run (asyncio/runners.py")


def parse_collapsed(text: str) -> collections.Counter[str]:
    """py-spy's raw (collapsed) output: one `frame;frame;... count` line per distinct stack."""
    stacks: collections.Counter[str] = collections.Counter()
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            stacks[stack] += int(count)
    return stacks


def _share(stacks: collections.Counter[str], marker: str, exclude: tuple[str, ...]) -> int:
    if not marker:
        return sum(
            n for stack, n in stacks.items() if stack.rsplit(";", 1)[-1].startswith(NATIVE_LEAVES)
        )
    return sum(
        n
        for stack, n in stacks.items()
        if marker in stack and not any(other in stack for other in exclude)
    )


INTERCEPTOR_FRAME = re.compile(
    r"(\w+Interceptor)[.\w<>]* \((?:usersuite/platform/grpc/interceptors/|grpc/_aio)"
)


def _by_interceptor(stacks: collections.Counter[str]) -> collections.Counter[str]:
    """Samples in the interceptor stack but not below it, by the innermost interceptor class."""
    owners: collections.Counter[str] = collections.Counter()
    for stack, n in stacks.items():
        if any(below in stack for below in BELOW_INTERCEPTORS):
            continue
        found = INTERCEPTOR_FRAME.findall(stack)
        if found:
            owners[found[-1]] += n
    return owners


def summarise(stacks: collections.Counter[str], top: int = 25) -> list[str]:
    busy = collections.Counter(
        {
            stack: n
            for stack, n in stacks.items()
            if not any(idle in stack.rsplit(";", 1)[-1] for idle in IDLE_LEAVES)
        }
    )
    total = sum(busy.values()) or 1
    lines = [
        f"{total:,} busy samples ({sum(stacks.values()) - total:,} idle ones left out).",
        "",
        "| layer | share of busy samples |",
        "|---|---|",
    ]
    for name, marker, exclude in LAYERS:
        lines.append(f"| {name} | {_share(busy, marker, exclude) / total:.1%} |")
    lines += ["", "| interceptor, by its own frames (innermost interceptor on the stack) | share |",
              "|---|---|"]  # fmt: skip
    lines += [f"| {name} | {n / total:.1%} |" for name, n in _by_interceptor(busy).most_common()]
    leaves: collections.Counter[str] = collections.Counter()
    for stack, n in busy.items():
        leaves[stack.rsplit(";", 1)[-1]] += n
    lines += ["", "| hottest leaf functions (self time) | share |", "|---|---|"]
    lines += [f"| `{leaf}` | {n / total:.1%} |" for leaf, n in leaves.most_common(top)]
    return lines


def request(method: str, stack: Stack, port: int) -> dict[str, Any]:
    """The profiled call's request, as bench/twins.py sends it."""
    if method == "GetUser":
        return {"name": stack.seed_users(port, 1)[0]}
    stack.seed_users(port, 60)
    return {"ListUsers": PAGE, "CreateUser": CREATE}[method]


def profile(
    stack: Stack, seconds: float, rate: int, method: str = "GetUser", concurrency: int = 50
) -> str:
    url = stack.database("bench_profile")
    load = Load(
        concurrency=concurrency,
        connections=min(4, concurrency),
        warmup_seconds=WARMUP_SECONDS,
        run_seconds=seconds + 4,
        runs=1,
    )
    # The pool the twins give the server (bench/twins.py), whatever the calls at once.
    with running(stack.serve("serve-profile", url, **pool_for(Load()))) as server:
        port = server.port()
        call = Call(method, request(method, stack, port), stack.metadata())
        ghz = Ghz("ghz", LOAD_CPU, load, stack.log_dir)
        failures: list[BaseException] = []

        def drive() -> None:
            try:
                ghz.measure(f"127.0.0.1:{port}", call)
            except BaseException as error:  # reported below: a profile of an idle server lies
                failures.append(error)
                raise

        driver = threading.Thread(target=drive)
        driver.start()
        # Past ghz's warm-up, which also fills the pool: connecting is not the steady state.
        time.sleep(WARMUP_SECONDS + 0.5)
        out = stack.log_dir / f"{method.lower()}.collapsed"
        say(f"py-spy on pid {server.pid} for {seconds}s")
        subprocess.run(
            ["py-spy", "record", "-p", str(server.pid), "-d", str(int(seconds)), "-r", str(rate),
             "-f", "raw", "--nonblocking", "-o", str(out)],
            check=True, capture_output=True,
        )  # fmt: skip
        driver.join()
        if failures:
            raise SystemExit(f"the load failed, no profile: {failures[0]}")
        return out.read_text()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=int, default=200)
    methods = ("GetUser", "ListUsers", "CreateUser")
    parser.add_argument("--method", choices=methods, default="GetUser")
    parser.add_argument("--concurrency", type=int, default=50, help="calls at once")
    parser.add_argument("--out", type=Path, help="default: bench/results/profile-METHOD.md")
    parser.add_argument("--collapsed", type=Path, help="summarise this recording instead")
    args = parser.parse_args()
    out = args.out or RESULTS / f"profile-{args.method.lower()}.md"
    if args.collapsed is not None:
        collapsed = args.collapsed.read_text()
    else:
        stack = Stack(Path(tempfile.mkdtemp(prefix="usersuite-profile-")))
        try:
            collapsed = profile(stack, args.seconds, args.rate, args.method, args.concurrency)
        finally:
            stack.close()
    lines = [
        f"# {args.method} under load: py-spy profile of the full-stack server",
        "",
        f"Server pinned to core 0 with auth on and PostgreSQL, ghz ({args.concurrency} calls at "
        "once, on up to 4 connections) on core 1. Shares are of the server's sampled CPU time; "
        "`Handle._run` (asyncio) or `Runner.run` (uvloop) as a leaf is native code run from the "
        "event loop (grpc core), which py-spy does not see into.",
        "",
        *summarise(parse_collapsed(collapsed)),
    ]
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
