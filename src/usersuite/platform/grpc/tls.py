"""Server TLS and mutual TLS from watched files, and the verified peer identity of a call."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import grpc
from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)

from usersuite.platform.config import SettingError, TlsSettings

log = logging.getLogger(__name__)

# Auth-context properties that gRPC fills from a client certificate it has verified.
SUBJECT_ALT_NAME = "x509_subject_alternative_name"
COMMON_NAME = "x509_common_name"


def _read(setting: str, path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SettingError(setting, f"{setting} {path} cannot be read: {exc.strerror}") from None
    if not data.strip():
        raise SettingError(setting, f"{setting} {path} is empty")
    return data


def _public_key_der(key: Any) -> bytes:
    return bytes(key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))


def _check_pair(chain: bytes, key: bytes) -> None:
    """Refuses a key that is not the leaf certificate's: files caught half-way through a rewrite."""
    try:
        leaf = x509.load_pem_x509_certificates(chain)[0]
        private = load_pem_private_key(key, password=None)
    except (ValueError, TypeError) as exc:
        raise SettingError(
            "tls.cert_file", f"tls.cert_file/tls.key_file cannot be parsed: {exc}"
        ) from None
    if _public_key_der(leaf.public_key()) != _public_key_der(private.public_key()):
        raise SettingError(
            "tls.key_file", "tls.key_file does not belong to the certificate in tls.cert_file"
        )


class CertificateFiles:
    """The server's key, certificate chain and client CA, re-read when their files change.

    gRPC asks `fetch` before every new handshake, so it only compares the files' stat
    results; established connections keep the certificate they were made with.
    """

    def __init__(self, tls: TlsSettings) -> None:
        assert tls.cert_file is not None
        assert tls.key_file is not None  # TlsSettings only enables TLS with both files
        self._files = {"tls.cert_file": tls.cert_file, "tls.key_file": tls.key_file}
        if tls.client_ca_file is not None:
            self._files["tls.client_ca_file"] = tls.client_ca_file
        self._seen = self._stamp()
        self.initial = self._load()

    def _stamp(self) -> tuple[tuple[int, int, int], ...]:
        stamps = []
        for setting, path in self._files.items():
            try:
                found = path.stat()  # follows symlinks, as mounted secrets use them
            except OSError as exc:
                raise SettingError(
                    setting, f"{setting} {path} cannot be read: {exc.strerror}"
                ) from None
            stamps.append((found.st_ino, found.st_size, found.st_mtime_ns))
        return tuple(stamps)

    def _load(self) -> grpc.ServerCertificateConfiguration:
        data = {setting: _read(setting, path) for setting, path in self._files.items()}
        chain, key = data["tls.cert_file"], data["tls.key_file"]
        _check_pair(chain, key)
        client_ca = data.get("tls.client_ca_file")
        if client_ca is not None:
            try:
                x509.load_pem_x509_certificates(client_ca)
            except ValueError as exc:
                raise SettingError(
                    "tls.client_ca_file", f"tls.client_ca_file cannot be parsed: {exc}"
                ) from None
        return grpc.ssl_server_certificate_configuration([(key, chain)], client_ca)

    def fetch(self) -> grpc.ServerCertificateConfiguration | None:
        """A new configuration when the files changed and are usable; None keeps the current."""
        try:
            stamp = self._stamp()
            if stamp == self._seen:
                return None
            self._seen = stamp
            configuration = self._load()
        except ValueError as exc:
            # Often a rewrite in progress: the next handshake after the last write retries.
            log.warning("keeping the current TLS certificate: %s", exc)
            return None
        log.info("reloaded the TLS certificate files")
        return configuration


def server_credentials(tls: TlsSettings) -> grpc.ServerCredentials | None:
    """None when TLS is off; with a client CA, client certificates are required and verified.

    The files are watched: a rewritten certificate, key or client CA applies to new
    connections without a restart (a certificate manager renewing a mounted secret).
    """
    if not tls.enabled:
        return None
    files = CertificateFiles(tls)
    return grpc.dynamic_ssl_server_credentials(
        files.initial,
        files.fetch,  # type: ignore[arg-type]  # grpc documents None as "unchanged"
        require_client_authentication=tls.client_ca_file is not None,
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
