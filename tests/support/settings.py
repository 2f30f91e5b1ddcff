"""Settings as the tests want them: a fixed page token secret, free ports, quick intervals."""

from typing import Any

from usersuite.platform.config import Settings

TEST_PAGE_TOKEN_SECRET = "test-page-token-secret-0123456789abcdef"


def make_settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "page_token_secret": TEST_PAGE_TOKEN_SECRET,
        "listen": "127.0.0.1:0",
        "database": {"health_interval_seconds": 0.2},
        "shutdown_grace_seconds": 5.0,
    }
    values.update(overrides)
    # Tests of other concerns run without credentials; auth tests turn it on. Production mode
    # wants reflection exposure, issuer and audience chosen explicitly: chosen here, unless a
    # test chooses otherwise.
    chosen = {"reflection": "public", "issuer": "usersuite", "audience": "usersuite"}
    values["auth"] = {"enabled": False, **chosen, **overrides.get("auth", {})}
    return Settings(**values)


def relay_settings(db_url: str, nats_url: str, **bridge: Any) -> Settings:
    """Settings for a relay that polls and backs off quickly, as tests want."""
    values = {"poll_interval_seconds": 0.2, "backoff_initial_seconds": 0.05, **bridge}
    return make_settings(db_url, nats_url=nats_url, bridge=values)
