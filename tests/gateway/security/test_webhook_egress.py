"""Attack class: server-side request forgery through a pharmacy's webhook.

Probe findings: ``https://2130706433/``, ``0x7f.1``, ``127.1``, ``0``, ``0177.0.0.1``,
``localhost.``, ``ip6-localhost``, ``100.64.0.1`` and names resolving to loopback were accepted
in production, deliveries reached loopback listeners, and ``last_error`` told open ports from
closed ones.
"""

from __future__ import annotations

import csv
import ipaddress
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.core.errors import Invalid
from gateway.forwarding.egress import (
    EgressRefused,
    PinnedPoster,
    Unreachable,
    check_host,
    literal_address,
    refused_address,
)
from gateway.forwarding.webhooks import ERRORS, PharmacyWebhookClient, validate_webhook
from gateway.prescriptions.outbox import SendResult
from tests.support.registry_double import WebhookReceiver

DATA = Path(__file__).resolve().parents[2] / "data"
HOSTILE_HOSTS = [
    "2130706433", "0x7f.1", "127.1", "0", "0177.0.0.1", "0x7f000001", "127.0.0.1", "localhost",
    "localhost.", "LOCALHOST", "ip6-localhost", "ip6-loopback", "a.b.localhost", "100.64.0.1",
    "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254", "0.0.0.0", "224.0.0.1",
    "[::1]", "[::]", "[::ffff:127.0.0.1]", "[::ffff:8.8.8.8]", "[fe80::1]", "[fc00::1]",
    "[2002:7f00:1::]", "192.0.2.1", "198.18.0.1", "240.0.0.1", "255.255.255.255",
    # IPv4-compatible IPv6 and NAT64 (a translator reaches any IPv4 address through them)
    "[::127.0.0.1]", "[::7f00:1]", "[::10.0.0.1]", "[::8.8.8.8]", "[64:ff9b::127.0.0.1]",
    "[64:ff9b::8.8.8.8]", "[64:ff9b:1::a00:1]", "[::ffff:0:127.0.0.1]",
]


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_every_internal_address_form_is_refused_at_registration(host: str) -> None:
    with pytest.raises(Invalid) as refused:
        validate_webhook({"url": f"https://{host}/hook"}, allow_http=False)
    assert [item["code"] for item in refused.value.errors] == ["webhook.url_internal"]


@pytest.mark.parametrize("written, meant", [
    ("2130706433", "127.0.0.1"), ("0x7f.1", "127.0.0.1"), ("127.1", "127.0.0.1"),
    ("0177.0.0.1", "127.0.0.1"), ("0", "0.0.0.0"), ("[::1]", "::1"), ("8.8.8.8", "8.8.8.8"),
])
def test_numeric_forms_mean_what_the_resolver_reads(written: str, meant: str) -> None:
    assert str(literal_address(written)) == meant


def test_public_addresses_and_unresolved_names_pass_registration() -> None:
    assert validate_webhook({"url": "https://8.8.8.8/hook"}, allow_http=False)[0] == "https://8.8.8.8/hook"
    url = "https://pharmacy-hook.invalid/erx"  # .invalid never resolves: checked again at send
    assert validate_webhook({"url": url}, allow_http=False)[0] == url


def _resolver(table: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise Unreachable("the name does not resolve")
        return table[host]
    return resolve


def test_a_name_is_refused_when_any_of_its_addresses_is_internal() -> None:
    resolver = _resolver({"mixed.example": ["8.8.8.8", "127.0.0.1"], "v6.example": ["::1"],
                          "public.example": ["8.8.4.4", "2001:4860:4860::8888"]})
    for name in ("mixed.example", "v6.example"):
        with pytest.raises(EgressRefused):
            check_host(name, resolver=resolver)
    assert [str(a) for a in check_host("public.example", resolver=resolver)] == [
        "8.8.4.4", "2001:4860:4860::8888"]


def _registry() -> list[tuple[Any, str, str]]:
    """tests/data/iana-special-purpose.csv: (network, name, globally reachable)."""
    lines = [line for line in (DATA / "iana-special-purpose.csv").read_text().splitlines()
             if line and not line.startswith("#")]
    return [(ipaddress.ip_network(row["block"]), row["name"], row["globally_reachable"])
            for row in csv.DictReader(lines)]


def _samples(network: Any) -> set[Any]:
    """The first, last and middle addresses of a block, and one past its first."""
    size = network.num_addresses
    return {network[0], network[size - 1], network[size // 2], network[min(1, size - 1)]}


def test_every_special_purpose_block_that_is_not_global_is_refused() -> None:
    """Every entry of IANA's IPv4 and IPv6 special-purpose registries that the registry says is
    not globally reachable (or N/A), and every IPv6 block that embeds an IPv4 address, is
    refused at each sampled address, written as a URL host and as a resolved name."""
    registry = _registry()
    reachable = [network for network, _, globally in registry if globally == "True"]
    checked = 0
    for network, name, globally in registry:
        must_refuse = globally != "True" or network == ipaddress.ip_network("64:ff9b::/96")
        if not must_refuse:
            continue
        for address in _samples(network):
            if any(address in other and other.prefixlen > network.prefixlen for other in reachable):
                continue  # a more specific block the registry says is reachable (2001:1::1 ...)
            assert refused_address(address), (str(network), name, str(address))
            host = f"[{address}]" if address.version == 6 else str(address)
            with pytest.raises(Invalid):
                validate_webhook({"url": f"https://{host}/hook"}, allow_http=False)
            with pytest.raises(EgressRefused):
                check_host("pharmacy.example", resolver=lambda *_, a=address: [str(a)])
            checked += 1
    assert checked >= 130, checked  # 136 when written
    print(f"{len(registry)} registry entries, {checked} addresses refused")


def test_public_unicast_addresses_are_still_allowed() -> None:
    for address in ("8.8.8.8", "1.1.1.1", "2001:4860:4860::8888", "2606:4700:4700::1111"):
        assert not refused_address(ipaddress.ip_address(address)), address


@given(st.ip_addresses())
def test_only_global_unicast_addresses_are_allowed(address) -> None:
    allowed = not refused_address(address)
    if allowed:
        assert address.is_global and not address.is_multicast and not address.is_loopback
        assert not address.is_private and not address.is_link_local


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


class _Store:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, pharmacy: str) -> dict:
        return {"url": self.url, "events": ["prescription.issued"]}


class _Signer:
    def sign_detached(self, payload: bytes, *, header=None) -> str:
        return "sig"


def _client(url: str, poster: PinnedPoster) -> PharmacyWebhookClient:
    return PharmacyWebhookClient(store=_Store(url), signer=_Signer, poster=poster)  # type: ignore[arg-type]


def _send(client: PharmacyWebhookClient):
    return client.send("NT1", event="prescription.issued", resource={"a": 1}, delivery_id="d1",
                       attempt=1)


def test_a_name_resolving_to_loopback_at_send_time_is_never_called(receiver: WebhookReceiver) -> None:
    port = receiver.url.rsplit(":", 1)[1]
    poster = PinnedPoster(connect_timeout=1, read_timeout=2, allow_internal=False,
                          resolver=_resolver({"rebound.example": ["127.0.0.1"]}))
    outcome = _send(_client(f"http://rebound.example:{port}/hook", poster))
    assert (outcome.kind, outcome.error) == (SendResult.PERMANENT, ERRORS["forbidden"])
    assert receiver.received == []


def test_the_connection_goes_to_the_checked_address(receiver: WebhookReceiver) -> None:
    """The name is resolved once, by the checker; the socket opens to that address (the name
    itself resolves nowhere) and the receiver still sees the name in Host."""
    port = receiver.url.rsplit(":", 1)[1]
    # Deadlines for a receiver thread of this process, which a busy machine may keep waiting.
    poster = PinnedPoster(connect_timeout=10, read_timeout=10, allow_internal=True,
                          resolver=_resolver({"pharmacy.invalid": ["127.0.0.1"]}))
    outcome = _send(_client(f"http://pharmacy.invalid:{port}/hook", poster))
    assert outcome.kind == "delivered", outcome
    assert receiver.received[0]["headers"]["Host"] == f"pharmacy.invalid:{port}"


@pytest.fixture
def closing_port() -> Iterator[int]:
    """A port that accepts connections and closes them at once (open, but no HTTP)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    server.close()
    thread.join(5)


def test_last_error_does_not_tell_open_ports_from_closed_ones(closing_port: int) -> None:
    unused = socket.socket()
    unused.bind(("127.0.0.1", 0))
    closed_port = unused.getsockname()[1]
    unused.close()
    poster = PinnedPoster(connect_timeout=1, read_timeout=2, allow_internal=True)
    errors = {_send(_client(f"http://127.0.0.1:{port}/", poster)).error
              for port in (closing_port, closed_port)}
    assert errors == {ERRORS["unreachable"]}
    outcome = _send(_client(f"http://127.0.0.1:{closed_port}/", poster))
    assert outcome.kind == SendResult.RETRY and str(closed_port) not in outcome.error
