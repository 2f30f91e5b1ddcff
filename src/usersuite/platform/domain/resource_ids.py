"""Resource ids every service shares (AIP-122): client-chosen, or a server-generated ULID."""

import re

from usersuite.platform.domain.errors import InvalidValue

CLIENT_ID_PATTERN = re.compile(r"[a-z][a-z0-9-]{2,61}[a-z0-9]")
GENERATED_ID_PATTERN = re.compile(r"[0-9a-hjkmnp-tv-z]{26}")


def check_resource_id(value: str, *, allow_generated: bool) -> str:
    """A client-chosen id, or with allow_generated also a server ULID (lower case)."""
    if CLIENT_ID_PATTERN.fullmatch(value):
        return value
    if allow_generated and GENERATED_ID_PATTERN.fullmatch(value):
        return value
    raise InvalidValue(
        "must be 4-63 characters of a-z, 0-9 and '-', start with a letter and not end with '-'"
    )
