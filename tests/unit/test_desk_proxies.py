"""The desk's client address behind proxies: X-Forwarded-For believed only from trusted peers,
read from the right, never past the first untrusted address (a client can write anything to
the left of what nginx appends)."""

from __future__ import annotations

import ipaddress

import pytest
import yaml

from bot.app import build_app
from bot.config_loader import ConfigError, load_settings
from desk.config import DeskConfig
from desk.guard import TRUSTED_PROXIES
from desk.proxies import TrustedProxies, parse_address
from tests.conftest import ROOT

NGINX = "10.0.0.5"
LB = "192.0.2.10"
PROXIES = TrustedProxies.of(
    [ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("192.0.2.10/32")]
)


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # behind nginx: the address nginx appended
        (NGINX, ["203.0.113.7"], "203.0.113.7"),
        # the client's own X-Forwarded-For is left of nginx's entry: ignored
        (NGINX, ["1.2.3.4, 203.0.113.7"], "203.0.113.7"),
        (NGINX, ["10.0.0.9, 203.0.113.7"], "203.0.113.7"),  # even one that names a proxy
        # a load balancer in front of nginx, both trusted: the address the balancer saw
        (NGINX, ["6.6.6.6, 203.0.113.7, 192.0.2.10"], "203.0.113.7"),
        # several headers count as one list, in order
        (NGINX, ["6.6.6.6", "203.0.113.7"], "203.0.113.7"),
        # straight from the internet: the header is the sender's invention
        ("203.0.113.7", ["10.0.0.5"], "203.0.113.7"),
        ("203.0.113.7", ["1.2.3.4"], "203.0.113.7"),
        # a trusted proxy that sent no header, or garbage where a proxy writes: the proxy
        (NGINX, [], NGINX),
        (NGINX, ["1.2.3.4, not-an-address"], NGINX),
        (NGINX, [""], NGINX),
        # every hop trusted: the furthest one
        (NGINX, ["192.0.2.10"], LB),
        # spellings: ports, brackets, IPv4-mapped IPv6, upper-case IPv6
        (NGINX, ["203.0.113.7:51234"], "203.0.113.7"),
        (NGINX, ["[2001:DB8::7]:443"], "2001:db8::7"),
        ("::ffff:10.0.0.5", ["203.0.113.7"], "203.0.113.7"),
        ("2001:DB8:0:0::7", [], "2001:db8::7"),
    ],
)
def test_the_client_is_the_right_most_untrusted_address(
    peer: str, forwarded: list[str], client: str
) -> None:
    assert PROXIES.client_of(peer, forwarded) == client


def test_without_trusted_proxies_the_peer_is_the_client_whatever_the_headers() -> None:
    nobody = TrustedProxies()
    assert nobody.client_of("10.0.0.5", ["203.0.113.7"]) == "10.0.0.5"
    assert nobody.client_of(None, ["203.0.113.7"]) is None
    assert nobody.client_of("unix-socket", []) == "unix-socket"


def test_addresses_are_read_as_proxies_write_them() -> None:
    assert parse_address(" 203.0.113.7 ") == ipaddress.ip_address("203.0.113.7")
    assert parse_address('"[2001:db8::1]"') == ipaddress.ip_address("2001:db8::1")
    assert parse_address("fe80::1%eth0") == ipaddress.ip_address("fe80::1")
    assert parse_address("unknown") is None
    assert parse_address("_hidden") is None


def test_trusted_proxies_come_from_config_yml_or_the_environment() -> None:
    config = ROOT / "config.yml"
    unset = load_settings(config, {})
    assert unset.desk.trusted_proxies == ()
    settings = load_settings(config, {"FRONTDESK_TRUSTED_PROXIES": "172.30.0.10, 10.0.0.0/8"})
    assert [str(n) for n in settings.desk.trusted_proxies] == ["172.30.0.10/32", "10.0.0.0/8"]
    desk = DeskConfig.build(
        settings.desk,
        business_name="x",
        timezone=settings.business.tz,
        public_url="https://x.example",
        calendars={},
        sla_policies={},
    )
    assert desk.trusted_proxies.client_of("172.30.0.10", ["203.0.113.7"]) == "203.0.113.7"
    with pytest.raises(ConfigError) as caught:
        load_settings(config, {"FRONTDESK_TRUSTED_PROXIES": "10.0.0.5/8"})
    assert caught.value.path == "desk.trusted_proxies"
    assert "host bits" in caught.value.reason


def test_the_app_hands_the_desk_its_trusted_proxies() -> None:
    settings = load_settings(ROOT / "config.yml", {"FRONTDESK_TRUSTED_PROXIES": "172.30.0.10"})
    app = build_app(settings)  # not started: nothing is opened
    assert app[TRUSTED_PROXIES].client_of("172.30.0.10", ["203.0.113.7"]) == "203.0.113.7"
    assert app[TRUSTED_PROXIES].client_of("172.30.0.11", ["203.0.113.7"]) == "172.30.0.11"


def test_the_deployment_trusts_exactly_its_nginx() -> None:
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    trusted = compose["x-frontdesk"]["environment"]["FRONTDESK_TRUSTED_PROXIES"]
    nginx = compose["services"]["nginx"]["networks"]["default"]["ipv4_address"]
    (subnet,) = compose["networks"]["default"]["ipam"]["config"]
    assert trusted == nginx
    assert ipaddress.ip_address(nginx) in ipaddress.ip_network(subnet["subnet"])
    site = (ROOT / "deploy" / "nginx" / "frontdesk.conf").read_text()
    passes, forwards = (
        site.count("proxy_pass "),
        site.count("proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"),
    )
    assert passes == forwards == 3  # every location appends the client's address
