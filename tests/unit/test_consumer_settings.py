"""Consumer settings are typed configuration; the stream comes from the stream settings."""

import pytest
from pydantic import ValidationError

from usersuite.platform.config import EVENT_SUBJECTS, ConsumerSettings, Settings, StreamSettings
from usersuite.platform.consumer.durable import durable_config


def test_a_consumer_reads_the_stream_the_service_is_configured_with(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("USERSUITE_STREAM__NAME", "USERS_EU")

    settings = ConsumerSettings.on(Settings.load(mode="dev").stream, "billing", max_deliver=3)

    assert settings.stream == "USERS_EU"
    assert settings.durable == "billing"
    assert settings.max_deliver == 3
    assert durable_config(settings).filter_subject == EVENT_SUBJECTS


def test_the_default_stream_is_the_one_the_bridge_creates() -> None:
    assert ConsumerSettings(durable="billing").stream == StreamSettings().name


def test_unknown_consumer_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="max_delivery"):
        ConsumerSettings.on(StreamSettings(), "billing", max_delivery=3)


def test_the_dead_letter_stream_holds_the_dead_letter_subjects() -> None:
    settings = ConsumerSettings(durable="billing")

    assert settings.dead_letter.subjects == (
        "dlq.user.v1.>",
        "dlq.order.v1.>",
        "dlq.billing.v1.>",
    )
    assert settings.dead_letter.name != settings.stream


def test_several_subjects_replace_the_single_filter() -> None:
    subjects = ("billing.v1.ReserveCredit", "user.v1.UserCreated")
    config = durable_config(ConsumerSettings(durable="billing", filter_subjects=subjects))
    assert config.filter_subjects == list(subjects)
    assert config.filter_subject is None
