"""Server TLS and mutual TLS from mounted files, and the verified peer identity of a call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc

from usersuite.config import TlsSettings

# Auth-context properties that gRPC fills from a client certificate it has verified.
SUBJECT_ALT_NAME = "x509_subject_alternative_name"
COMMON_NAME = "x509_common_name"


def _read(setting: str, path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"{setting} {path} cannot be read: {exc.strerror}") from None
    if not data.strip():
        raise ValueError(f"{setting} {path} is empty")
    return data


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials | None:
    """None when TLS is off; with a client CA, client certificates are required and verified."""
    if not tls.enabled:
        return None
    assert tls.cert_file is not None
    assert tls.key_file is not None  # TlsSettings only enables TLS with both files
    chain = _read("tls.cert_file", tls.cert_file)
    key = _read("tls.key_file", tls.key_file)
    client_ca = None
    if tls.client_ca_file is not None:
        client_ca = _read("tls.client_ca_file", tls.client_ca_file)
    return grpc.ssl_server_credentials(
        [(key, chain)], root_certificates=client_ca, require_client_auth=client_ca is not None
    )


def peer_identity(context: grpc.aio.ServicerContext[Any, Any]) -> str:
    """The verified client certificate's identity (SAN, else CN); empty without mTLS.

    gRPC only puts x509 properties into the auth context after the handshake has verified the
    client certificate against tls.client_ca_file, and without a client CA the server never asks
    for a certificate; so whatever is found here is a verified identity.
    """
    auth = context.auth_context()
    for prop in (SUBJECT_ALT_NAME, COMMON_NAME):
        for value in auth.get(prop, ()):
            if value:
                return value.decode("utf-8", errors="replace")
    return ""
