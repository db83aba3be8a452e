"""The typed container of one process's services, and how it is built from the settings.

Part of the composition root (with :func:`gateway.create_app` and the command line): the only
code that knows every capability. Capabilities receive what they need as constructor
arguments; views reach the container through :func:`gateway.web.context.services`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from flask import g, has_request_context, request
from pymongo.errors import PyMongoError

from gateway.audit import store as audit_store
from gateway.audit.log import AuditLog, EventContext
from gateway.audit.store import QueueSource
from gateway.audit.tree import Sealer, SealPolicy
from gateway.auth import session_store, user_store
from gateway.auth.limiter import LoginLimiter, parse_limit
from gateway.auth.service import Authenticator
from gateway.auth.session_store import SessionStore
from gateway.auth.sessions import ConsoleLogin, SessionPolicy
from gateway.auth.tokens import TokenService, VerifiedKeys
from gateway.auth.user_store import UserStore
from gateway.catalog.service import CatalogService
from gateway.console.service import Console, ConsolePolicy
from gateway.core import encryption
from gateway.core.changes import ChangeFeed, DocumentCache
from gateway.core.config import check_embedded_database, check_registry_url, secret_setting
from gateway.core.db import IndexDeclaration, RetiredIndexes, Storage, connect
from gateway.core.encryption import FieldCipher, master_key
from gateway.core.settings import Settings
from gateway.forwarding.deliveries import DeliveryMetrics
from gateway.forwarding.registry import RegistryClient
from gateway.forwarding.webhook_store import COLLECTION as WEBHOOKS
from gateway.forwarding.webhook_store import WebhookStore
from gateway.forwarding.webhooks import PharmacyWebhookClient
from gateway.forwarding.worker import Forwarder, ForwardingPolicy, registry_client
from gateway.parties import store as parties_store
from gateway.parties.model import Party, client_id_for
from gateway.parties.secrets import SecretHasher
from gateway.parties.store import PartyStore
from gateway.prescriptions import audit_outbox_store, idempotency_store, overlap_store, wiring
from gateway.prescriptions import store as prescriptions_store
from gateway.prescriptions.audit_outbox_store import PrescriptionAuditOutbox
from gateway.prescriptions.cancelling import Cancelling
from gateway.prescriptions.dispensing import Dispensing
from gateway.prescriptions.idempotency_store import IdempotencyStore
from gateway.prescriptions.model import StoredPrescription
from gateway.prescriptions.outbox_store import OutboxStore
from gateway.prescriptions.overlap_store import OverlapStore
from gateway.prescriptions.overlaps import OverlapCheck, OverlapPolicy
from gateway.prescriptions.print_pdf import render_pdf
from gateway.prescriptions.printing import Printing
from gateway.prescriptions.reading import Reading
from gateway.prescriptions.reports import check_utc_offset
from gateway.prescriptions.representation import resource
from gateway.prescriptions.store import PrescriptionStore
from gateway.prescriptions.submission import Submission
from gateway.signatures import service as signatures_service
from gateway.signatures.qr import PrescriptionQr
from gateway.signatures.service import Signatures, build_signatures
from signing.key_store import COLLECTION as SIGNING_KEYS
from signing.key_store import KeyStore

# Every collection's indexes, created at start-up (the drug catalog's store keeps its own,
# the login limiter's collections belong to the limits library).
INDEXES: tuple[IndexDeclaration, ...] = (
    parties_store.INDEXES,
    user_store.INDEXES,
    session_store.INDEXES,
    audit_store.INDEXES,
    signatures_service.INDEXES,
    prescriptions_store.INDEXES,
    audit_outbox_store.INDEXES,
    overlap_store.INDEXES,
    idempotency_store.INDEXES,
    encryption.INDEXES,
)
# Indexes of earlier versions, dropped at start-up where they exist.
RETIRED_INDEXES: tuple[RetiredIndexes, ...] = (prescriptions_store.RETIRED_INDEXES,)


@dataclass
class Services:
    """Everything one process uses, built once per app."""

    settings: Settings
    storage: Storage
    feed: ChangeFeed
    cipher: FieldCipher
    timezone: ZoneInfo
    parties: PartyStore
    tokens: TokenService
    authenticator: Authenticator
    users: UserStore
    console_login: ConsoleLogin
    audit: AuditLog
    sealer: Sealer
    signatures: Signatures
    qr: PrescriptionQr
    catalog: CatalogService
    prescription_store: PrescriptionStore
    outbox: OutboxStore
    overlaps: OverlapStore
    # the prescription services, each over the one store
    submission: Submission
    reading: Reading
    cancelling: Cancelling
    dispensing: Dispensing
    printing: Printing
    idempotency: IdempotencyStore
    webhooks: WebhookStore
    delivery_metrics: DeliveryMetrics
    console: Console
    # /readyz: name -> check; /metrics: collectors read from the database at each scrape.
    readiness: dict[str, Callable[[], bool]] = field(default_factory=dict)
    scrape_collectors: list[Any] = field(default_factory=list)
    _closed: bool = False

    def start(self, *, catalog: bool = True) -> None:
        """Start what a serving process runs in the background: the change feed keeping the
        caches current and (``catalog``) the drug catalog's first load. Command-line tools
        start nothing: they read through, and load the catalog on first use."""
        if catalog:
            self.catalog.start(self.feed)
            self.readiness["catalog"] = self.catalog.ready
        self.feed.start()

    def wait_ready(self, timeout: float = 30.0) -> bool:
        """Wait until the feed has settled and the catalog is loaded (tests, benchmarks)."""
        if not self.feed.wait_settled(timeout):
            return False
        deadline = time.monotonic() + timeout
        while "catalog" in self.readiness and not self.catalog.ready():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self) -> None:
        """Stop the background work and close the clients (a second call does nothing)."""
        if self._closed:
            return
        self._closed = True
        self.feed.stop()
        self.catalog.stop()
        with contextlib.suppress(PyMongoError):  # its stream may be mid-getMore
            self.feed.database.client.close()
        self.cipher.close()
        self.storage.client.close()


class _KeysFollowFeed:
    """Tells the key store of every change of ``signing_keys`` (a rotation elsewhere)."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def feed_event(self, change: Mapping[str, Any]) -> None:
        self.store.invalidate()

    def feed_reset(self) -> None:
        self.store.invalidate()


def change_feed(settings: Settings, listeners: Sequence[Any] = ()) -> ChangeFeed:
    """The process's change feed, on a client of its own (its ``getMore`` waits on the server
    for up to ``CHANGE_STREAM_AWAIT_MS`` and must not hold a connection of the request pool)."""
    client = connect(settings, event_listeners=list(listeners), appname="erx-gateway-feed",
                     socketTimeoutMS=settings.mongodb_socket_timeout_ms
                     + settings.change_stream_await_ms)
    return ChangeFeed(client[settings.db_name], enabled=settings.change_streams == "auto",
                      max_await_ms=settings.change_stream_await_ms,
                      min_interval_ms=settings.change_stream_min_interval_ms)


def request_context() -> EventContext:
    """Who acts in the current request, for the audit log (nobody outside a request)."""
    if not has_request_context():
        return EventContext()
    party = g.get("party")
    actor = ({"party_id": party.client_id, "role": party.role} if party is not None
             else {"party_id": None, "role": "anonymous"})
    user = g.get("console_user")  # a person signed in to the console (gateway/console)
    if user is not None and party is not None:
        actor["user"] = user
    return EventContext(actor=actor, request_id=g.get("request_id"),
                        client_address=request.remote_addr or None)


def build_services(settings: Settings, *, listeners: Sequence[Any] = ()) -> Services:
    """Build every service from the settings; nothing runs in the background until
    :meth:`Services.start`. ``listeners``: pymongo command listeners for every client
    (tests count database operations with them).

    Raises:
        gateway.core.config.ConfigError: a setting is invalid or a production requirement is
            unmet (secrets are checked before any connection is opened).
    """
    token_secret = secret_setting(settings, "TOKEN_SECRET", keep_as="token-secret")
    patient_key = secret_setting(
        settings, "AUDIT_PATIENT_KEY", keep_as="audit-patient-key",
        production_hint="keep it: changing it makes old events unsearchable by patient")
    check_utc_offset(settings.report_utc_offset)
    check_registry_url(settings)
    check_embedded_database(settings)
    data_key = master_key(settings)
    login_limit = parse_limit(settings.login_failure_limit)
    address_limit = parse_limit(settings.login_address_failure_limit, "LOGIN_ADDRESS_FAILURE_LIMIT")
    policy = wiring.validation_policy(settings)
    overlap_policy = OverlapPolicy.from_settings(settings)
    zone = ZoneInfo(settings.timezone)

    storage = Storage(settings, INDEXES, retired=RETIRED_INDEXES, listeners=listeners)
    feed = change_feed(settings, listeners)
    try:
        database = storage.database
        cipher = FieldCipher(database, data_key)
        hasher = SecretHasher(PasswordHasher(time_cost=settings.secret_hash_time_cost,
                                             memory_cost=settings.secret_hash_memory_kib,
                                             parallelism=1),
                              concurrency=settings.password_hash_concurrency,
                              wait_seconds=settings.password_hash_wait_seconds)
        poll = settings.cache_poll_seconds
        party_cache = DocumentCache(feed, ttl_seconds=poll)
        feed.subscribe(parties_store.COLLECTION, party_cache)
        parties = PartyStore(database, hasher=hasher, cache=party_cache)
        tokens = TokenService(secret=token_secret, ttl_seconds=settings.token_ttl_seconds)
        limiter = LoginLimiter(client=storage.client, database=settings.db_name,
                               limit=login_limit, address_limit=address_limit)
        authenticator = Authenticator(
            parties=parties, tokens=tokens, limiter=limiter,
            app_keys=VerifiedKeys(settings.app_key_cache_seconds))
        users = UserStore(database, hasher=hasher)
        console_login = ConsoleLogin(users=users, parties=parties,
                                     sessions=SessionStore(database), limiter=limiter,
                                     policy=SessionPolicy.from_settings(settings))
        audit = AuditLog(database, patient_key=patient_key, context=request_context)
        signatures = build_signatures(database, settings)
        signatures.key_store.trust_cache = feed.live
        feed.subscribe(SIGNING_KEYS, _KeysFollowFeed(signatures.key_store))
        prescription_audit = PrescriptionAuditOutbox(database)
        sealer = Sealer(database, signer=signatures.signer, policy=SealPolicy.from_settings(settings),
                        sources=(QueueSource(database), prescription_audit))
        audit.sequencer = sealer.sequence  # readers of the log number what waits first
        catalog = CatalogService.from_settings(database, settings)
        prescription_store = PrescriptionStore(database, cipher=cipher)
        outbox = OutboxStore(database, cipher=cipher)
        overlaps = OverlapStore(database)
        qr = PrescriptionQr(signatures)
        audit_event = wiring.audit_events(audit)
        submission = Submission(
            prescription_store, catalog=catalog.catalog,
            validate=wiring.validator(catalog=catalog.catalog, signatures=signatures,
                                      policy=policy),
            sign=wiring.signer(signatures), dispensable_until=wiring.dispensing_window(policy),
            patient_key=audit.patient_hash,
            overlaps=OverlapCheck(prescription_store, overlaps, catalog=catalog.catalog,
                                  audit=audit, names=parties.names, policy=overlap_policy),
            audit_event=audit_event)
        reading = Reading(prescription_store, read_qr=qr.read, patient_key=audit.patient_hash,
                          audit_event=audit_event, audit_outbox=prescription_audit,
                          audit_queue=audit.store)
        cancelling = Cancelling(prescription_store, audit_event=audit_event)
        dispensing = Dispensing(
            prescription_store, catalog=catalog.catalog, audit_event=audit_event,
            settings=wiring.dispense_settings(settings, policy=policy, zone=zone))
        webhook_cache = DocumentCache(feed, ttl_seconds=poll)
        feed.subscribe(WEBHOOKS, webhook_cache)
        delivery_metrics = DeliveryMetrics(
            outbox, cache_seconds=settings.delivery_metrics_cache_seconds)
        services = Services(
            settings=settings, storage=storage, feed=feed, cipher=cipher, timezone=zone, parties=parties, tokens=tokens,
            authenticator=authenticator, users=users, console_login=console_login,
            audit=audit, sealer=sealer, signatures=signatures,
            qr=qr, catalog=catalog, prescription_store=prescription_store, outbox=outbox,
            overlaps=overlaps, submission=submission, reading=reading, cancelling=cancelling,
            dispensing=dispensing,
            printing=Printing(reading, parties=parties, qr=qr, catalog=catalog.catalog,
                              zone=zone, child_months=policy.child_age_months,
                              render_pdf=render_pdf),
            idempotency=IdempotencyStore(database[idempotency_store.COLLECTION],
                                         ttl_seconds=settings.idempotency_ttl_seconds,
                                         lease_seconds=settings.idempotency_lease_seconds,
                                         cipher=cipher),
            webhooks=WebhookStore(database, cache=webhook_cache),
            delivery_metrics=delivery_metrics,
            console=Console(reading=reading, prescriptions=prescription_store,
                            catalog=catalog.catalog, parties=parties,
                            outbox=outbox, overlaps=overlaps, audit=audit,
                            signatures=signatures, zone=zone,
                            policy=ConsolePolicy.from_settings(settings)),
            readiness={"database": storage.ping, "signing_key": signatures.ready},
            scrape_collectors=[delivery_metrics])
    except BaseException:
        feed.database.client.close()
        storage.client.close()
        raise
    storage.prepare()
    return services


def pharmacy_view(services: Services) -> Callable[[Mapping[str, Any], str], dict[str, Any]]:
    """The webhook body: exactly what ``GET /v2/prescriptions/{code}`` shows that pharmacy."""

    def view(doc: Mapping[str, Any], pharmacy: str) -> dict[str, Any]:
        party = Party(client_id=client_id_for("pharmacy", pharmacy, None), role="pharmacy",
                      code=pharmacy, name="", facility=None, status="active")
        stored = cast(StoredPrescription, dict(doc))  # a snapshot of the outbox's
        return resource(stored, party, status=services.reading.effective_status(stored),
                        zone=services.timezone)

    return view


def build_forwarder(services: Services, *, registry: RegistryClient | None = None,
                    owner: str | None = None, **policy_overrides: Any) -> Forwarder:
    """A forwarder wired from the services' settings (``registry`` replaces the configured
    one; ``policy_overrides`` change fields of its :class:`ForwardingPolicy`).

    Raises:
        gateway.core.config.ConfigError: see :meth:`ForwardingPolicy.from_settings` and
            :func:`gateway.forwarding.worker.registry_client`.
    """
    settings = services.settings
    policy = ForwardingPolicy.from_settings(settings)
    if policy_overrides:
        policy = ForwardingPolicy(**{**policy.__dict__, **policy_overrides})
    pharmacies = PharmacyWebhookClient(
        store=services.webhooks, signer=services.signatures.signer,
        connect_timeout=settings.forward_connect_timeout_seconds,
        read_timeout=settings.forward_timeout_seconds,
        allow_internal=settings.env == "development")
    return Forwarder(outbox=services.outbox, parties=services.parties, audit=services.audit,
                     registry=registry or registry_client(settings), pharmacies=pharmacies,
                     pharmacy_view=pharmacy_view(services), policy=policy, owner=owner,
                     feed=services.feed if services.feed.enabled else None)


def bootstrap(services: Services) -> list[str]:
    """The first-run steps of ``erx-gateway run``; what they did, to tell the operator."""
    said = []
    services.signatures.bootstrap()
    report = services.catalog.load_demo_if_empty()
    if report is not None:
        said.append(f"drug catalog was empty: loaded the demo catalog ({report.added} "
                    f"products, sample data)")
    return said
