"""The client's address behind reverse proxies: X-Forwarded-For, believed only from trusted peers.

Behind nginx every request's TCP peer is nginx, so counting failed sign-ins per peer would count
everybody together. nginx appends the address it saw to X-Forwarded-For
(`$proxy_add_x_forwarded_for`), after whatever the client sent in that header itself. So the
header is read from the right: while the address on hand (first the peer) is a trusted proxy,
the one it reports (the next entry leftwards) is taken; the first address that is not trusted
is the client. Entries left of it were written by the client and are never believed. A request
whose peer is not trusted is answered by its peer address, whatever its headers say.

Addresses are returned in one canonical spelling (IPv4-mapped IPv6 as IPv4, IPv6 compressed),
so that one client is one throttle key.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS = 32  # entries read from the right; a longer chain is someone's invention


def parse_address(text: str) -> Address | None:
    """An address as proxies write it: "203.0.113.7", "2001:db8::1", "[2001:db8::1]:443",
    "203.0.113.7:51234"; None if it is none of these."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # IPv4 with a port
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    networks: tuple[Network, ...] = ()

    @classmethod
    def of(cls, networks: Iterable[Network]) -> TrustedProxies:
        return cls(tuple(networks))

    def trusts(self, address: Address) -> bool:
        return any(address.version == net.version and address in net for net in self.networks)

    def client_of(self, peer: str | None, forwarded_for: Sequence[str] = ()) -> str | None:
        """The client's address for a request from `peer` carrying these X-Forwarded-For
        header values (in the order received)."""
        if peer is None:
            return None
        nearest = parse_address(peer)
        if nearest is None:
            return peer  # not an IP peer (a Unix socket): nothing to believe
        if not self.networks:
            return str(nearest)
        hops = [hop for value in forwarded_for for hop in value.split(",")]
        for hop in reversed(hops[-MAX_HOPS:]):
            if not self.trusts(nearest):
                break
            reported = parse_address(hop)
            if reported is None:  # garbage where a proxy should have written: stop here
                break
            nearest = reported
        return str(nearest)
