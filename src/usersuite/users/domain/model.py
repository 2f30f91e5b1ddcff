"""The User aggregate and its value objects."""

import hashlib
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cached_property

from email_validator import EmailNotValidError, validate_email

from usersuite.platform.domain.resource_ids import check_resource_id
from usersuite.users.domain.errors import InvalidValue

DISPLAY_NAME_MAX = 100
EMAIL_MAX = 254
MUTABLE_FIELDS = ("display_name", "email")


def check_user_id(value: str, *, allow_generated: bool) -> str:
    """A client-chosen id (AIP-122 style), or with allow_generated also a server ULID."""
    return check_resource_id(value, allow_generated=allow_generated)


# Zero-width non-joiner and joiner are format characters that real names need (Persian,
# Indic scripts, emoji sequences); every other invisible format character is refused.
NAME_JOINERS = frozenset("\u200c\u200d")


def _refused_in_names(ch: str) -> bool:
    category = unicodedata.category(ch)
    if category == "Cf":
        return ch not in NAME_JOINERS
    return category in ("Cc", "Cs", "Co", "Cn")


def check_display_name(value: str) -> str:
    text = unicodedata.normalize("NFC", value).strip()
    if not text:
        raise InvalidValue("is required and must not be blank")
    if len(text) > DISPLAY_NAME_MAX:
        raise InvalidValue(f"must be at most {DISPLAY_NAME_MAX} characters")
    if any(_refused_in_names(ch) for ch in text):
        raise InvalidValue("must not contain control or unassigned characters")
    return text


def normalize_email(value: str) -> str:
    """Syntax-checks an address (no DNS look-up) and returns its normalised, lower-case form.

    Domains under special-use or reserved names (`test`, `local`, `invalid`, `localhost`,
    `onion`, `arpa`) are refused, as email-validator does: they cannot receive mail. The proto
    comment of `User.email` states the same rule.
    """
    if not value.strip():
        raise InvalidValue("is required")
    if len(value) > EMAIL_MAX:
        raise InvalidValue(f"must be at most {EMAIL_MAX} characters")
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidValue(f"is not a valid email address: {exc}") from None
    normalized = unicodedata.normalize("NFC", result.normalized).lower()
    # Lower-casing and NFC can lengthen a value (e.g. U+0130 becomes two code points).
    if len(normalized) > EMAIL_MAX:
        raise InvalidValue(f"must be at most {EMAIL_MAX} characters once normalised")
    return normalized


@dataclass(frozen=True)
class User:
    """A user as the domain sees it; `version` counts its changes, starting at 1."""

    id: str
    display_name: str
    email: str
    create_time: datetime
    update_time: datetime
    version: int

    @property
    def name(self) -> str:
        return f"users/{self.id}"

    @cached_property
    def etag(self) -> str:
        """An opaque checksum of this state; a new one for every version of every user.

        Computed once per object (a create maps its user twice: the answer and the event)."""
        state = f"{self.id}\x00{self.version}\x00{self.update_time.isoformat()}"
        return hashlib.blake2b(state.encode(), digest_size=12).hexdigest()

    def with_changes(self, values: dict[str, str], now: datetime) -> tuple["User", list[str]]:
        """The user with `values` applied and the names of the fields that really changed."""
        changed = [f for f in MUTABLE_FIELDS if f in values and values[f] != getattr(self, f)]
        if not changed:
            return self, []
        updated = replace(
            self,
            display_name=values.get("display_name", self.display_name),
            email=values.get("email", self.email),
            update_time=now,
            version=self.version + 1,
        )
        return updated, changed
