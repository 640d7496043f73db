"""The SSRF guard on its own: refusals in every spelling, the allow-list, the pinned request.
Literal addresses need no network; ``localhost`` resolves through the system resolver."""

from __future__ import annotations

import ipaddress

import pytest

from etest.kit.ssrf import UrlRefused, VettedUrl, vet_url
from etest.webhook.tasks import pinned_request

REFUSED = [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://2130706433/hook", "loopback"),
    ("http://0x7f000001/hook", "loopback"),
    ("http://0177.0.0.1/hook", "loopback"),
    ("http://127.1/hook", "loopback"),
    ("http://127.0.0.1.:8080/hook", "loopback"),
    ("http://0/hook", "unspecified"),
    ("http://10.1.2.3/hook", "private"),
    ("http://172.16.0.1/hook", "private"),
    ("http://192.168.1.10/hook", "private"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://100.100.100.200/", "metadata"),
    ("http://[::1]/hook", "loopback"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://[::ffff:a00:1]/hook", "private"),
    ("http://[2002:7f00:1::]/hook", "loopback"),  # 6to4 of 127.0.0.1
    ("http://[64:ff9b::a9fe:a9fe]/hook", "metadata"),  # NAT64 of 169.254.169.254
    ("http://[fc00::1]/hook", "private"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://[ff02::1]/hook", "multicast"),
    ("http://100.64.0.1/hook", "carrier-grade NAT"),
    ("http://240.0.0.1/hook", "reserved"),
    ("http://198.18.0.1/hook", "private"),
    ("http://localhost/hook", "loopback"),
    ("http://LOCALHOST./hook", "loopback"),
    # ranges Python's ipaddress calls global (issue 13): they passed the guard before
    ("http://[fec0::1]/hook", "site-local"),
    ("http://192.88.99.1/hook", "6to4 relay anycast"),
    ("http://[3fff::1]/hook", "IPv6 documentation"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED)
async def test_refused_without_allow_list(url: str, why: str) -> None:
    with pytest.raises(UrlRefused, match=why):
        await vet_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.216.34/x",
        "file:///etc/passwd",
        "http://user:pw@93.184.216.34/",
        "http://user@93.184.216.34/",
        "http:///nohost",
        "http://93.184.216.34:99999/",
        "http://[::1/",
        "http://1.2.3.4.5/",
        "javascript:alert(1)",
    ],
)
async def test_malformed_refused(url: str) -> None:
    with pytest.raises(UrlRefused):
        await vet_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.216.34/hook",
        "http://93.184.216.34:8080/x?y=1",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/hook",
        "http://1558500898/",
    ],
)
async def test_public_addresses_pass(url: str) -> None:
    vetted = await vet_url(url)
    assert vetted.address.is_global


async def test_allow_list_opens_exactly_what_it_names() -> None:
    allow = ["127.0.0.1/32"]
    for url in (
        "http://127.0.0.1:8080/hook",
        "http://127.1/",
        "http://2130706433/",
        "http://[::ffff:127.0.0.1]/",
    ):
        assert (await vet_url(url, allow)).address in (
            ipaddress.ip_address("127.0.0.1"),
            ipaddress.ip_address("::ffff:127.0.0.1"),
        )
    for url in ("http://127.0.0.2/", "http://[::1]/", "http://10.0.0.1/"):
        with pytest.raises(UrlRefused):
            await vet_url(url, allow)
    assert (await vet_url("http://10.9.8.7/", ["10.0.0.0/8"])).address == ipaddress.ip_address(
        "10.9.8.7"
    )


async def test_metadata_refused_even_when_allow_listed() -> None:
    with pytest.raises(UrlRefused, match="metadata"):
        await vet_url("http://169.254.169.254/", ["169.254.0.0/16"])


async def test_bad_allow_list_entry_is_named() -> None:
    with pytest.raises(ValueError, match="not-a-network"):
        await vet_url("http://93.184.216.34/", ["not-a-network"])


def test_pinned_request_keeps_host_and_sni() -> None:
    vetted = VettedUrl(
        url="https://hooks.example.org:8443/in?x=1",
        scheme="https",
        host="hooks.example.org",
        port=8443,
        address=ipaddress.ip_address("93.184.216.34"),
    )
    url, headers, extensions = pinned_request(vetted)
    assert url == "https://93.184.216.34:8443/in?x=1"
    assert headers == {"host": "hooks.example.org:8443"}
    assert extensions == {"sni_hostname": "hooks.example.org"}
    six = VettedUrl(
        url="http://hooks.example.org/",
        scheme="http",
        host="hooks.example.org",
        port=80,
        address=ipaddress.ip_address("2606:2800:220:1::1"),
    )
    assert pinned_request(six)[:2] == (
        "http://[2606:2800:220:1::1]/",
        {"host": "hooks.example.org"},
    )
