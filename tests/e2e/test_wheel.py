"""The wheel works on its own: built by `python -m build`, installed into a fresh venv outside
the repository, it migrates, serves (started exactly as the Docker image's entrypoint starts
it), describes its API with the proto comments through reflection, passes the Helm chart's
smoke test, and drains on SIGTERM."""

import json
import re
import shlex
import subprocess
import sys
import time
import venv
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest

from tests.support.grpcurl import Grpcurl
from tests.support.postgres import EmptyDatabases
from tests.support.processes import UsersuiteProcess, child_env, production_env
from tests.support.tools import REPO_ROOT

pytestmark = pytest.mark.timeout(1200)

DOCKERFILE = REPO_ROOT / "deploy" / "docker" / "Dockerfile"
SMOKE_TEST = REPO_ROOT / "deploy" / "helm" / "usersuite" / "files" / "smoke_test.py"
HS256_SECRET = "wheel-test-hs256-secret-0123456789abcdef"
# Filled by the Makefile's wheelhouse rule (an install step of `make test`): no index needed.
WHEELHOUSE = REPO_ROOT / ".cache" / "wheelhouse"


def offline_env() -> dict[str, str]:
    """pip (also inside `python -m build`'s isolated environment) reads only the wheelhouse."""
    return child_env(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(WHEELHOUSE))


@dataclass
class Installed:
    """The built distributions and the fresh venv the wheel is installed in."""

    wheel: Path
    sdist: Path
    bin: Path
    workdir: Path

    def run(self, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / "usersuite"), *args], env=env, cwd=self.workdir,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Built and installed once for the module: both steps take minutes."""
    assert any(WHEELHOUSE.glob("*.whl")), f"no wheelhouse at {WHEELHOUSE}: run `make test`"
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(dist), str(REPO_ROOT)],
        capture_output=True, text=True, timeout=900, check=False, env=offline_env(),
    )  # fmt: skip
    assert build.returncode == 0, f"python -m build failed\n{build.stdout}\n{build.stderr}"
    (wheel,) = dist.glob("usersuite-*.whl")
    (sdist,) = dist.glob("usersuite-*.tar.gz")
    env_dir = root / "venv"
    venv.create(env_dir, with_pip=True)
    install = subprocess.run(
        [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-index",
         "--find-links", str(WHEELHOUSE), str(wheel)],
        capture_output=True, text=True, timeout=900, check=False, env=offline_env(), cwd=root,
    )  # fmt: skip
    assert install.returncode == 0, f"pip install of the wheel failed\n{install.stderr}"
    workdir = root / "work"
    workdir.mkdir()
    return Installed(wheel, sdist, env_dir / "bin", workdir)


@dataclass
class ImageCommand:
    """What deploy/docker/Dockerfile runs: the exec-form ENTRYPOINT, CMD and ENV."""

    entrypoint: list[str]
    cmd: list[str]
    env: dict[str, str]


def image_command() -> ImageCommand:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    runtime = text.split("\nFROM ")[-1]  # the last stage is the image

    def exec_form(instruction: str) -> list[str]:
        found = re.findall(rf"^{instruction} (.+)$", runtime, flags=re.MULTILINE)
        assert len(found) == 1, f"one {instruction} in the runtime stage: {found}"
        value = json.loads(found[0])  # exec form is a JSON array; shell form fails here
        assert isinstance(value, list), found
        assert all(isinstance(v, str) for v in value), found
        return value

    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.+)$", runtime, flags=re.MULTILINE):
        for pair in shlex.split(line):
            name, value = pair.split("=", 1)
            env[name] = value
    return ImageCommand(exec_form("ENTRYPOINT"), exec_form("CMD"), env)


def image_env(installed: Installed, database_url: str) -> dict[str, str]:
    """The image's environment with the chart's secrets, on loopback ports instead of 0.0.0.0."""
    command = image_command()
    env = production_env(
        USERSUITE_DATABASE_URL=database_url,
        USERSUITE_AUTH__ENABLED="true",
        USERSUITE_AUTH__HS256_SECRET=HS256_SECRET,
        # What the chart writes: explicit issuer and audience, reflection chosen (public here,
        # so grpcurl describes without a token).
        USERSUITE_AUTH__ISSUER="usersuite",
        USERSUITE_AUTH__AUDIENCE="usersuite",
        USERSUITE_AUTH__REFLECTION="public",
    )
    env.update({k: v for k, v in command.env.items() if k != "PATH"})
    env["PATH"] = f"{installed.bin}:{env['PATH']}"
    assert env["USERSUITE_LISTEN"] == "0.0.0.0:50051", "the image listens on every interface"
    env["USERSUITE_LISTEN"] = "127.0.0.1:0"
    env["USERSUITE_METRICS_LISTEN"] = "127.0.0.1:0"
    return env


@pytest.fixture(scope="module")
def database(session_databases: EmptyDatabases) -> str:
    return session_databases.create()


def test_distributions_hold_the_generated_code_descriptors_and_migrations(
    installed: Installed,
) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for required in (
        "user/v1/user_pb2.py",
        "user/v1/user_pb2_grpc.py",
        "user/v1/events_pb2.py",
        "user/v1/descriptor_set.json",
        "order/v1/order_pb2.py",
        "order/v1/order_pb2_grpc.py",
        "order/v1/events_pb2.py",
        "order/v1/descriptor_set.json",
        "billing/v1/billing_pb2.py",
        "billing/v1/billing_pb2_grpc.py",
        "billing/v1/events_pb2.py",
        "billing/v1/saga_pb2.py",
        "billing/v1/descriptor_set.json",
        "usersuite/gateway/usersuite.binpb",
        "usersuite/gateway/console/index.html",
        "usersuite/gateway/console/console.js",
        "usersuite/gateway/console/console.css",
        "usersuite/client/service_configs/user.v1.json",
        "usersuite/client/service_configs/order.v1.json",
        "usersuite/client/service_configs/billing.v1.json",
        "usersuite/py.typed",
        "usersuite/users/adapters/db/migrations/env.py",
        "usersuite/users/adapters/db/migrations/script.py.mako",
    ):
        assert required in names, f"{required} is missing from {installed.wheel.name}"
    assert any(
        re.match(r"usersuite/users/adapters/db/migrations/versions/.+\.py$", n) for n in names
    )
    for package in ("user", "order", "billing"):  # they stay namespace packages
        assert f"{package}/__init__.py" not in names
    assert installed.sdist.stat().st_size > 0


def test_help(installed: Installed) -> None:
    result = installed.run("--help", env=child_env())
    assert result.returncode == 0, result.stderr
    for command in ("serve", "bridge", "migrate"):
        assert command in result.stdout


def test_gateway_config_from_the_wheel_uses_the_descriptor_set_it_ships(
    installed: Installed,
) -> None:
    result = installed.run("gateway", "config", "--format", "json", env=child_env())
    assert result.returncode == 0, result.stderr
    filters = json.loads(result.stdout)["static_resources"]["listeners"][0]["filter_chains"][0]
    manager = filters["filters"][0]["typed_config"]
    (transcoder,) = [
        f["typed_config"] for f in manager["http_filters"] if "transcoder" in f["name"]
    ]
    descriptor = Path(transcoder["proto_descriptor"])
    assert descriptor.is_relative_to(installed.bin.parent), descriptor
    assert descriptor.is_file(), descriptor
    # The console Envoy serves at / is the wheel's copy too.
    pages = [
        Path(r["direct_response"]["body"]["filename"])
        for r in manager["route_config"]["virtual_hosts"][0]["routes"]
        if r.get("direct_response", {}).get("status") == 200
    ]
    assert [p.name for p in pages] == ["index.html", "console.js", "console.css"], pages
    assert all(p.is_relative_to(installed.bin.parent) and p.is_file() for p in pages), pages
    assert transcoder["services"] == [
        "billing.v1.BillingService",
        "order.v1.OrderService",
        "user.v1.UserService",
    ]


def test_image_entrypoint_is_exec_form_usersuite() -> None:
    command = image_command()
    assert command.entrypoint == ["usersuite"]
    assert command.cmd == ["serve"]


@pytest.fixture(scope="module")
def served(installed: Installed, database: str) -> Iterator[UsersuiteProcess]:
    """`migrate`, then the image's command line, both from the wheel's venv."""
    command = image_command()
    env = image_env(installed, database)
    migrated = subprocess.run(
        [str(installed.bin / command.entrypoint[0]), *command.entrypoint[1:], "migrate"],
        env=env, cwd=installed.workdir, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert migrated.returncode == 0, f"migrate failed\n{migrated.stdout}\n{migrated.stderr}"
    assert "database schema at" in migrated.stdout
    process = UsersuiteProcess(
        [*command.entrypoint[1:], *command.cmd], env, installed.workdir, installed.workdir,
        executable=str(installed.bin / command.entrypoint[0]),
    )  # fmt: skip
    try:
        process.wait_ready()
        yield process
    finally:
        process.stop()


def test_reflection_describes_the_service_with_its_comments(
    served: UsersuiteProcess, grpcurl_bin: str
) -> None:
    described = Grpcurl(grpcurl_bin, served.target).inspect("describe", "user.v1.UserService")
    assert "user.v1.UserService is a service:" in described
    assert "rpc CreateUser" in described
    comments = [line for line in described.splitlines() if line.lstrip().startswith("//")]
    assert comments, f"no proto comments in the description:\n{described}"


def test_helm_test_script_runs_with_the_wheel(
    installed: Installed, served: UsersuiteProcess
) -> None:
    """The chart's `helm test` script needs only what the image installs."""
    now = int(time.time())
    token = jwt.encode(
        {"sub": "helm-test", "scope": "users.read", "iss": "usersuite", "aud": "usersuite",
         "iat": now, "nbf": now, "exp": now + 300},
        HS256_SECRET, algorithm="HS256",
    )  # fmt: skip
    token_file = installed.workdir / "token"
    token_file.write_text(token)
    env = child_env(SMOKE_TARGET=served.target, SMOKE_TOKEN_FILE=str(token_file))
    result = subprocess.run(
        [str(installed.bin / "python"), str(SMOKE_TEST)],
        env=env, cwd=installed.workdir, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert "SERVING" in result.stdout
    assert "ListUsers" in result.stdout
    token_file.write_text("not-a-token")
    refused = subprocess.run(
        [str(installed.bin / "python"), str(SMOKE_TEST)],
        env=env, cwd=installed.workdir, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "UNAUTHENTICATED" in refused.stderr


def test_sigterm_drains_and_exits_cleanly(served: UsersuiteProcess) -> None:
    """Runs last in the module: with an exec-form entrypoint, SIGTERM reaches this process."""
    served.terminate()
    assert served.wait() == 0, served.output()
