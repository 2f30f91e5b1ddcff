"""Secrets generated once per dev folder, so tokens survive restarts of `usersuite dev`."""

import json
import os
import secrets
from pathlib import Path

from usersuite.platform.config import DEV_SECRET_PREFIX

SECRETS_FILE = "secrets.json"
OWNER_ONLY = 0o600
SECRET_BYTES = 32


def stored_dev_secrets(dev_dir: Path) -> dict[str, str]:
    path = dev_dir / SECRETS_FILE
    stored: dict[str, str] = json.loads(path.read_text()) if path.is_file() else {}
    return stored


def dev_secret(dev_dir: Path, name: str) -> str:
    """The dev folder's secret `name`, generated and stored (owner-only) on first use."""
    stored = stored_dev_secrets(dev_dir)
    if name not in stored:
        stored[name] = DEV_SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)
        dev_dir.mkdir(parents=True, exist_ok=True)
        _write_owner_only(dev_dir / SECRETS_FILE, json.dumps(stored, indent=2))
    return stored[name]


def _write_owner_only(path: Path, text: str) -> None:
    """Replaces `path` atomically with a file that is owner-only from the moment it exists."""
    draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    # Created with mode 0600 (the umask can only take bits away), never chmod-ed afterwards.
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(draft, path)
    except BaseException:
        draft.unlink(missing_ok=True)
        raise
