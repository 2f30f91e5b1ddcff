"""The system under test: PostgreSQL, `usersuite serve` (auth on, full stack) and its callers."""

import asyncio
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import grpc

from bench.processes import Process, environment, pinned, usersuite
from tests.support.postgres import PostgresCluster, postgres_bin_dir
from user.v1 import user_pb2, user_pb2_grpc

SERVER_CPU = 0
LOAD_CPU = 1
SCOPES = "users.read users.write"


def plain(url: str) -> str:
    """The libpq form of a SQLAlchemy URL."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class Stack:
    """Secrets, a throwaway PostgreSQL cluster and the way every server here is started."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.hs256_secret = secrets.token_urlsafe(32)
        self.page_token_secret = secrets.token_urlsafe(32)
        self.cluster = PostgresCluster().start()
        self._tokens: dict[str, str] = {}
        self._started = 0

    @staticmethod
    def postgres_version() -> str:
        binary = str(postgres_bin_dir() / "postgres")
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=False)
        return done.stdout.strip().replace("postgres (PostgreSQL)", "PostgreSQL")

    def close(self) -> None:
        self.cluster.remove()

    def database(self, name: str) -> str:
        return self.cluster.create_database(name)

    def sqlite(self, name: str) -> str:
        return f"sqlite+aiosqlite:///{self.log_dir / name}.db"

    def server_env(self, database_url: str, **overrides: str) -> dict[str, str]:
        """Production mode, auth on with HS256, rate limits off (the issue's set-up)."""
        settings = {
            "USERSUITE_MODE": "production",
            "USERSUITE_DATABASE_URL": database_url,
            "USERSUITE_PAGE_TOKEN_SECRET": self.page_token_secret,
            "USERSUITE_AUTH__HS256_SECRET": self.hs256_secret,
            # Production wants these chosen; the issuer and audience `usersuite token` signs with.
            "USERSUITE_AUTH__ISSUER": "usersuite",
            "USERSUITE_AUTH__AUDIENCE": "usersuite",
            "USERSUITE_AUTH__REFLECTION": "public",
            "USERSUITE_LIMITS__RATE_LIMIT_ENABLED": "false",
            "USERSUITE_LOG_LEVEL": "WARNING",
        }
        return environment(**{**settings, **overrides})

    def launch(
        self, name: str, database_url: str, *flags: str, cpus: str = str(SERVER_CPU), **env: str
    ) -> Process:
        """Starts a server without waiting for it, so several can start side by side: on any
        core while it starts, then (once ready) every thread of it pinned to `cpus`. It runs
        through bench/server.py, which leaves out the layers `env` names (single-process
        servers only: the workers of `--workers N` run the plain command)."""
        self._started += 1
        args = [
            sys.executable, "-m", "bench.server",
            "serve", "--migrate", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
            *flags,
        ]  # fmt: skip
        env_vars = self.server_env(database_url, **env)
        return Process(f"{self._started:02d}-{name}", args, env_vars, self.log_dir, cpus)

    def serve(self, name: str, database_url: str, *flags: str, **env: str) -> Process:
        process = self.launch(name, database_url, *flags, **env)
        process.ready()
        return process

    def migrate(self, database_url: str) -> None:
        subprocess.run(
            usersuite("migrate"), env=self.server_env(database_url), check=True, capture_output=True
        )

    def bridge(
        self, database_url: str, nats_url: str, service: str = "users", cpu: int = SERVER_CPU
    ) -> Process:
        # Port 0: several bridges (and other runs on the machine) each get a metrics port.
        args = pinned(cpu, *usersuite("bridge", service, "--nats-url", nats_url,
                                      "--metrics-listen", "127.0.0.1:0"))  # fmt: skip
        self._started += 1
        name = f"bridge-{service}-{self._started:02d}"
        process = Process(name, args, self.server_env(database_url), self.log_dir)
        process.ready("bridge ready")
        return process

    def ceiling(self) -> Process:
        args = pinned(SERVER_CPU, sys.executable, "-m", "bench.ceiling")
        process = Process("00-ceiling", args, environment(), self.log_dir)
        process.ready()
        return process

    def token(self, scopes: str = SCOPES) -> str:
        """A real token from `usersuite token`, signed with the servers' secret."""
        if scopes not in self._tokens:
            env = environment(USERSUITE_MODE="dev", USERSUITE_AUTH__HS256_SECRET=self.hs256_secret)
            done = subprocess.run(
                usersuite("token", "--scope", scopes, "--ttl", "7200"),
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            self._tokens[scopes] = done.stdout.strip()
        return self._tokens[scopes]

    def metadata(self, scopes: str = SCOPES) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(scopes)}"}

    def seed_users(self, port: int, count: int) -> list[str]:
        """Creates users through the API itself; returns their resource names."""
        return asyncio.run(self._create(port, count))

    async def _create(self, port: int, count: int) -> list[str]:
        metadata = tuple(self.metadata().items())
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = user_pb2_grpc.UserServiceStub(channel)
            names = []
            for i in range(count):
                request = user_pb2.CreateUserRequest(
                    user=user_pb2.User(
                        display_name=f"Seed {i}", email=f"seed-{uuid.uuid4().hex}@example.com"
                    )
                )
                created = await stub.CreateUser(request, metadata=metadata, timeout=10)
                names.append(created.name)
        return names
