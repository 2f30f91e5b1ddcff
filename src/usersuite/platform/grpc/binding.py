"""What a service brings to the shared gRPC server: its servicer, its errors, its documentation."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from usersuite.platform.grpc.errors import ErrorCatalog


@dataclass(frozen=True)
class ServiceBinding:
    """One gRPC service: its full name (health and reflection announce it), how to add its
    servicer to a server, its error catalog, its contract's descriptor set with comments, and
    the scope each of its methods needs (a method it leaves out is denied)."""

    name: str
    add_to_server: Callable[[grpc.aio.Server], None]
    errors: ErrorCatalog
    documented_descriptors: Path
    method_scopes: Mapping[str, str]
