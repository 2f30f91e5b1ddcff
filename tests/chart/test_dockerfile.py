"""deploy/docker/Dockerfile, read statically (no Docker engine here): multi-stage on an exactly
pinned slim base, a non-root runtime without compilers, /tmp as the only volume, OCI labels.
hadolint lints it in `make lint`; tests/e2e/test_wheel.py runs its command line."""

import re

from tests.chart.helm import REPO_ROOT

DOCKERFILE = REPO_ROOT / "deploy" / "docker" / "Dockerfile"


def stages() -> list[str]:
    """The build stages, each from its FROM line on (continuation lines joined)."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    parts = re.split(r"^(?=FROM )", text, flags=re.MULTILINE)
    return [part for part in parts if part.startswith("FROM ")]


def test_multi_stage_on_an_exactly_pinned_slim_base() -> None:
    builder, runtime = stages()
    assert re.match(r"FROM \$\{PYTHON_IMAGE\} AS builder\n", builder)
    assert re.match(r"FROM \$\{PYTHON_IMAGE\}\n", runtime)
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert base, "the base image is an ARG shared by both stages"
    # An exact version tag (or a digest), never a moving one such as 3.11-slim or latest.
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base.group(1))
    assert "python -m build --wheel" in builder
    assert "COPY --from=builder /opt/usersuite /opt/usersuite" in runtime


def test_runtime_is_non_root_without_compilers_and_writes_only_tmp() -> None:
    runtime = stages()[-1]
    users = re.findall(r"^USER (\d+):(\d+)$", runtime, flags=re.MULTILINE)
    assert len(users) == 1
    assert int(users[0][0]) >= 10000
    assert not re.search(r"\b(gcc|g\+\+|clang|build-essential|apt-get install)\b", runtime)
    assert re.findall(r"^VOLUME (.+)$", runtime, flags=re.MULTILINE) == ['["/tmp"]']
    assert "PYTHONDONTWRITEBYTECODE=1" in runtime  # nothing written beside the code


def test_oci_labels() -> None:
    runtime = stages()[-1]
    labels = set(re.findall(r"(org\.opencontainers\.image\.[a-z.]+)=", runtime))
    assert {
        "org.opencontainers.image.title",
        "org.opencontainers.image.version",
        "org.opencontainers.image.revision",
        "org.opencontainers.image.licenses",
    } <= labels
