"""The gateway reaches an API that requires mutual TLS: Envoy presents its client certificate
and verifies the API's, so REST works end to end; without its certificate, the API refuses."""

from pathlib import Path

import httpx

from tests.support.certs import CertificateAuthority
from tests.support.gateway import envoy_in_front_async
from tests.support.serving import serving


async def test_rest_through_mutual_tls_to_the_api(sqlite_url: str, tmp_path: Path) -> None:
    ca = CertificateAuthority()
    ca_file = ca.write(tmp_path, "ca")
    server_cert, server_key = ca.issue_server().write(tmp_path, "server")
    client_cert, client_key = ca.issue_client("gateway").write(tmp_path, "gateway")
    tls = {"cert_file": server_cert, "key_file": server_key, "client_ca_file": ca_file}
    verified = {"tls": True, "ca_file": ca_file, "server_name": "localhost"}
    mutual = {**verified, "cert_file": client_cert, "key_file": client_key}
    async with serving(sqlite_url, tls=tls) as served:
        target = f"localhost:{served.port}"
        async with envoy_in_front_async(
            target, tmp_path / "mtls", upstreams={"user.v1.UserService": mutual}
        ) as envoy:
            async with httpx.AsyncClient(base_url=envoy.url) as http:
                created = await http.post(
                    "/v1/users", json={"display_name": "T", "email": "t@example.com"}
                )
            assert created.status_code == 200, created.text
            assert created.json()["email"] == "t@example.com"
        async with (
            envoy_in_front_async(
                target, tmp_path / "tls-only", upstreams={"user.v1.UserService": verified}
            ) as envoy,
            httpx.AsyncClient(base_url=envoy.url) as http,
        ):
            refused = await http.get("/v1/users")
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == 14, refused.text
