"""The gateway's settings: Envoy's listener and admin, CORS, timeouts, an upstream per service."""

from pathlib import Path
from typing import Self

from pydantic import BaseModel, Field, field_validator, model_validator

from usersuite.platform.config.addresses import parse_address

USER_SERVICE = "user.v1.UserService"


class UpstreamSettings(BaseModel):
    """Where the gateway sends one gRPC service's calls (HTTP/2), optionally over (m)TLS."""

    model_config = {"frozen": True, "extra": "forbid"}

    address: str | None = Field(None, description="host:port; unset: the API's own `listen`")
    tls: bool = Field(False, description="TLS to the upstream (the API's tls.cert_file)")
    ca_file: Path | None = Field(None, description="CA that signed the upstream's certificate")
    cert_file: Path | None = Field(None, description="client certificate: mTLS to the upstream")
    key_file: Path | None = None
    server_name: str | None = Field(None, description="SNI and the name the certificate must hold")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None:
            parse_address(value)
        return value

    @model_validator(mode="after")
    def _pairs(self) -> Self:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("an upstream's cert_file and key_file must be set together")
        if not self.tls and (self.cert_file or self.ca_file or self.server_name):
            raise ValueError("an upstream's ca_file, cert_file and server_name need tls = true")
        return self


class GatewaySettings(BaseModel):
    """The Envoy gateway (REST/JSON, gRPC-Web, Connect) that `usersuite gateway config` writes
    and `usersuite dev` starts in front of the API."""

    model_config = {"frozen": True, "extra": "forbid"}

    enabled: bool = Field(True, description="dev: start Envoy beside the API")
    listen: str = Field("127.0.0.1:8080", description="REST, gRPC-Web and Connect; 0: a free port")
    admin_listen: str = Field("127.0.0.1:9901", description="Envoy's admin (/ready, /stats)")
    cors_allowed_origins: tuple[str, ...] = Field(
        (), description="browser origins allowed to call, exactly (https://app.example.com)"
    )
    request_timeout_seconds: float = Field(
        15.0, gt=0, description="a call without a deadline (grpc-timeout) is cut after this"
    )
    console: bool = Field(True, description="serve the browser console at / (gen/console)")
    console_dir: Path | None = Field(
        None, description="the console's built files; unset: the ones usersuite ships"
    )
    descriptor_set: Path | None = Field(
        None, description="the contract's FileDescriptorSet; unset: the one usersuite ships"
    )
    # A service of the descriptor set that is not listed here goes to the API's own address.
    upstreams: dict[str, UpstreamSettings] = Field(
        default_factory=lambda: {USER_SERVICE: UpstreamSettings()},
        description="gRPC service full name -> its upstream",
    )

    @field_validator("listen", "admin_listen")
    @classmethod
    def _address(cls, value: str) -> str:
        parse_address(value)
        return value
