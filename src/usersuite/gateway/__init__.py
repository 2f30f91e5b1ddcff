"""The Envoy gateway: REST/JSON, gRPC-Web and Connect in front of the gRPC API, from settings."""

from usersuite.gateway.descriptors import default_descriptor_set, services_in
from usersuite.gateway.envoy import envoy_config
from usersuite.gateway.render import to_yaml

__all__ = ["default_descriptor_set", "envoy_config", "services_in", "to_yaml"]
