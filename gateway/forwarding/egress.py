"""Where the gateway may send a pharmacy's webhook: public addresses only, checked when the
webhook is registered and again, after resolving the name, when each delivery is sent, and the
connection goes to the very address that was checked (no gap between check and connect for a
DNS answer to change in).

Refused (README "Security", webhooks): every address that is not globally routable (loopback,
private, link-local, shared 100.64.0.0/10, unspecified, reserved, documentation ranges),
multicast, IPv6 outside 2000::/3, every IPv6 form embedding an IPv4 address (IPv4-mapped,
IPv4-compatible ``[::127.0.0.1]``, 6to4, Teredo, NAT64 ``64:ff9b::/96`` and
``64:ff9b:1::/48``), in any spelling the C resolver accepts (``2130706433``, ``0x7f.1``,
``127.1``, ``0177.0.0.1``, ``0``), and the names ``localhost``, ``*.localhost``,
``ip6-localhost``, ``ip6-loopback`` with or without a trailing dot. A name is refused when any
address it resolves to is refused.

Development (``ERX_ENV=development``) allows internal addresses and plain http, so a pharmacy's
test receiver can run on the same machine.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import certifi
import urllib3

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
LOCAL_NAMES = frozenset({"localhost", "ip6-localhost", "ip6-loopback", "localhost.localdomain"})
Resolver = Callable[[str, int], list[str]]


class EgressRefused(Exception):
    """The URL's host is, or resolves to, an address the gateway must not call."""


class Unreachable(Exception):
    """The host could not be resolved or connected to (no further detail is kept)."""


def literal_address(host: str) -> IpAddress | None:
    """The address a host written as a number means, in any form the C resolver reads
    (dotted, dotted-octal, hexadecimal, shortened, a single 32-bit number), or None for a name.
    """
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


#: Blocks refused beyond what this Python's ``ipaddress`` knows as not global: IPv6 forms that
#: carry an IPv4 address (IPv4-compatible ``::a.b.c.d``, IPv4-translated, NAT64's well-known
#: and local-use prefixes, which a translator turns into any IPv4 address, internal ones
#: included), and the special-purpose blocks IANA lists as not globally reachable that older
#: Pythons take for global: IETF protocol assignments (192.0.0.0/24, which also holds the dummy
#: address 192.0.0.8), the documentation block of RFC 9637, the deprecated 6to4 relay anycast.
REFUSED_NETWORKS = tuple(ipaddress.ip_network(block) for block in (
    "::/96", "::ffff:0:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "3fff::/20",
    "192.0.0.0/24", "192.88.99.0/24"))


def refused_address(address: IpAddress) -> bool:
    """Whether the gateway must not connect to ``address``: anything but global unicast (for
    IPv6, only 2000::/3 outside the special-purpose blocks: ``is_reserved`` covers the rest of
    the space), and every IPv6 form that embeds an IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address) and (address.ipv4_mapped or address.sixtofour
                                                       or address.teredo):
        return True
    if any(address in network for network in REFUSED_NETWORKS):
        return True
    return not address.is_global or address.is_multicast or address.is_reserved


def refused_name(host: str) -> bool:
    name = host.rstrip(".").lower()
    return name in LOCAL_NAMES or name.endswith(".localhost")


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to. Raises: Unreachable."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unreachable("the name does not resolve") from exc
    return [str(item[4][0]) for item in found]


def check_host(host: str, *, resolver: Resolver | None = None, port: int = 443) -> list[IpAddress]:
    """The addresses of ``host``, every one allowed.

    ``resolver=None`` checks only what is written (a name that does not resolve yet passes,
    as at registration; it is checked again at each send).

    Raises:
        EgressRefused: a local name, or a refused address (written or resolved).
        Unreachable: the resolver found nothing.
    """
    if refused_name(host):
        raise EgressRefused("a local name")
    literal = literal_address(host)
    if literal is not None:
        if refused_address(literal):
            raise EgressRefused("an internal address")
        return [literal]
    if resolver is None:
        return []
    addresses = [ipaddress.ip_address(text.split("%", 1)[0]) for text in resolver(host, port)]
    if not addresses:
        raise Unreachable("the name does not resolve")
    if any(refused_address(address) for address in addresses):
        raise EgressRefused("a name that resolves to an internal address")
    return addresses


@dataclass
class Answer:
    status: int
    text: str


class PinnedPoster:
    """POSTs to a URL after resolving and checking its host, connecting to the checked address
    while TLS still verifies the certificate for the name in the URL.

    ``allow_internal`` (development) skips the address checks.
    """

    def __init__(self, *, connect_timeout: float, read_timeout: float, allow_internal: bool,
                 resolver: Resolver = system_resolver) -> None:
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        self.allow_internal = allow_internal
        self.resolver = resolver

    def post(self, url: str, body: bytes, headers: Mapping[str, str], *,
             max_text: int) -> Answer:
        """The receiver's answer.

        Raises:
            EgressRefused: the host is, or resolves to, a refused address.
            Unreachable: resolution, connection, TLS or timeout failed (no detail kept).
        """
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if self.allow_internal:
            addresses = [literal_address(host) or ipaddress.ip_address(self.resolver(host, port)[0])]
        else:
            addresses = check_host(host, resolver=self.resolver, port=port)
        target = addresses[0]
        path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
        host_header = parts.netloc.rsplit("@", 1)[-1]
        kwargs: dict[str, Any] = {"timeout": self.timeout, "retries": False, "maxsize": 1}
        if parts.scheme == "https":
            pool: urllib3.HTTPConnectionPool = urllib3.HTTPSConnectionPool(
                str(target), port, server_hostname=host, assert_hostname=host,
                cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(), **kwargs)
        else:
            pool = urllib3.HTTPConnectionPool(str(target), port, **kwargs)
        try:
            response = pool.urlopen("POST", path, body=body,
                                    headers={**headers, "Host": host_header},
                                    redirect=False, preload_content=False)
            try:
                text = response.read(max_text * 4, decode_content=True).decode("utf-8", "replace")
            finally:
                response.release_conn()
            return Answer(response.status, text[:max_text])
        except urllib3.exceptions.HTTPError as exc:
            raise Unreachable("the webhook could not be reached") from exc
        finally:
            pool.close()
