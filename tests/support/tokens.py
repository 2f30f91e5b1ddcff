"""JWT test material: claims, JWKs of new keys, and a JWKS server that can be slowed or cut."""

from __future__ import annotations

import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

HS_SECRET = "integration-test-hs256-secret-0123456789abcdef"
ISSUER, AUDIENCE = "usersuite-tests", "usersuite-api"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk_of(private: Any, kid: str) -> dict[str, Any]:
    algorithm = RSAAlgorithm if isinstance(private, rsa.RSAPrivateKey) else ECAlgorithm
    jwk = json.loads(algorithm.to_jwk(private.public_key()))
    jwk["kid"] = kid
    return jwk


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims for ISSUER/AUDIENCE; an override of None removes the claim."""
    now = int(time.time())
    values = {"sub": "alice", "scope": "users.read users.write", "iss": ISSUER,
              "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 300}  # fmt: skip
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


class JwksServer:
    """A JWKS document on a loopback HTTP(S) port that counts requests.

    `hold()` makes every request wait until `release()`; `down = True` answers 503;
    `padding` adds that many bytes of white space to the (still valid) document.
    """

    def __init__(self, *, cert: tuple[Path, Path] | None = None) -> None:
        self.keys: list[dict[str, Any]] = []
        self.requests = 0
        self.down = False
        self.padding = 0
        self._open = threading.Event()
        self._open.set()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests += 1
                owner._open.wait()
                if owner.down:
                    self.send_error(503)
                    return
                body = json.dumps({"keys": owner.keys}).encode() + b" " * owner.padding
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        scheme = "http"
        if cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    def close(self) -> None:
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()
