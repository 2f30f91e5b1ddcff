"""Limits key a caller by its address without the source port, an IPv6 caller by its /64."""

import pytest

from usersuite.platform.grpc.interceptors.rate_limit import client_address


@pytest.mark.parametrize(
    ("peer", "address"),
    [
        ("ipv4:10.0.0.7:53112", "ipv4:10.0.0.7"),
        ("ipv4:127.0.0.1:1", "ipv4:127.0.0.1"),
        ("ipv6:[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:53112", "ipv6:2001:db8:1:2::/64"),
        ("ipv6:%5B2001:db8:1:2::9%5D:443", "ipv6:2001:db8:1:2::/64"),
        ("ipv6:[fe80::1%25eth0]:80", "ipv6:fe80::/64"),
        ("ipv6:[::1]:50051", "ipv6:::/64"),
        ("unix:/tmp/socket", "unix:/tmp/socket"),
    ],
)
def test_client_address(peer: str, address: str) -> None:
    assert client_address(peer) == address


def test_addresses_of_one_ipv6_64_share_a_key_and_other_64s_do_not() -> None:
    rotated = {client_address(f"ipv6:[2001:db8:0:5::{n:x}]:4000") for n in range(1, 200)}
    assert rotated == {"ipv6:2001:db8:0:5::/64"}
    assert client_address("ipv6:[2001:db8:0:6::1]:4000") != "ipv6:2001:db8:0:5::/64"
