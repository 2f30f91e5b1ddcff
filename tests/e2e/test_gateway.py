"""`usersuite gateway config` prints a configuration Envoy accepts; `usersuite dev` starts Envoy
beside the API, prints a curl that works as printed and the console's URL, and keeps serving gRPC
without it."""

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.certs import CertificateAuthority
from tests.support.grpcurl import Grpcurl
from tests.support.processes import Launch, child_env, run_shell, run_usersuite
from tests.support.tools import describe, run

REST_MARK = " ; or over REST: "
CONSOLE = re.compile(r"; console at (http://\S+/), token from: usersuite token;")


def gateway_config(tmp_path: Path, *args: str, **env: str) -> str:
    result = run_usersuite("gateway", "config", *args, env=child_env(**env), cwd=tmp_path)
    assert result.returncode == 0, describe(result)
    return result.stdout


def envoy_validates(config: Path) -> None:
    result = run("envoy", "--mode", "validate", "--config-path", str(config))
    assert result.returncode == 0, describe(result)
    assert f"configuration '{config}' OK" in result.stdout + result.stderr, describe(result)


def test_gateway_config_prints_yaml_and_json_that_envoy_validates(tmp_path: Path) -> None:
    printed = gateway_config(tmp_path)
    config = yaml.safe_load(printed)
    assert config == json.loads(gateway_config(tmp_path, "--format", "json"))
    listener = config["static_resources"]["listeners"][0]
    assert listener["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 8080}
    clusters = config["static_resources"]["clusters"]
    assert [c["name"] for c in clusters] == [
        "billing_v1_BillingService",
        "order_v1_OrderService",
        "user_v1_UserService",
    ]
    (tmp_path / "envoy.yaml").write_text(printed)
    envoy_validates(tmp_path / "envoy.yaml")


def test_tls_upstreams_cors_and_more_services_by_configuration(tmp_path: Path) -> None:
    """mTLS to the API, CORS origins, the listen address: Envoy accepts what the settings ask."""
    ca = CertificateAuthority()
    ca_file = ca.write(tmp_path, "ca")
    cert, key = ca.issue_client("gateway").write(tmp_path, "gateway")
    settings = tmp_path / "usersuite.toml"
    settings.write_text(
        f'[gateway]\nlisten = "0.0.0.0:8443"\ncors_allowed_origins = ["https://app.example.com"]\n'
        f'[gateway.upstreams."user.v1.UserService"]\naddress = "api.internal:50051"\n'
        f'tls = true\nca_file = "{ca_file}"\ncert_file = "{cert}"\nkey_file = "{key}"\n'
        f'server_name = "api.internal"\n'
    )
    printed = gateway_config(tmp_path, "--config", str(settings))
    config = yaml.safe_load(printed)
    clusters = {c["name"]: c for c in config["static_resources"]["clusters"]}
    cluster = clusters["user_v1_UserService"]
    assert "transport_socket" not in clusters["order_v1_OrderService"]
    assert cluster["transport_socket"]["typed_config"]["sni"] == "api.internal"
    host = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    cors = host["typed_config"]["route_config"]["virtual_hosts"][0]["typed_per_filter_config"]
    origins = cors["envoy.filters.http.cors"]["allow_origin_string_match"]
    assert origins == [{"exact": "https://app.example.com"}]
    (tmp_path / "envoy.yaml").write_text(printed)
    envoy_validates(tmp_path / "envoy.yaml")


def test_an_upstream_for_a_service_the_contract_lacks_is_one_line(tmp_path: Path) -> None:
    upstreams = json.dumps({"shop.v1.ShopService": {"address": "shop:50051"}})
    result = run_usersuite(
        "gateway", "config", env=child_env(USERSUITE_GATEWAY__UPSTREAMS=upstreams), cwd=tmp_path
    )
    assert result.returncode == 2, describe(result)
    assert "gateway.upstreams names shop.v1.ShopService" in result.stderr, describe(result)
    assert "Traceback" not in result.stderr, describe(result)


def dev_env(**values: str) -> dict[str, str]:
    return child_env(
        USERSUITE_LISTEN="127.0.0.1:0",
        USERSUITE_METRICS_LISTEN="127.0.0.1:0",
        USERSUITE_DEV__NATS_LISTEN="127.0.0.1:0",
        USERSUITE_GATEWAY__ADMIN_LISTEN="127.0.0.1:0",
        **values,
    )


def test_dev_prints_a_curl_that_creates_a_user_over_rest(tmp_path: Path, launch: Launch) -> None:
    dev = launch(["dev"], dev_env(USERSUITE_GATEWAY__LISTEN="127.0.0.1:0"), cwd=tmp_path)
    line = dev.wait_ready()
    assert REST_MARK in line, line
    curl = line.split(REST_MARK, 1)[1]
    assert curl.startswith("curl "), line
    result = run_shell(curl, tmp_path)
    assert result.returncode == 0, f"{curl}\n{describe(result)}"
    user = json.loads(result.stdout)
    assert user["name"].startswith("users/"), result.stdout
    assert (user["display_name"], user["email"]) == ("Grace Hopper", "grace@example.com")
    # The grpcurl before it works as printed too, and sees the same API.
    grpcurl = line.split("try: ", 1)[1].split(REST_MARK, 1)[0]
    created = run_shell(grpcurl, tmp_path)
    assert created.returncode == 0, f"{grpcurl}\n{describe(created)}"
    # The console is at the printed URL, on the gateway's port.
    console = CONSOLE.search(line)
    assert console is not None, line
    page = httpx.get(console.group(1))
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html"), page.headers
    assert "<title>usersuite console</title>" in page.text, page.text
    dev.terminate()
    assert dev.wait() == 0, dev.output()
    # dev stops Envoy before it exits: nothing listens on the gateway's port any more.
    port = int(curl.rsplit(":", 1)[1].split("/", 1)[0])
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, dev.output()


@pytest.fixture
def taken_port() -> Iterator[str]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        yield f"127.0.0.1:{holder.getsockname()[1]}"


def test_dev_without_its_gateway_port_says_why_and_serves_grpc(
    tmp_path: Path, launch: Launch, taken_port: str, grpcurl_bin: str
) -> None:
    dev = launch(["dev"], dev_env(USERSUITE_GATEWAY__LISTEN=taken_port), cwd=tmp_path)
    line = dev.wait_ready()
    assert REST_MARK not in line, line
    reason = [text for text in dev.stderr_text().splitlines() if "gateway not started" in text]
    assert reason == [
        f"usersuite: gateway not started: cannot listen on {taken_port} (Address already in "
        "use); set gateway.listen (USERSUITE_GATEWAY__LISTEN); serving gRPC only"
    ], dev.output()
    assert "user.v1.UserService" in Grpcurl(grpcurl_bin, dev.target).inspect("list")
