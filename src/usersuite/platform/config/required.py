"""Settings that stop a process: the one check for a required one, and the error naming it."""

from typing import TypeVar

from usersuite.platform.config import layers

T = TypeVar("T")


def env_name(setting: str) -> str:
    """The environment variable of a setting: `tls.cert_file` is USERSUITE_TLS__CERT_FILE."""
    return layers.env_name(tuple(setting.split(".")))


class SettingError(ValueError):
    """A setting's value cannot be used; `setting` is its dotted name, which people can look up."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


class MissingSetting(SettingError):
    """A setting the process needs has no value."""

    def __init__(self, setting: str) -> None:
        super().__init__(setting, f"{setting} is required: set {env_name(setting)}")


def required(value: T | None, setting: str) -> T:
    """`value`, or MissingSetting naming `setting` when it is unset."""
    if value is None:
        raise MissingSetting(setting)
    return value
