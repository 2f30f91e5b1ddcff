"""buf's gates pass; the generated Python, Go and TypeScript code is current and compiles."""

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from _pytest.mark import ParameterSet
from google.protobuf.descriptor import FieldDescriptor

from tests.support.tools import CONTRACT_MODULES, REPO_ROOT, describe, run

GO_MODULE = REPO_ROOT / "gen" / "go"
# One Go package per proto package.
PROTO_PACKAGES = ("user/v1", "order/v1", "billing/v1")
GO_PACKAGES = [f"github.com/usersuite/usersuite/gen/go/{package}" for package in PROTO_PACKAGES]
TS_PACKAGE = REPO_ROOT / "gen" / "ts"
CHECK_GEN = Path("tools") / "check_gen.sh"


# ---------------------------------------------------------------- buf gates


def test_buf_lint_passes() -> None:
    result = run("buf", "lint", cwd=REPO_ROOT)
    assert result.returncode == 0, describe(result)


def test_buf_format_is_clean() -> None:
    result = run("buf", "format", "--diff", "--exit-code", cwd=REPO_ROOT)
    assert result.returncode == 0, describe(result)


# One file of each package, where the gates below plant their violations.
PACKAGE_PROTOS = {
    "user": "user/v1/user.proto",
    "order": "order/v1/order.proto",
    "billing": "billing/v1/saga.proto",
}


def copy_contract(destination: Path, proto: str = PACKAGE_PROTOS["user"]) -> Path:
    for name in CONTRACT_MODULES:
        shutil.copytree(REPO_ROOT / name, destination / name)
    shutil.copy2(REPO_ROOT / "buf.yaml", destination / "buf.yaml")
    return destination / "proto" / proto


@pytest.mark.parametrize("proto", PACKAGE_PROTOS.values(), ids=PACKAGE_PROTOS.keys())
def test_buf_lint_rejects_a_violation(tmp_path: Path, proto: str) -> None:
    path = copy_contract(tmp_path, proto)
    path.write_text(path.read_text() + "\n// Badly named.\nmessage user_profile {}\n")
    result = run("buf", "lint", "--error-format", "json", cwd=tmp_path)
    assert result.returncode != 0, describe(result)
    assert '"type":"MESSAGE_PASCAL_CASE"' in result.stdout, describe(result)


@pytest.mark.parametrize(
    ("proto", "field"),
    [
        pytest.param(PACKAGE_PROTOS["user"], "string email = 3;", id="user"),
        pytest.param(PACKAGE_PROTOS["order"], "string currency_code = 4;", id="order"),
        pytest.param(PACKAGE_PROTOS["billing"], "string order = 4;", id="billing"),
    ],
)
def test_buf_format_rejects_unformatted_proto(tmp_path: Path, proto: str, field: str) -> None:
    path = copy_contract(tmp_path, proto)
    unformatted = field.replace(" = ", "=").replace(" ", "   ", 1)
    path.write_text(path.read_text().replace(field, unformatted))
    result = run("buf", "format", "--diff", "--exit-code", cwd=tmp_path)
    assert result.returncode != 0, describe(result)
    assert f"+  {field}" in result.stdout, describe(result)


# ---------------------------------------------------------------- generated code is current


def test_generated_code_matches_a_fresh_generation() -> None:
    result = run(str(REPO_ROOT / CHECK_GEN), cwd=REPO_ROOT)
    assert result.returncode == 0, describe(result)


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """What check_gen.sh reads (contract, templates, plugins, gen/), copied; never the real gen/."""
    for name in (*CONTRACT_MODULES, "tools", "gen"):
        shutil.copytree(
            REPO_ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("node_modules")
        )
    for name in ("buf.yaml", "buf.gen.yaml"):
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    return tmp_path


def append(path: str, text: str) -> Callable[[Path], None]:
    def change(repo: Path) -> None:
        with (repo / path).open("a") as file:
            file.write(text)

    return change


def delete(path: str) -> Callable[[Path], None]:
    return lambda repo: (repo / path).unlink()


def replace(path: str, old: str, new: str) -> Callable[[Path], None]:
    def change(repo: Path) -> None:
        target = repo / path
        text = target.read_text()
        assert old in text
        target.write_text(text.replace(old, new))

    return change


def edited(path: str, text: str, case_id: str) -> ParameterSet:
    """A generated file edited by hand, which check_gen.sh must name as differing."""
    return pytest.param(append(path, text), f"{path} differs", id=case_id)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        edited("gen/go/user/v1/user.pb.go", "// edited by hand\n", "go-file-edited"),
        pytest.param(
            delete("gen/go/user/v1/user_grpc.pb.go"),
            "gen/go/user/v1/user_grpc.pb.go differs",
            id="go-grpc-file-missing",
        ),
        edited("gen/ts/user/v1/user_pb.ts", "\n", "ts-file-edited"),
        edited("gen/python/user/v1/user_pb2_grpc.py", "\n", "python-file-edited"),
        edited("gen/go/order/v1/order_grpc.pb.go", "// edited by hand\n", "order-go-edited"),
        edited("gen/ts/billing/v1/saga_pb.ts", "\n", "billing-ts-edited"),
        edited("gen/python/billing/v1/saga_pb2.pyi", "\n", "billing-python-stub-edited"),
        pytest.param(
            delete("gen/python/order/v1/descriptor_set.json"),
            "gen/python/order/v1/descriptor_set.json differs",
            id="order-descriptor-set-missing",
        ),
        edited("gen/openapi/usersuite.swagger.json", "\n", "openapi-edited"),
        edited("gen/descriptor/usersuite.binpb", "\n", "descriptor-set-edited"),
        pytest.param(
            append("gen/ts/user/v1/account_pb.ts", "export {};\n"),
            "gen/ts/user/v1/account_pb.ts is not produced by generation",
            id="stale-file",
        ),
        pytest.param(
            replace(
                "proto/user/v1/user.proto",
                "  string etag = 6;\n",
                "  string etag = 6;\n\n  // Not generated yet.\n  string language_code = 7;\n",
            ),
            "gen/go/user/v1/user.pb.go differs",
            id="proto-changed-without-generation",
        ),
    ],
)
def test_check_gen_detects_drift(
    repo_copy: Path, change: Callable[[Path], None], complaint: str
) -> None:
    clean = run(str(repo_copy / CHECK_GEN), cwd=repo_copy)
    assert clean.returncode == 0, describe(clean)
    change(repo_copy)
    drifted = run(str(repo_copy / CHECK_GEN), cwd=repo_copy)
    assert drifted.returncode != 0, describe(drifted)
    assert complaint in drifted.stderr, describe(drifted)


def test_check_gen_ignores_python_bytecode(repo_copy: Path) -> None:
    cache = repo_copy / "gen" / "python" / "user" / "v1" / "__pycache__"
    cache.mkdir(exist_ok=True)
    (cache / "user_pb2.cpython-311.pyc").write_bytes(b"\0")
    result = run(str(repo_copy / CHECK_GEN), cwd=repo_copy)
    assert result.returncode == 0, describe(result)


# ---------------------------------------------------------------- generated code compiles


def test_go_module_builds_and_vets() -> None:
    listed = run("go", "list", "./...", cwd=GO_MODULE)
    assert listed.returncode == 0, describe(listed)
    # `go build ./...` succeeds on a module without packages: require the generated ones.
    assert sorted(listed.stdout.split()) == sorted(GO_PACKAGES), describe(listed)
    for command in ("build", "vet"):
        result = run("go", command, "./...", cwd=GO_MODULE)
        assert result.returncode == 0, describe(result)


def test_typescript_typechecks() -> None:
    listed = run("tsc", "--noEmit", "--listFilesOnly", cwd=TS_PACKAGE)
    assert listed.returncode == 0, describe(listed)
    checked = {
        Path(line).relative_to(TS_PACKAGE)
        for line in listed.stdout.splitlines()
        if Path(line).is_relative_to(TS_PACKAGE) and "node_modules" not in line
    }
    assert checked == {
        Path("user/v1/user_pb.ts"),
        Path("user/v1/events_pb.ts"),
        Path("order/v1/order_pb.ts"),
        Path("order/v1/events_pb.ts"),
        Path("billing/v1/billing_pb.ts"),
        Path("billing/v1/events_pb.ts"),
        Path("billing/v1/saga_pb.ts"),
        Path("google/api/annotations_pb.ts"),
        Path("google/api/http_pb.ts"),
    }, describe(listed)
    result = run("tsc", "--noEmit", cwd=TS_PACKAGE)
    assert result.returncode == 0, describe(result)


# ---------------------------------------------------------------- generated Python


def test_generated_python_imports_with_the_documented_user() -> None:
    from user.v1 import events_pb2, user_pb2, user_pb2_grpc

    assert Path(user_pb2.__file__).is_relative_to(REPO_ROOT / "gen" / "python")
    fields = {
        field.name: (
            field.number,
            field.message_type.full_name if field.message_type else field.type,
        )
        for field in user_pb2.User.DESCRIPTOR.fields
    }
    assert fields == {
        "name": (1, FieldDescriptor.TYPE_STRING),
        "display_name": (2, FieldDescriptor.TYPE_STRING),
        "email": (3, FieldDescriptor.TYPE_STRING),
        "create_time": (4, "google.protobuf.Timestamp"),
        "update_time": (5, "google.protobuf.Timestamp"),
        "etag": (6, FieldDescriptor.TYPE_STRING),
    }
    service = user_pb2.DESCRIPTOR.services_by_name["UserService"]
    assert [method.name for method in service.methods] == [
        "CreateUser",
        "GetUser",
        "ListUsers",
        "UpdateUser",
        "DeleteUser",
    ]
    assert callable(user_pb2_grpc.add_UserServiceServicer_to_server)
    assert hasattr(user_pb2_grpc, "UserServiceStub")
    events = set(events_pb2.DESCRIPTOR.message_types_by_name)
    assert {"UserCreated", "UserUpdated", "UserDeleted"} <= events
