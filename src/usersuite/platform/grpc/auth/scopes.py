"""Which scope each RPC needs: each service declares its methods' scopes (its ServiceBinding's
`method_scopes`); the server's own services are declared here. A method missing from both is
denied."""

from collections.abc import Mapping

# Describing the API (reflection, when not public) takes the right to read users.
REFLECTION_SCOPE = "users.read"

SERVER_METHOD_SCOPES: dict[str, str] = {
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": REFLECTION_SCOPE,
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": REFLECTION_SCOPE,
}
# A method not listed needs this scope, which no token should carry: deny by default.
UNLISTED_METHOD_SCOPE = "usersuite.unlisted-method"


def required_scope(method: str, service_scopes: Mapping[str, str]) -> str:
    """The scope `method` needs, from the served service's map or the server's own."""
    scope = service_scopes.get(method) or SERVER_METHOD_SCOPES.get(method)
    return scope or UNLISTED_METHOD_SCOPE
