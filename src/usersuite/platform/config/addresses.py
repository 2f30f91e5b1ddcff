"""Network addresses in settings: `host:port` parsing and the error for one that cannot be bound."""

import ipaddress


class AddressInUse(Exception):
    """A configured address cannot be bound (taken, or not an address of this machine)."""

    def __init__(self, message: str, setting: str) -> None:
        super().__init__(message)
        self.setting = setting  # the setting that holds the address, e.g. `metrics_listen`


MAX_PORT = 65535


def parse_address(value: str) -> tuple[str, int]:
    """Splits `host:port` (IPv6 as `[::1]:port`); port 0 means pick a free one."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= MAX_PORT:
        raise ValueError(f"'{value}' is not host:port with a port from 0 to {MAX_PORT}")
    return host.strip("[]"), int(port)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere
