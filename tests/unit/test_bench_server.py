"""The bench's own server launcher leaves out the layers it is told to, and nothing else."""

from typing import Any

import pytest

from bench.server import LAYERS, BenchSettings, without
from usersuite.platform.config import Settings
from usersuite.platform.grpc.interceptors.chain import build_interceptors
from usersuite.users.api.errors import USER_ERRORS


def full_stack() -> list[Any]:
    settings = Settings.load(mode="dev")
    return build_interceptors(
        settings, authenticator=None, tracer_provider=None, metrics=None, errors=USER_ERRORS
    )


def test_every_layer_the_bench_names_is_in_the_stack() -> None:
    stack = full_stack()
    for name, kind in LAYERS.items():
        assert any(isinstance(interceptor, kind) for interceptor in stack), name


def test_the_skipped_layers_are_left_out_and_the_rest_kept_in_order() -> None:
    stack = full_stack()

    kept = without(stack, frozenset({"tracing", "deadline"}))

    assert kept == [i for i in stack if not isinstance(i, (LAYERS["tracing"], LAYERS["deadline"]))]
    assert len(kept) == len(stack) - 2


def test_the_layers_come_from_a_bench_variable_not_a_product_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BENCH_SKIP_INTERCEPTORS", '["errors", "request_guard"]')

    assert BenchSettings().skip_interceptors == {"errors", "request_guard"}
    assert "bench" not in Settings.model_fields
