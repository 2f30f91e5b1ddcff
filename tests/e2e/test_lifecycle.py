"""Process lifecycle: graceful drain on SIGTERM, and refusing a database whose schema is behind."""

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
import psycopg
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.support.grpcurl import Grpcurl
from tests.support.postgres import EmptyDatabases, conninfo
from tests.support.processes import (
    Launch,
    UsersuiteProcess,
    migrate_with_cli,
    serve_args,
    server_env,
)
from tests.support.waiting import eventually
from user.v1 import user_pb2, user_pb2_grpc

BURST = 200
IN_FLIGHT = 40
SIGTERM_AFTER = 50  # completed calls
CALL_TIMEOUT = 60.0
GRACE_SECONDS = "30"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@dataclass
class Outcome:
    user_id: str
    code: grpc.StatusCode
    details: str
    finished_after_sigterm: bool


@dataclass
class Drain:
    """What a burst of CreateUser calls saw when the server got SIGTERM in its middle."""

    outcomes: list[Outcome]
    health_seen: list[int]
    exit_code: int
    stored: set[str]
    server_output: str

    def ids(self, code: grpc.StatusCode) -> set[str]:
        return {o.user_id for o in self.outcomes if o.code is code}

    def summary(self) -> str:
        codes = Counter(o.code.name for o in self.outcomes)
        return f"codes {dict(codes)}; health {self.health_seen}\n{self.server_output}"


def stored_user_ids(database_url: str) -> set[str]:
    with psycopg.connect(conninfo(database_url)) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM users")}


async def watch_health(channel: grpc.aio.Channel, seen: list[int], started: asyncio.Event) -> None:
    """Records the overall health statuses the server streams until it reports NOT_SERVING."""
    stub = health_pb2_grpc.HealthStub(channel)
    call = stub.Watch(health_pb2.HealthCheckRequest(service=""))
    try:
        async for response in call:
            seen.append(response.status)
            started.set()
            if response.status == NOT_SERVING:
                break
    except grpc.aio.AioRpcError:
        pass  # the stream ended with the server; `seen` tells what it reported before
    finally:
        started.set()
        call.cancel()  # an open Watch would otherwise hold the drain for the whole grace period


async def burst_with_sigterm(server: UsersuiteProcess) -> tuple[list[Outcome], list[int]]:
    """BURST CreateUser calls, IN_FLIGHT at a time; SIGTERM once SIGTERM_AFTER have finished.

    The calls in flight at SIGTERM run on; the ones not yet sent wait until the server refuses
    new calls, so that some are refused however fast the rest of the burst would have been."""
    outcomes: list[Outcome] = []
    health_seen: list[int] = []
    sigterm_sent = asyncio.Event()
    in_flight = asyncio.Semaphore(IN_FLIGHT)

    async with grpc.aio.insecure_channel(server.target) as channel:
        await asyncio.wait_for(channel.channel_ready(), timeout=30)
        stub = user_pb2_grpc.UserServiceStub(channel)

        async def refuses_new_calls() -> bool:
            try:
                await stub.ListUsers(user_pb2.ListUsersRequest(), timeout=CALL_TIMEOUT)
            except grpc.aio.AioRpcError:
                return True
            return False

        refusing: asyncio.Task[None] | None = None  # polls for the refusal once SIGTERM is sent

        def send_sigterm_once() -> None:
            nonlocal refusing
            if refusing is None:
                server.terminate()
                sigterm_sent.set()
                what = "the server to refuse new calls"
                refusing = asyncio.create_task(
                    eventually(refuses_new_calls, within=CALL_TIMEOUT, what=what)
                )

        watching = asyncio.Event()
        watcher = asyncio.create_task(watch_health(channel, health_seen, watching))
        await asyncio.wait_for(watching.wait(), timeout=30)

        async def create(index: int) -> None:
            user_id = f"drain-{index:03d}"
            request = user_pb2.CreateUserRequest(
                user=user_pb2.User(display_name=f"Drain {index}", email=f"{user_id}@example.com"),
                user_id=user_id,
            )
            async with in_flight:
                if refusing is not None:
                    await refusing
                try:
                    await stub.CreateUser(request, timeout=CALL_TIMEOUT)
                    code, details = grpc.StatusCode.OK, ""
                except grpc.aio.AioRpcError as exc:
                    code, details = exc.code(), exc.details() or ""
            outcomes.append(Outcome(user_id, code, details, sigterm_sent.is_set()))
            if len(outcomes) == SIGTERM_AFTER:
                send_sigterm_once()

        await asyncio.wait_for(asyncio.gather(*(create(i) for i in range(BURST))), timeout=120)
        send_sigterm_once()
        assert refusing is not None
        await refusing
        await asyncio.wait_for(watcher, timeout=60)
    return outcomes, health_seen


@pytest.fixture(scope="module")
async def drain(
    session_databases: EmptyDatabases, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Drain]:
    """One server with a generous grace period, SIGTERMed in the middle of a burst of calls."""
    url = session_databases.create()
    migrate_with_cli(url)
    workdir = tmp_path_factory.mktemp("drain")
    env = server_env(
        url,
        USERSUITE_SHUTDOWN_GRACE_SECONDS=GRACE_SECONDS,
        # The burst is one anonymous caller; a refusal here must come from the drain alone.
        USERSUITE_LIMITS__RATE_LIMIT_ENABLED="false",
    )
    server = UsersuiteProcess(serve_args(), env, workdir, workdir)
    try:
        server.wait_ready()
        outcomes, health_seen = await burst_with_sigterm(server)
        exit_code = await asyncio.to_thread(server.wait)
        yield Drain(outcomes, health_seen, exit_code, stored_user_ids(url), server.output())
    finally:
        server.stop()


def test_sigterm_drain_exits_zero(drain: Drain) -> None:
    assert drain.exit_code == 0, drain.summary()


def test_sigterm_came_in_the_middle_of_the_burst(drain: Drain) -> None:
    """Guards the other drain tests: calls finished before and after SIGTERM, and some were
    refused, so the signal really arrived mid-burst."""
    assert len(drain.outcomes) == BURST
    assert len(drain.ids(grpc.StatusCode.OK)) >= SIGTERM_AFTER, drain.summary()
    assert any(o.finished_after_sigterm and o.code is grpc.StatusCode.OK for o in drain.outcomes), (
        f"no call in flight at SIGTERM finished: the burst ended before the signal\n"
        f"{drain.summary()}"
    )
    assert any(o.code is not grpc.StatusCode.OK for o in drain.outcomes), (
        f"no call was refused: SIGTERM did not stop the server accepting calls\n{drain.summary()}"
    )


def test_sigterm_drain_keeps_every_acknowledged_user(drain: Drain) -> None:
    succeeded = drain.ids(grpc.StatusCode.OK)

    missing = succeeded - drain.stored
    assert not missing, f"acknowledged users missing: {sorted(missing)[:5]}\n{drain.summary()}"


def test_sigterm_drain_cuts_no_accepted_call(drain: Drain) -> None:
    """A call the server had accepted and then cut would have taken effect or been left half
    done; every failed call must have left nothing behind, and none may have run out of time."""
    failed = [o for o in drain.outcomes if o.code is not grpc.StatusCode.OK]

    took_effect = [o for o in failed if o.user_id in drain.stored]
    assert not took_effect, f"failed calls that took effect: {took_effect[:5]}\n{drain.summary()}"
    timed_out = [o for o in failed if o.code is grpc.StatusCode.DEADLINE_EXCEEDED]
    assert not timed_out, f"calls ran out of time during the drain: {timed_out[:5]}"


# Calls still queued inside grpc's core (never handed to a handler) when the server stops are
# answered CANCELLED rather than UNAVAILABLE: an open upstream bug, grpc/grpc#41785. Neither
# code means the call ran; test_sigterm_drain_cuts_no_accepted_call proves none took effect.
REFUSAL_CODES = (grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)


def test_sigterm_drain_refuses_unaccepted_calls_with_a_retryable_code(drain: Drain) -> None:
    """A call the server never accepted fails with UNAVAILABLE or CANCELLED, never another code."""
    other = [o for o in drain.outcomes if o.code not in REFUSAL_CODES]

    assert not other, (
        f"{len(other)} calls failed with codes other than UNAVAILABLE/CANCELLED, "
        f"{sum(o.user_id in drain.stored for o in other)} of them took effect; "
        f"first: {other[:3]}\n{drain.summary()}"
    )


def test_health_reports_not_serving_during_the_drain(drain: Drain) -> None:
    assert drain.health_seen, drain.summary()
    assert drain.health_seen[0] == SERVING, drain.summary()
    assert drain.health_seen[-1] == NOT_SERVING, drain.summary()


def test_serve_refuses_a_database_whose_schema_is_behind(
    empty_database: Callable[[], str], launch: Launch, grpcurl_bin: str
) -> None:
    url = empty_database()

    refused = launch(serve_args(), server_env(url))
    exit_code = refused.wait()

    assert exit_code != 0, refused.output()
    assert "usersuite migrate" in refused.stderr_text(), refused.output()
    assert "Traceback" not in refused.stderr_text(), refused.output()
    assert not any(line.startswith("usersuite ready on") for line in refused.stdout_lines)

    started = launch(serve_args("--migrate"), server_env(url))
    started.wait_ready()
    user = Grpcurl(grpcurl_bin, started.target).ok(
        "user.v1.UserService/CreateUser",
        {"user": {"display_name": "Migrated", "email": "migrated@example.com"}},
    )
    assert user["email"] == "migrated@example.com"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_stop_signal_on_an_idle_server_exits_zero(
    migrated_database: str, launch: Launch, signum: signal.Signals
) -> None:
    server = launch(
        serve_args(), server_env(migrated_database, USERSUITE_SHUTDOWN_GRACE_SECONDS="600")
    )
    server.wait_ready()

    server.proc.send_signal(signum)

    # Nothing is in flight, so the 600 s grace period is not waited out.
    assert server.wait(timeout=60) == 0, server.output()
