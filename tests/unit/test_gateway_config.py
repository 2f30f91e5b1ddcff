"""The gateway's Envoy configuration as pure data: services from the descriptor set, one
cluster per upstream, deadlines, CORS and TLS from the settings, and YAML that reads back."""

from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import descriptor_pb2

from usersuite.gateway import default_descriptor_set, envoy_config, services_in, to_yaml
from usersuite.gateway.clusters import cluster_name
from usersuite.gateway.console import ASSETS, default_console_dir
from usersuite.platform.config import Settings


def settings(**gateway: Any) -> Settings:
    return Settings(mode="dev", listen="0.0.0.0:50051", gateway=gateway)


def route_config(config: dict[str, Any]) -> dict[str, Any]:
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    routes: dict[str, Any] = manager["typed_config"]["route_config"]
    return routes


def filters(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    return {f["name"]: f["typed_config"] for f in manager["typed_config"]["http_filters"]}


def user_cluster(config: dict[str, Any]) -> dict[str, Any]:
    clusters: dict[str, dict[str, Any]] = {
        c["name"]: c for c in config["static_resources"]["clusters"]
    }
    assert list(clusters) == [cluster_name(s) for s in services_in(default_descriptor_set())]
    cluster: dict[str, Any] = clusters[cluster_name("user.v1.UserService")]
    return cluster


def test_services_are_read_from_the_descriptor_set_as_protobuf_reads_it() -> None:
    path = default_descriptor_set()
    files = descriptor_pb2.FileDescriptorSet.FromString(path.read_bytes()).file
    expected = [
        f"{file.package}.{service.name}"
        for file in files
        if not file.package.startswith("google.")
        for service in file.service
    ]
    assert services_in(path) == expected
    assert "user.v1.UserService" in expected


def test_a_service_per_route_and_cluster_to_the_apis_address_by_default() -> None:
    config = envoy_config(settings())
    cluster = user_cluster(config)
    assert cluster["name"] == cluster_name("user.v1.UserService") == "user_v1_UserService"
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 50051}
    assert cluster["health_checks"][0]["grpc_health_check"] == {
        "service_name": "user.v1.UserService"
    }
    assert "transport_socket" not in cluster
    transcoder = filters(config)["envoy.filters.http.grpc_json_transcoder"]
    assert transcoder["services"] == services_in(default_descriptor_set())
    assert {"user.v1.UserService", "order.v1.OrderService", "billing.v1.BillingService"} <= set(
        transcoder["services"]
    )
    assert transcoder["convert_grpc_status"] is True
    assert transcoder["print_options"]["preserve_proto_field_names"] is True
    assert list(filters(config)) == [
        "envoy.filters.http.cors",
        "envoy.filters.http.grpc_web",
        # Before the bridge, so that it sees Connect errors after the bridge made them.
        "envoy.filters.http.lua",
        "envoy.filters.http.connect_grpc_bridge",
        "envoy.filters.http.grpc_json_transcoder",
        "envoy.filters.http.router",
    ]


def test_the_api_port_dev_picked_and_the_deadline_bounds() -> None:
    config = envoy_config(settings(request_timeout_seconds=7), api_port=41000)
    cluster = user_cluster(config)
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
    assert endpoint["address"]["socket_address"]["port_value"] == 41000
    manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
    routes = manager["typed_config"]["route_config"]["virtual_hosts"][0]["routes"]
    (route,) = [r for r in routes if r["match"] == {"prefix": "/user.v1.UserService/"}]
    assert route["route"]["timeout"] == "7.0s"
    assert route["route"]["max_stream_duration"] == {"grpc_timeout_header_max": "60.0s"}


def test_mtls_to_an_upstream_of_its_own() -> None:
    upstream = {"address": "users.internal:443", "tls": True, "ca_file": "/ca.crt",
                "cert_file": "/gw.crt", "key_file": "/gw.key"}  # fmt: skip
    config = envoy_config(settings(upstreams={"user.v1.UserService": upstream}))
    cluster = user_cluster(config)
    tls = cluster["transport_socket"]["typed_config"]
    assert tls["sni"] == "users.internal"
    context = tls["common_tls_context"]
    assert context["alpn_protocols"] == ["h2"]
    assert context["validation_context"]["trusted_ca"] == {"filename": "/ca.crt"}
    assert context["tls_certificates"][0]["private_key"] == {"filename": "/gw.key"}


def test_cors_only_for_configured_origins() -> None:
    def host(config: dict[str, Any]) -> dict[str, Any]:
        manager = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
        return dict(manager["typed_config"]["route_config"]["virtual_hosts"][0])

    assert "typed_per_filter_config" not in host(envoy_config(settings()))
    allowed = host(envoy_config(settings(cors_allowed_origins=["http://localhost:5173"])))
    policy = allowed["typed_per_filter_config"]["envoy.filters.http.cors"]
    assert policy["allow_origin_string_match"] == [{"exact": "http://localhost:5173"}]
    assert "authorization" in policy["allow_headers"]
    # Preflights need a forwarding route to be answered on; only the allowed origins match it.
    preflight = allowed["routes"][-2]["match"]["headers"][-1]
    assert preflight["string_match"]["safe_regex"]["regex"] == r"^(http://localhost:5173)$"
    anyone = host(envoy_config(settings(cors_allowed_origins=["*"])))
    policy = anyone["typed_per_filter_config"]["envoy.filters.http.cors"]
    assert policy["allow_origin_string_match"] == [{"safe_regex": {"regex": ".*"}}]


def test_an_upstream_the_descriptor_set_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match=r"gateway.upstreams names shop.v1.ShopService"):
        envoy_config(settings(upstreams={"shop.v1.ShopService": {"address": "o:1"}}))


def test_tls_options_need_tls() -> None:
    with pytest.raises(ValueError, match="need tls = true"):
        settings(upstreams={"user.v1.UserService": {"ca_file": "/ca.crt"}})


def test_yaml_reads_back_as_the_same_configuration(tmp_path: Path) -> None:
    config = envoy_config(settings(cors_allowed_origins=["https://a.example", "*"]))
    config["extra"] = {"no": "no", "number": "8080", "empty": [], "quote": 'say "hi"\n'}
    assert yaml.safe_load(to_yaml(config)) == config


def test_the_console_is_served_at_the_root_before_the_catch_all() -> None:
    config = envoy_config(settings())
    routes = route_config(config)["virtual_hosts"][0]["routes"]
    served = {r["match"].get("path"): r for r in routes if "path" in r["match"]}
    assert list(served) == ["/", "/console.js", "/console.css"]
    # Every file's route precedes the JSON NOT_FOUND, which takes any path.
    assert routes[-1]["match"] == {"prefix": "/"}
    assert all(routes.index(r) < len(routes) - 1 for r in served.values())
    for path, (name, content_type) in ASSETS.items():
        route = served[path]
        assert route["direct_response"] == {
            "status": 200,
            "body": {"filename": str(default_console_dir() / name)},
        }
        headers = {
            h["header"]["key"]: h["header"]["value"] for h in route["response_headers_to_add"]
        }
        assert headers["content-type"] == content_type
        assert "connect-src 'self'" in headers["content-security-policy"]
        # A POST to / is no page: it falls through to the JSON NOT_FOUND.
        (method,) = route["match"]["headers"]
        assert method["string_match"]["safe_regex"]["regex"] == "^(GET|HEAD)$"
    largest = max((default_console_dir() / name).stat().st_size for name, _ in ASSETS.values())
    assert route_config(config)["max_direct_response_body_size_bytes"] > largest


def test_the_console_can_be_switched_off_and_must_be_built(tmp_path: Path) -> None:
    routes = route_config(envoy_config(settings(console=False)))["virtual_hosts"][0]["routes"]
    assert not [
        r for r in routes if "direct_response" in r and r["direct_response"]["status"] == 200
    ]
    with pytest.raises(ValueError, match=r"is not built \(run `make web`\)"):
        envoy_config(settings(console_dir=str(tmp_path)))
