"""Secrets generated once per dev folder, so tokens survive restarts of `usersuite dev`."""

import json
import secrets
from pathlib import Path

from usersuite.config import DEV_SECRET_PREFIX

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
        path = dev_dir / SECRETS_FILE
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(OWNER_ONLY)
    return stored[name]
