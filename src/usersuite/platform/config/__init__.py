"""Typed configuration: the settings models, network addresses and redaction of secrets."""

from usersuite.platform.config.addresses import AddressInUse, parse_address
from usersuite.platform.config.consumer import ConsumerSettings
from usersuite.platform.config.gateway import GatewaySettings, UpstreamSettings
from usersuite.platform.config.groups import (
    EVENT_STREAM,
    EVENT_SUBJECT_PREFIX,
    EVENT_SUBJECTS,
    STREAM_SUBJECTS,
    SUITE_PACKAGES,
    AuthSettings,
    BridgeSettings,
    LimitSettings,
    StreamSettings,
    TelemetrySettings,
    TlsSettings,
)
from usersuite.platform.config.production import DEV_SECRET_PREFIX, MIN_SECRET_LENGTH
from usersuite.platform.config.redaction import redact_url
from usersuite.platform.config.required import MissingSetting, SettingError, env_name, required
from usersuite.platform.config.settings import Settings

__all__ = [
    "DEV_SECRET_PREFIX",
    "EVENT_STREAM",
    "EVENT_SUBJECTS",
    "EVENT_SUBJECT_PREFIX",
    "MIN_SECRET_LENGTH",
    "STREAM_SUBJECTS",
    "SUITE_PACKAGES",
    "AddressInUse",
    "AuthSettings",
    "BridgeSettings",
    "ConsumerSettings",
    "GatewaySettings",
    "LimitSettings",
    "MissingSetting",
    "SettingError",
    "Settings",
    "StreamSettings",
    "TelemetrySettings",
    "TlsSettings",
    "UpstreamSettings",
    "env_name",
    "parse_address",
    "redact_url",
    "required",
]
