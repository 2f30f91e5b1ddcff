"""The gRPC methods that need no credentials and are not rate limited: probes, maybe reflection."""

from usersuite.platform.config.settings import Settings

# Probes must work without a token.
HEALTH_PREFIXES = ("/grpc.health.v1.Health/",)
# Public or not as auth.reflection says (see Settings.reflection_public).
REFLECTION_PREFIXES = (
    "/grpc.reflection.v1.ServerReflection/",
    "/grpc.reflection.v1alpha.ServerReflection/",
)


def public_methods(settings: Settings) -> tuple[str, ...]:
    """Method-name prefixes: health, the configured `auth.exempt_methods`, public reflection."""
    reflection = REFLECTION_PREFIXES if settings.reflection_public else ()
    return (*HEALTH_PREFIXES, *settings.auth.exempt_methods, *reflection)
