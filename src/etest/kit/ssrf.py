"""The SSRF guard of callback URLs: which addresses eTest may POST to.

A callback URL is chosen by an organization admin, but the request leaves from inside the
deployment, so a URL naming (or resolving to) ``127.0.0.1``, a private network or the cloud
metadata service would turn eTest into a proxy into its own network. :func:`vet_url` parses the
URL, resolves the host and refuses it when **any** resolved address is not a public unicast
address — unless the operator allow-listed it (``ETEST_CALLBACK_ALLOW_NETWORKS``). The cloud
metadata addresses are refused even then: no callback ever has a reason to reach them.

The check runs when the URL is saved and again before every delivery, and the delivery connects
to the address that was vetted (:class:`VettedUrl.address`), so a DNS answer that changes between
the check and the connection (DNS rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: Instance metadata services (AWS/GCP/Azure/OpenStack, AWS over IPv6, Alibaba Cloud).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT, RFC 6598
#: Ranges Python's ``ipaddress`` (3.11) calls global that no callback may reach: they route to
#: no single public host (issue 13's findings).
_NOT_PUBLIC: tuple[tuple[IPNetwork, str], ...] = (
    (ipaddress.ip_network("fec0::/10"), "IPv6 site-local (deprecated, RFC 3879)"),
    (ipaddress.ip_network("192.88.99.0/24"), "the 6to4 relay anycast (deprecated, RFC 7526)"),
    (ipaddress.ip_network("3fff::/20"), "IPv6 documentation (RFC 9637)"),
)
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
#: What ``inet_aton`` would read as an IPv4 address: ``2130706433``, ``0x7f000001``,
#: ``0177.0.0.1``, ``127.1`` (checked first, because glibc's ``inet_aton`` ignores trailing text).
_IPV4_SPELLING = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)(\.(0[xX][0-9a-fA-F]*|[0-9]+)){0,3}$")


class UrlRefused(ValueError):
    """The URL is malformed or names an address the guard refuses (the message says why)."""


class UrlUnresolved(UrlRefused):
    """The host name does not resolve (now): nothing to vet yet."""


@dataclass(frozen=True)
class VettedUrl:
    """A URL that passed the guard, with the address a delivery must connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress


def allow_list(networks: Sequence[str]) -> tuple[IPNetwork, ...]:
    """Parse ``ETEST_CALLBACK_ALLOW_NETWORKS`` (addresses or CIDR networks)."""
    out = []
    for entry in networks:
        try:
            out.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ValueError(
                f"ETEST_CALLBACK_ALLOW_NETWORKS: {entry!r} is not an address or CIDR network"
            ) from exc
    return tuple(out)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, NAT64, Teredo client)."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in net for net in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        return address.teredo[1]
    return None


def refusal(address: IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why ``address`` may not receive a callback, or None when it may."""
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if any(address.version == net.version and address in net for net in allowed):
        return None
    if isinstance(address, ipaddress.IPv6Address):
        inner = _embedded_ipv4(address)
        if inner is not None:
            why = refusal(inner, allowed)
            return f"an IPv6 form of {inner} ({why})" if why else None
    for flag, why in (
        ("is_loopback", "loopback"),
        ("is_unspecified", "unspecified"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    ):
        if getattr(address, flag):
            return why
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "carrier-grade NAT (100.64.0.0/10)"
    for net, why in _NOT_PUBLIC:
        if address.version == net.version and address in net:
            return why
    if not address.is_global:
        return "not globally routable"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally, in any spelling ``inet_aton`` accepts, or None."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError as exc:
            raise UrlRefused(f"{host!r} is not a valid IPv6 address") from exc
    if _IPV4_SPELLING.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError as exc:
            raise UrlRefused(f"{host!r} is not a valid IPv4 address") from exc
    return None


def parse_url(url: str) -> tuple[SplitResult, str, int]:
    """Split and check the form: http or https, a host, no user or password, a valid port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UrlRefused(f"The callback URL cannot be parsed: {exc}.") from exc
    if parts.scheme not in ("http", "https"):
        raise UrlRefused("The callback URL must use http or https.")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UrlRefused("The callback URL must not carry a user name or password.")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UrlRefused("The callback URL has no host.")
    return parts, host, port or (443 if parts.scheme == "https" else 80)


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (IPv4 and IPv6), in the resolver's order."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UrlUnresolved(f"The host {host!r} does not resolve: {exc}.") from exc
    out: list[IPAddress] = []
    for family, *_, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in out:
            out.append(address)
    if not out:
        raise UrlUnresolved(f"The host {host!r} has no IPv4 or IPv6 address.")
    return out


async def vet_url(url: str, allow_networks: Sequence[str] = ()) -> VettedUrl:
    """Parse and resolve ``url``; raise :class:`UrlRefused` unless every address it resolves to
    may receive callbacks. Literal addresses are normalized first (``127.1`` is ``127.0.0.1``)."""
    allowed = allow_list(allow_networks)
    parts, host, port = parse_url(url)
    literal = literal_address(host)
    addresses = [literal] if literal is not None else await resolve(host, port)
    for address in addresses:
        why = refusal(address, allowed)
        if why is not None:
            shown = host if literal is not None and str(literal) == host else f"{host} ({address})"
            raise UrlRefused(
                f"The callback URL's host {shown} is {why}: refused "
                "(an operator may allow it with ETEST_CALLBACK_ALLOW_NETWORKS)."
            )
    return VettedUrl(url=url, scheme=parts.scheme, host=host, port=port, address=addresses[0])
