"""Real grpcurl against a server, using reflection only, and what it prints of errors."""

import json
import subprocess
from dataclasses import dataclass
from typing import Any

from tests.support.processes import child_env

# grpcurl's exit status for an RPC error is 64 + the gRPC status code.
GRPCURL_ERROR_BASE = 64


@dataclass
class GrpcurlResult:
    """One grpcurl run: its exit status and output."""

    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit status {self.returncode}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"

    def json(self) -> Any:
        assert self.returncode == 0, f"grpcurl failed\n{self}"
        return json.loads(self.stdout)


class Grpcurl:
    """Real grpcurl against a server, using reflection only (no proto files)."""

    def __init__(self, executable: str, target: str) -> None:
        self.executable = executable
        self.target = target

    def run(self, *args: str, timeout: float = 60) -> GrpcurlResult:
        result = subprocess.run(
            [self.executable, "-plaintext", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=child_env(),
        )
        return GrpcurlResult(result.returncode, result.stdout, result.stderr)

    def inspect(self, *args: str) -> str:
        """`grpcurl <target> list|describe ...`: its standard output."""
        result = self.run(self.target, *args)
        assert result.returncode == 0, f"grpcurl {' '.join(args)} failed\n{result}"
        return result.stdout

    def call(self, method: str, request: dict[str, Any]) -> GrpcurlResult:
        return self.run("-format-error", "-d", json.dumps(request), self.target, method)

    def ok(self, method: str, request: dict[str, Any]) -> Any:
        """Calls `method` and returns the JSON response; the call must succeed."""
        return self.call(method, request).json()

    def error(self, method: str, request: dict[str, Any], code: int) -> dict[str, Any]:
        """Calls `method`, which must fail with `code`; returns the printed google.rpc.Status."""
        result = self.call(method, request)
        assert result.returncode == GRPCURL_ERROR_BASE + code, (
            f"expected gRPC code {code} (grpcurl exit {GRPCURL_ERROR_BASE + code})\n{result}"
        )
        status: dict[str, Any] = json.loads(result.stderr)
        assert status["code"] == code, status
        return status


def error_info(status: dict[str, Any]) -> dict[str, Any]:
    """The one google.rpc.ErrorInfo of a printed status."""
    infos = [d for d in status.get("details", []) if d["@type"].endswith("/google.rpc.ErrorInfo")]
    assert len(infos) == 1, f"expected exactly one ErrorInfo: {status}"
    info: dict[str, Any] = infos[0]
    return info


def field_violations(status: dict[str, Any]) -> dict[str, str]:
    """field -> description of the google.rpc.BadRequest of a printed status (empty if none)."""
    bad = [d for d in status.get("details", []) if d["@type"].endswith("/google.rpc.BadRequest")]
    assert len(bad) <= 1, f"more than one BadRequest: {status}"
    if not bad:
        return {}
    # grpcurl prints the details with their proto field names.
    violations = bad[0].get("field_violations", bad[0].get("fieldViolations", []))
    return {v["field"]: v.get("description", "") for v in violations}
