"""buf breaking, with our buf.yaml, blocks incompatible contract changes, allows compatible ones."""

import json
import shutil
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.support.tools import CONTRACT_MODULES, REPO_ROOT, describe, run

USER_PROTO = Path("proto/user/v1/user.proto")
ORDER_PROTO = Path("proto/order/v1/order.proto")
SAGA_PROTO = Path("proto/billing/v1/saga.proto")
AGAINST_MAIN = ".git#branch=main"

# git settings that make the commit independent of the caller's git configuration.
GIT_SETTINGS = {
    "user.name": "contract-test",
    "user.email": "contract-test@example.invalid",
    "commit.gpgsign": "false",
    "core.hooksPath": "/dev/null",
}
GIT_OPTIONS = [option for key, value in GIT_SETTINGS.items() for option in ("-c", f"{key}={value}")]


@pytest.fixture
def contract_repo(tmp_path: Path) -> Path:
    """A throwaway git repository holding the buf modules and buf.yaml, committed on branch main."""
    for name in CONTRACT_MODULES:
        shutil.copytree(REPO_ROOT / name, tmp_path / name)
    shutil.copy2(REPO_ROOT / "buf.yaml", tmp_path / "buf.yaml")
    for args in (
        ("init", "--quiet", "--initial-branch=main"),
        ("add", "--all"),
        ("commit", "--quiet", "--no-verify", "--message", "contract at main"),
    ):
        result = run("git", *GIT_OPTIONS, *args, cwd=tmp_path)
        assert result.returncode == 0, describe(result)
    return tmp_path


def edit(repo: Path, old: str, new: str, proto: Path = USER_PROTO) -> None:
    """Replaces one exact, unique piece of a proto file, so a mutation can never silently miss."""
    path = repo / proto
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} must occur exactly once in {proto}"
    path.write_text(text.replace(old, new))


def breaking(repo: Path) -> tuple[int, list[dict[str, str]]]:
    result = run("buf", "breaking", "--against", AGAINST_MAIN, "--error-format", "json", cwd=repo)
    violations = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.returncode, violations


@pytest.mark.parametrize(
    ("old", "new", "rule", "message"),
    [
        pytest.param(
            "  string email = 3;\n",
            "",
            "FIELD_NO_DELETE",
            'field "3" with name "email" on message "User" was deleted',
            id="remove-field",
        ),
        pytest.param(
            "string display_name = 2;",
            "string display_name = 7;",
            "FIELD_NO_DELETE",
            'field "2" with name "display_name" on message "User" was deleted',
            id="renumber-field",
        ),
        pytest.param(
            "string email = 3;",
            "int64 email = 3;",
            "FIELD_SAME_TYPE",
            'changed type from "string" to "int64"',
            id="change-field-type",
        ),
        pytest.param(
            "rpc GetUser(GetUserRequest)",
            "rpc FetchUser(GetUserRequest)",
            "RPC_NO_DELETE",
            'RPC "GetUser" on service "UserService" was deleted',
            id="rename-rpc",
        ),
    ],
)
def test_incompatible_change_is_blocked(
    contract_repo: Path, old: str, new: str, rule: str, message: str
) -> None:
    assert_blocked(contract_repo, Break(USER_PROTO, old, new, rule, message))


class Break(NamedTuple):
    """An incompatible edit of one proto file, and the violation buf must report for it."""

    proto: Path
    old: str
    new: str
    rule: str
    message: str


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            Break(
                ORDER_PROTO,
                "int64 total_minor = 5;",
                "int32 total_minor = 5;",
                "FIELD_SAME_TYPE",
                'changed type from "int64" to "int32"',
            ),
            id="order-change-field-type",
        ),
        pytest.param(
            Break(
                ORDER_PROTO,
                "rpc CancelOrder(CancelOrderRequest)",
                "rpc AbortOrder(CancelOrderRequest)",
                "RPC_NO_DELETE",
                'RPC "CancelOrder" on service "OrderService" was deleted',
            ),
            id="order-rename-rpc",
        ),
        pytest.param(
            Break(
                ORDER_PROTO,
                "    STATE_CANCELLED = 4;\n",
                "",
                "ENUM_VALUE_NO_DELETE",
                'enum value "4" on enum "State" was deleted',
            ),
            id="order-remove-enum-value",
        ),
        pytest.param(
            Break(
                SAGA_PROTO,
                "  int64 amount_minor = 6;\n",
                "",
                "FIELD_NO_DELETE",
                'field "6" with name "amount_minor" on message "ReserveCredit" was deleted',
            ),
            id="billing-saga-remove-field",
        ),
    ],
)
def test_incompatible_change_to_another_package_is_blocked(
    contract_repo: Path, change: Break
) -> None:
    assert_blocked(contract_repo, change)


def assert_blocked(repo: Path, change: Break) -> None:
    proto, old, new, rule, message = change
    edit(repo, old, new, proto)
    status, violations = breaking(repo)
    # buf exits 100 when it found violations (1 would be a usage or git error).
    assert status == 100, violations
    # Naming the rule also rules out a compile error, which buf reports as type COMPILE.
    assert any(v["type"] == rule and message in v["message"] for v in violations), violations


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param("", "", id="unchanged"),
        pytest.param(
            "  string etag = 6;\n}",
            "  string etag = 6;\n\n  // The user's preferred language, a BCP-47 tag.\n"
            "  string language_code = 7;\n}",
            id="add-field",
        ),
        pytest.param(
            "  rpc DeleteUser(",
            "  // Restores a deleted user.\n  rpc UndeleteUser(GetUserRequest) returns (User);\n\n"
            "  rpc DeleteUser(",
            id="add-rpc",
        ),
    ],
)
def test_compatible_change_passes(contract_repo: Path, old: str, new: str) -> None:
    if old:
        edit(contract_repo, old, new)
    status, violations = breaking(contract_repo)
    assert (status, violations) == (0, [])
