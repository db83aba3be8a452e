"""Every setting of the gateway, read in one place.

A setting has a name, a parser, a default and one line of documentation. Values come from,
in order: the defaults below, then ``ERX_<NAME>`` environment variables, then the mapping
given to :func:`gateway.create_app` (tests). :func:`load` builds the one typed
:class:`~gateway.core.settings.Settings` of a process from them. ``erx-gateway config`` prints
this table with the values in force, and README.md carries the same table.

Defaults are the safe production choice; ``make run`` sets ``ERX_ENV=development``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_origin, get_type_hints

from gateway.core.settings import Settings


class ConfigError(ValueError):
    """A setting has a value its parser refuses, or a required setting is missing."""


def parse_bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"expected true/false, got {raw!r}")


def parse_choice(*choices: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {raw!r}")
        return value

    return parse


def parse_positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError(f"expected a positive whole number, got {raw!r}")
    return value


def parse_non_negative_float(raw: str) -> float:
    value = float(raw)
    if value < 0:
        raise ValueError(f"expected a number >= 0, got {raw!r}")
    return value


def parse_positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError(f"expected a number > 0, got {raw!r}")
    return value


def parse_non_negative_int(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise ValueError(f"expected a whole number >= 0, got {raw!r}")
    return value


def parse_list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    parse: Callable[[str], Any]
    doc: str
    secret: bool = False

    @property
    def env_var(self) -> str:
        return f"ERX_{self.name}"


SETTINGS: tuple[Setting, ...] = (
    # --- process and HTTP ---------------------------------------------------------------
    Setting("ENV", "production", parse_choice("production", "development"),
            "production refuses unsafe set-ups (unencrypted signing key, no token secret, "
            "plain-http webhooks); development allows them"),
    Setting("VAR_DIR", "var", str,
            "directory for local state: embedded database, keys, run files"),
    Setting("HTTP_HOST", "127.0.0.1", str, "address `erx-gateway run` binds gunicorn to"),
    Setting("HTTP_PORT", 8000, parse_positive_int, "port `erx-gateway run` binds gunicorn to"),
    Setting("WORKERS", 2, parse_positive_int, "gunicorn worker processes started by `erx-gateway run`"),
    Setting("THREADS", 4, parse_positive_int, "threads per gunicorn worker"),
    Setting("PROXY_HOPS", 0, parse_non_negative_int,
            "trusted reverse proxies in front of gunicorn: their X-Forwarded-For/-Proto give "
            "the client address used by the audit log and the login limiter (0: none)"),
    Setting("MAX_BODY_BYTES", 1_048_576, parse_positive_int,
            "largest accepted request body; larger ones get 413"),
    Setting("MAX_DRAIN_BYTES", 67_108_864, parse_positive_int,
            "`erx-gateway run`'s gunicorn: bytes of a body the gateway refused unread (413) "
            "that it reads and discards before closing, so the client gets the answer rather "
            "than a reset connection (64 MiB)"),
    Setting("DRAIN_SECONDS", 10.0, parse_positive_float,
            "longest time spent discarding such a body (MAX_DRAIN_BYTES) before closing"),
    Setting("MAX_URL_BYTES", 4096, parse_positive_int,
            "longest accepted URL (path and query string); longer ones get 414 (gunicorn is "
            "started with a request-line limit above it, so the gateway answers)"),
    Setting("MAX_HEADER_BYTES", 8190, parse_positive_int,
            "largest accepted header field (name and value); larger ones get 431"),
    Setting("MAX_HEADER_FIELDS", 100, parse_positive_int,
            "most header fields in one request; more get 431"),
    Setting("LOG_LEVEL", "INFO", parse_choice("debug", "info", "warning", "error"),
            "log level of the JSON request log"),
    # --- database ------------------------------------------------------------------------
    Setting("MONGODB_URI", "", str,
            "MongoDB connection string (replica set or sharded cluster in production); "
            "empty: the embedded SecantusDB on EMBEDDED_DB_PORT", secret=True),
    Setting("DB_NAME", "erx", str, "database name"),
    Setting("MONGODB_TIMEOUT_MS", 2000, parse_positive_int,
            "server selection and connect timeout; /readyz answers 503 after it, and a request "
            "that cannot reach the database answers 503 with Retry-After"),
    Setting("MONGODB_SOCKET_TIMEOUT_MS", 30_000, parse_positive_int,
            "longest wait for one database answer: a database that stops answering fails the "
            "request (503) instead of holding its thread"),
    Setting("WRITE_CONCERN", "majority", str,
            "write concern `w` for every write (`j: true` is always added: docs/durability.md)"),
    Setting("EMBEDDED_DB_HOST", "127.0.0.1", str, "loopback address of the embedded database"),
    Setting("EMBEDDED_DB_PORT", 27027, parse_positive_int, "port of the embedded database"),
    Setting("EMBEDDED_DB_CACHE", "512M", str, "WiredTiger cache size of the embedded database"),
    Setting("EMBEDDED_DB_IN_PRODUCTION", "", parse_choice("", "single-node"),
            "`single-node`: run production on the embedded database, acknowledging that one "
            "node has no replica (a lost disk loses the data; no failover). Unset, production "
            "refuses to start without ERX_MONGODB_URI (README \"Production\")"),
    Setting("EMBEDDED_DB_MAX_RESTARTS", 5, parse_non_negative_int,
            "times `erx-gateway run` restarts a dead embedded database within "
            "EMBEDDED_DB_RESTART_WINDOW_SECONDS before it stops everything (exit status 1)"),
    Setting("EMBEDDED_DB_RESTART_WINDOW_SECONDS", 300.0, parse_positive_float,
            "window of EMBEDDED_DB_MAX_RESTARTS"),
    # --- patient data at rest ----------------------------------------------------------------
    Setting("DATA_KEY_FILE", "", str,
            "local 96-byte master key that wraps the data key encrypting patient fields (written "
            "by `erx-gateway data-key generate FILE`; required in production; development keeps "
            "a generated one in VAR_DIR/data-key). README \"Security\" names the KMS options"),
    # --- caches kept current (gateway/core/changes.py) -------------------------------------
    Setting("CHANGE_STREAMS", "auto", parse_choice("auto", "off"),
            "keep parties, signing keys, webhooks and the drug catalog in memory, current through "
            "one MongoDB change stream per process (auto: when the database has change streams, "
            "else polling; off: polling); /readyz says which"),
    Setting("CHANGE_STREAM_AWAIT_MS", 5000, parse_positive_int,
            "how long the change stream's getMore waits on the server when nothing changes (an "
            "idle process costs one operation per wait; a change is delivered at once)"),
    Setting("CHANGE_STREAM_MIN_INTERVAL_MS", 250, parse_non_negative_int,
            "least time between two getMores of the change stream: a busy process's stream "
            "costs at most one operation per interval however many changes come (they arrive "
            "in batches), and a change waits at most that long"),
    Setting("CACHE_POLL_SECONDS", 1.0, parse_non_negative_float,
            "without change streams: how long a cached party or webhook is used before it is "
            "read again"),
    # --- parties and tokens ----------------------------------------------------------------
    Setting("TOKEN_SECRET", "", str,
            "HMAC key for access tokens (required in production; development keeps a "
            "generated one in VAR_DIR/token-secret)", secret=True),
    Setting("TOKEN_TTL_SECONDS", 604_800, parse_positive_int,
            "access-token lifetime (the national system's 7 days)"),
    Setting("SECRET_HASH_TIME_COST", 3, parse_positive_int,
            "Argon2id passes for passwords people choose and legacy client-secret hashes "
            "(RFC 9106 low-memory profile); generated client secrets use a fast keyed hash"),
    Setting("SECRET_HASH_MEMORY_KIB", 65_536, parse_positive_int,
            "Argon2id memory, KiB (see SECRET_HASH_TIME_COST)"),
    Setting("PASSWORD_HASH_CONCURRENCY", 2, parse_positive_int,
            "Argon2id checks running at once per process; the rest wait (see "
            "PASSWORD_HASH_WAIT_SECONDS)"),
    Setting("PASSWORD_HASH_WAIT_SECONDS", 0.5, parse_non_negative_float,
            "how long a login waits for an Argon2id slot before it is answered 429 "
            "(login-busy) with Retry-After"),
    Setting("LOGIN_FAILURE_LIMIT", "10/minute", str,
            "failed logins allowed per client id and address before 429 (limits notation, "
            "e.g. 10/minute, 50/hour; empty: no limit)"),
    Setting("LOGIN_ADDRESS_FAILURE_LIMIT", "60/minute", str,
            "failed logins allowed per client address, whatever client id they name, before "
            "429 (limits notation; empty: no limit)"),
    Setting("APP_KEY_CACHE_SECONDS", 300.0, parse_non_negative_float,
            "how long a verified pharmacy app-key is remembered in-process (0: verify every "
            "request); rotating its secret or disabling the party still ends it at once"),
    # --- prescriptions ---------------------------------------------------------------------
    Setting("TIMEZONE", "Asia/Ho_Chi_Minh", str,
            "time zone of answers' times and of date-only query bounds (IANA name)"),
    Setting("IDEMPOTENCY_TTL_SECONDS", 86_400, parse_positive_int,
            "how long an Idempotency-Key's answer is kept for replay"),
    Setting("IDEMPOTENCY_LEASE_SECONDS", 30.0, parse_positive_float,
            "a retry with the Idempotency-Key of a request still running gets 409 with "
            "Retry-After; past this (the first one's process died) the retry completes it"),
    Setting("PACK_RESERVATION_GRACE_SECONDS", 60, parse_positive_int,
            "after this, a scanned pack held by a dispense that never completed (crash) may be "
            "dispensed again"),
    Setting("NOMINATION", "advisory", parse_choice("advisory", "binding"),
            "a prescription's nominated pharmacy (ma_co_so_cung_ung_thuoc_chi_dinh): advisory "
            "lets another pharmacy dispense with the warning dispense.not_nominated in its "
            "answer and audit event; binding answers it 403"),
    # --- signatures ----------------------------------------------------------------------
    Setting("SIGNING_ALG", "EdDSA", parse_choice("eddsa", "es256"),
            "JWS alg of newly generated gateway keys: EdDSA (Ed25519) or ES256 (P-256)"),
    Setting("SIGNING_KEY_PASSPHRASE", "", str,
            "passphrase encrypting the signing keys (PKCS#8) in the database; required in "
            "production, development without it stores keys unencrypted", secret=True),
    Setting("SIGNING_KEY_REFRESH_SECONDS", 30.0, parse_non_negative_float,
            "without change streams: longest time a process keeps signing with the old key "
            "after `keys rotate`, and how long the JWKS is cached (with them: until a change)"),
    Setting("PRESCRIBER_SIGNATURE", "optional", parse_choice("off", "optional", "required"),
            "prescribers' signatures: off (ignored), optional (an empty one is accepted, an "
            "invalid one refused), required"),
    Setting("PRESCRIBER_TRUST_ANCHORS", (), parse_list,
            "comma-separated PEM files of the CA certificates prescribers' chains must lead to "
            "(the national root CA)"),
    Setting("PRESCRIBER_CLOCK_SKEW_SECONDS", 300.0, parse_non_negative_float,
            "how far in the future a prescriber's claimed signing time may be"),
    Setting("JWKS_FETCH_TIMEOUT_SECONDS", 10.0, parse_non_negative_float,
            "timeout of `erx-gateway verify --jwks URL` fetching the key set"),
    # --- forwarding ------------------------------------------------------------------------
    Setting("FORWARDER_CONCURRENCY", 8, parse_positive_int,
            "prescriptions one forwarder process sends at the same time (thread pool size)"),
    Setting("FORWARDER_LEASE_SECONDS", 60.0, parse_positive_float,
            "how long a forwarder's claim on a prescription lasts (renewed before each send); "
            "a crashed forwarder's claims are taken over after it; at least twice the connect "
            "plus read timeout"),
    Setting("FORWARDER_POLL_SECONDS", 1.0, parse_positive_float,
            "without change streams (or while the stream reconnects): how long an idle "
            "forwarder waits before looking for due deliveries again; with them it sleeps until "
            "the next delivery is due or new work is pushed"),
    Setting("FORWARDER_PARTITION", "1/1", str,
            "k/n: this forwarder takes the prescriptions whose code hashes to k of n at once, "
            "the others only once overdue by a lease (run n forwarders, 1/n to n/n, so that they "
            "do not all race for each new prescription)"),
    Setting("FORWARDER_CLAIM_BATCH", 256, parse_positive_int,
            "due prescriptions a forwarder reads per query before claiming them one by one"),
    Setting("FORWARD_BACKOFF_BASE_SECONDS", 2.0, parse_positive_float,
            "first retry delay bound; the n-th waits random(0, min(cap, base * 2^(n-1)))"),
    Setting("FORWARD_BACKOFF_CAP_SECONDS", 900.0, parse_positive_float,
            "longest retry delay (15 minutes)"),
    Setting("FORWARD_MAX_AGE_HOURS", 72.0, parse_positive_float,
            "a delivery still failing this long after its first attempt becomes dead"),
    Setting("FORWARD_CONNECT_TIMEOUT_SECONDS", 3.0, parse_positive_float,
            "connect timeout of each send to the registry or a pharmacy webhook"),
    Setting("FORWARD_TIMEOUT_SECONDS", 10.0, parse_positive_float,
            "read timeout of each send to the registry or a pharmacy webhook"),
    Setting("REGISTRY_BASE_URL", "", str,
            "base URL of the national prescription registry (required in production; empty "
            "in development: registry deliveries wait, retried, until it is set)"),
    Setting("REGISTRY_FACILITY_CODE", "", str,
            "ma_lien_thong_co_so_kham_chua_benh the gateway logs in to the registry with"),
    Setting("REGISTRY_PASSWORD", "", str, "password of that facility login", secret=True),
    Setting("REGISTRY_TOKEN_TTL_SECONDS", 604_800.0, parse_positive_float,
            "registry token lifetime when the token does not say (observed: 7 days); a 401 "
            "also triggers one new login"),
    Setting("REGISTRY_CANCEL_PATH", "/api/v1/huy-don-thuoc", str,
            "registry path for cancellations: UNCONFIRMED, no known client calls one; empty: "
            "registry cancellations end failed_permanent"),
    Setting("REGISTRY_ALREADY_EXISTS_PATTERN", "đã tồn tại|da ton tai|already exist|duplicate",
            str, "regular expression on a registry refusal meaning it already has the "
                 "prescription or report (counted as delivered)"),
    Setting("DELIVERY_METRICS_CACHE_SECONDS", 15.0, parse_non_negative_float,
            "how long /metrics reuses its count of open and failed deliveries"),
    # --- audit ---------------------------------------------------------------------------
    Setting("AUDIT_PATIENT_KEY", "", str,
            "HMAC key for patient identifiers in audit events (required in production, 32+ "
            "characters, never changed; development keeps a generated one in "
            "VAR_DIR/audit-patient-key)", secret=True),
    Setting("AUDIT_SEAL_BATCH", 10_000, parse_positive_int,
            "events appended to the Merkle tree per database round trip when sealing"),
    Setting("AUDIT_SEAL_INTERVAL_SECONDS", 60.0, parse_positive_float,
            "how often the forwarder process seals the audit log and signs a tree head"),
    Setting("AUDIT_GAP_GRACE_SECONDS", 60.0, parse_positive_float,
            "how long a hole in the audit sequence (only a database written by a version that "
            "took numbers from a counter can have one) may stay before the sealer records it as "
            "audit.sequence_lost"),
    Setting("AUDIT_PAGE_SIZE", 100, parse_positive_int, "audit events per page by default"),
    Setting("AUDIT_PAGE_MAX", 1000, parse_positive_int, "largest audit page a client may ask"),
    Setting("REPORT_UTC_OFFSET", "+07:00", str,
            "UTC offset of the days in /v2/reports/summary?group_by=day (Vietnam: +07:00)"),
    # --- validation ------------------------------------------------------------------------
    # Policy numbers of the prescription rules (docs/rules.md); schemas.policy.Policy.from_mapping
    # reads every RX_* name below.
    Setting("RX_NAME_MAX_CHARS", 255, parse_positive_int,
            "longest ho_ten_benh_nhan (patient.name_required)"),
    Setting("RX_PATIENT_MAX_AGE_YEARS", 150, parse_positive_int,
            "oldest accepted birth date, in years before today (patient.birth_date)"),
    Setting("RX_CHILD_AGE_MONTHS", 72, parse_positive_int,
            "below this age in months a patient needs a guardian and a weight"),
    Setting("RX_WEIGHT_MAX_KG", 500.0, parse_positive_float,
            "largest accepted can_nang, kg (patient.weight_required)"),
    Setting("RX_CLOCK_SKEW_SECONDS", 300, parse_non_negative_int,
            "how far ngay_gio_ke_don may be ahead of the gateway's clock (rx.prescribed_at)"),
    Setting("RX_MAX_AGE_DAYS", 30, parse_positive_int,
            "oldest accepted ngay_gio_ke_don, days before now (rx.prescribed_at)"),
    Setting("RX_MAX_LINES", 50, parse_positive_int,
            "most drug lines in one prescription (rx.lines_required)"),
    Setting("RX_MAX_DIAGNOSES", 50, parse_positive_int,
            "most chan_doan items (gateway limit against hostile input)"),
    Setting("RX_MAX_PERIODS", 50, parse_positive_int,
            "most dot_dung_thuoc periods (gateway limit against hostile input)"),
    Setting("RX_FREE_TEXT_MAX_CHARS", 2000, parse_positive_int,
            "longest free text: address, guardian, cautions, advice, diagnosis names (rx.text_length)"),
    Setting("RX_DRUG_TEXT_MAX_CHARS", 200, parse_positive_int,
            "longest drug-line text: ma_thuoc, biet_duoc, ten_thuoc, don_vi_tinh, cach_dung "
            "(rx.text_length)"),
    Setting("RX_SIGNATURE_MAX_CHARS", 16_384, parse_positive_int,
            "longest prescriber signature field (rx.text_length)"),
    Setting("RX_FOLLOW_UP_MAX_DAYS", 365, parse_positive_int,
            "latest ngay_tai_kham, days after prescribing (rx.follow_up)"),
    Setting("RX_UTC_OFFSET_MINUTES", 420, parse_non_negative_int,
            "UTC offset of the national document's local times (ngay_gio_ke_don without an "
            "offset); Vietnam: 420 (UTC+7)"),
    Setting("RX_QUANTITY_MAX", 10_000, parse_positive_int, "largest so_luong of a line (drug.quantity)"),
    Setting("RX_QUANTITY_DECIMALS", 3, parse_non_negative_int,
            "most decimal places of a measured quantity (so_luong, so_luong_ban); counted units "
            "take whole numbers only (drug.quantity, dispense.quantity)"),
    Setting("RX_MAX_DISPENSES", 50, parse_positive_int,
            "most dispenses recorded against one prescription (dispense.limit, 409): bounds the "
            "stored document"),
    Setting("RX_MAX_PACKS_PER_DISPENSE", 200, parse_positive_int,
            "most scanned packs in one dispense (dispense.packs_limit, 422)"),
    Setting("RX_MEASURED_UNITS", ("ml", "l", "lít", "g", "gam", "mg", "mcg", "kg", "cc"), parse_list,
            "units measured rather than counted: only these allow a fractional so_luong "
            "(case- and diacritics-insensitive)"),
    Setting("RX_CONTROL_MIXED_SEVERITY", "warning", parse_choice("warning", "error"),
            "severity of control.mixed (an n or h prescription holding other drugs)"),
    Setting("RX_SUPPLY_DAYS_BASIC", 30, parse_positive_int, "days of supply of a c prescription"),
    Setting("RX_SUPPLY_DAYS_BASIC_CHRONIC", 90, parse_positive_int,
            "days of supply of a c prescription with a diagnosis on the chronic-disease list"),
    Setting("RX_SUPPLY_DAYS_NARCOTIC", 7, parse_positive_int, "days of supply of an n prescription"),
    Setting("RX_SUPPLY_DAYS_NARCOTIC_CANCER_HIV", 30, parse_positive_int,
            "days of supply of an n prescription with a cancer or HIV/AIDS diagnosis"),
    Setting("RX_SUPPLY_DAYS_PSYCHOTROPIC", 10, parse_positive_int,
            "days of supply of an h prescription"),
    Setting("RX_SUPPLY_DAYS_PSYCHOTROPIC_CHRONIC", 30, parse_positive_int,
            "days of supply of an h prescription with a chronic diagnosis (unconfirmed)"),
    Setting("RX_SUPPLY_DAYS_TRADITIONAL", 30, parse_positive_int, "days of supply of a y prescription"),
    Setting("RX_CANCER_ICD10", ("C00-D48",), parse_list,
            "ICD-10 codes/ranges counted as cancer for n prescriptions (unconfirmed)"),
    Setting("RX_HIV_ICD10", ("B20-B24",), parse_list,
            "ICD-10 codes/ranges counted as HIV/AIDS for n prescriptions"),
    Setting("RX_CHRONIC_DISEASES_FILE", "", str,
            "file of chronic-disease ICD-10 codes/ranges, one a line (empty: the list shipped in "
            "schemas/data/chronic-diseases.txt)"),
    Setting("RX_CONTROLLED_DISPENSE_DAYS", 5, parse_non_negative_int,
            "an n or h prescription can be dispensed at most this many days after "
            "ngay_gio_ke_don (0: only until its last den_ngay; unconfirmed under TT 26/2025)"),
    # --- cross-facility checks at submission (docs/rules.md "Across prescriptions") ---------
    # Not validation-policy numbers: they read other prescriptions, so the gateway (not
    # schemas.policy) applies them (gateway/prescriptions/overlaps.py).
    Setting("RX_OVERLAP_NARCOTIC", "error", parse_choice("error", "warning"),
            "severity of control.overlap on a narcotic line: the same person (CCCD) has another "
            "prescription, from any facility, not cancelled, whose treatment days overlap, with "
            "a narcotic or a drug of the same active ingredient (error: 422; warning: accepted)"),
    Setting("RX_OVERLAP_PSYCHOTROPIC", "warning", parse_choice("error", "warning"),
            "severity of control.overlap on a psychotropic or precursor line (same test, with "
            "the line's own control class)"),
    Setting("RX_DUPLICATE_THERAPY", True, parse_bool,
            "warn drug.duplicate_therapy when a c prescription's drug shares an active "
            "ingredient with another facility's prescription for the same person on "
            "overlapping days (one more indexed query per c submission)"),
    Setting("RX_OVERLAP_CLAIM_SECONDS", 30, parse_positive_int,
            "an n or h submission claims the person's treatment days for this long while it is "
            "stored, so an overlapping one at the same moment waits and sees it; a claim left by "
            "a process that died blocks that person's overlapping submissions this long at most"),
    Setting("RX_OVERLAP_WAIT_SECONDS", 5, parse_positive_float,
            "the longest an n or h submission waits for an overlapping one of the same person "
            "being stored (then 503 with Retry-After)"),
    Setting("OVERLAP_REPORT_PAGE_SIZE", 100, parse_positive_int,
            "overlaps per page of /v2/reports/controlled-overlaps by default"),
    Setting("OVERLAP_REPORT_PAGE_MAX", 1000, parse_positive_int,
            "largest page of /v2/reports/controlled-overlaps a client may ask"),
    # --- console (people in browsers: README "Console") ----------------------------------------
    Setting("CONSOLE_SESSION_IDLE_SECONDS", 900, parse_positive_int,
            "a console session ends after this long without a request (15 minutes)"),
    Setting("CONSOLE_SESSION_ABSOLUTE_SECONDS", 28_800, parse_positive_int,
            "a console session ends this long after its login, however busy (8 hours: a "
            "working day)"),
    Setting("CONSOLE_PASSWORD_MIN_CHARS", 12, parse_positive_int,
            "shortest password a person may choose in the console (generated ones are 20 "
            "characters)"),
    Setting("CONSOLE_PAGE_SIZE", 50, parse_positive_int,
            "rows per page of the console's lists (prescriptions, dispenses, audit events)"),
    Setting("CONSOLE_DASHBOARD_DAYS", 30, parse_positive_int,
            "days the inspector's dashboard and overlap page show by default"),
    Setting("CONSOLE_DASHBOARD_MAX_DAYS", 366, parse_positive_int,
            "longest window, in days, the inspector's dashboard and overlap page show (a "
            "longer one is refused with a message: each view reads every prescription of it)"),
    Setting("CONSOLE_TOP", 10, parse_positive_int,
            "facilities, drugs and prescribers the inspector's charts and tables rank"),
    Setting("CONSOLE_DASHBOARD_CACHE_SECONDS", 60.0, parse_non_negative_float,
            "how long a process reuses the dashboard's figures for the same days (four summary "
            "aggregations; 0: compute at every view)"),
    # --- drug catalog ------------------------------------------------------------------------
    Setting("CATALOG_REFRESH_SECONDS", 5.0, parse_non_negative_float,
            "without change streams: how often a process re-reads the catalog's change counter "
            "(one small read, in the background); a change is seen within this plus the reload "
            "time. With them, changes are applied as they come"),
    Setting("CATALOG_DEMO", "auto", parse_choice("auto", "yes", "no"),
            "load the shipped demo catalog at `erx-gateway run` when the catalog is empty: "
            "auto = only with ERX_ENV=development"),
    Setting("CATALOG_SEARCH_LIMIT", 20, parse_positive_int,
            "results of GET /v2/drugs?q= when no limit is given (at most 100)"),
    Setting("CATALOG_IMPORT_BATCH", 1000, parse_positive_int,
            "rows compared and written per database round trip by `erx-gateway catalog import`"),
    # --- FHIR face (docs/fhir.md) -------------------------------------------------------------
    Setting("FHIR_SYSTEM_BASE", "https://erx-gateway.vn/fhir", str,
            "base URI of the gateway's own FHIR identifier systems, code systems and extensions "
            "(`<base>/sid/ma-don-thuoc`...): the IG has none for these concepts (docs/fhir.md)"),
    Setting("FHIR_PAGE_SIZE", 20, parse_positive_int,
            "resources of a FHIR search page when `_count` is not given"),
    Setting("FHIR_MAX_PAGE_SIZE", 200, parse_positive_int,
            "largest `_count` a FHIR search accepts"),
    Setting("FHIR_SEARCH_MAX_PRESCRIPTIONS", 1000, parse_positive_int,
            "prescriptions a FHIR search may match (it counts them for `total`); more is 422 "
            "`too-costly`: narrow it by patient, status or authoredon"),
)

_BY_NAME = {setting.name: setting for setting in SETTINGS}
# Each setting's type, as Settings declares it (tuple[str, ...] is checked as a tuple).
_TYPES: dict[str, type] = {name.upper(): get_origin(hint) or hint
                           for name, hint in get_type_hints(Settings).items()}


def load(overrides: Mapping[str, Any] | None = None,
         environ: Mapping[str, str] | None = None) -> Settings:
    """Resolve every setting: defaults, then ``ERX_*`` variables, then ``overrides`` (by setting
    name; a text value is parsed as the variable would be, any other must have the setting's
    type). The one place settings are read.

    Raises:
        ConfigError: an environment variable or override that does not parse or has the wrong
            type, or an override naming no setting.
    """
    environ = os.environ if environ is None else environ
    unknown = sorted(set(overrides or {}) - set(_BY_NAME))
    if unknown:
        raise ConfigError(f"unknown settings: {', '.join(unknown)}")
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env_var)
        if raw is None:
            values[setting.name.lower()] = setting.default
            continue
        try:
            values[setting.name.lower()] = setting.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{setting.env_var}: {exc}") from None
    for name, value in (overrides or {}).items():
        values[name.lower()] = _checked(_BY_NAME[name], value)
    return Settings(**values)


def _checked(setting: Setting, value: Any) -> Any:
    """An override as the setting holds it: text parsed as its variable would be, a whole
    number for a decimal one taken as such, a list as a tuple; anything else of the wrong type
    refused."""
    wanted = _TYPES[setting.name]
    if isinstance(value, str):
        try:
            return setting.parse(value)
        except ValueError as exc:
            raise ConfigError(f"{setting.env_var}: {exc}") from None
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if wanted is tuple and isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    if not isinstance(value, wanted) or (wanted is int and isinstance(value, bool)):
        raise ConfigError(f"{setting.env_var}: expected {wanted.__name__}, got {value!r}")
    return value


def secret_setting(settings: Settings, name: str, *, keep_as: str,
                   production_hint: str = "") -> bytes:
    """A secret setting of at least 32 characters; in development, when unset, one generated
    once and kept (mode 0600) in ``VAR_DIR/keep_as`` so restarts keep it.

    Raises:
        ConfigError: too short, or unset in production.
    """
    variable = setting(name).env_var
    configured: str = getattr(settings, name.lower())
    if configured:
        if len(configured) < 32:
            raise ConfigError(f"{variable} must be at least 32 characters")
        return configured.encode()
    if settings.env == "production":
        raise ConfigError(f"{variable} is required in production (32+ random characters"
                          f"{'; ' + production_hint if production_hint else ''})")
    path = Path(settings.var_dir) / keep_as
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def check_registry_url(settings: Settings) -> None:
    """Production sends the facility's registry password only over TLS.

    Raises:
        ConfigError: in production, a ``REGISTRY_BASE_URL`` that is not https.
    """
    url = settings.registry_base_url
    if settings.env == "production" and url and not url.lower().startswith("https://"):
        raise ConfigError("ERX_REGISTRY_BASE_URL must be an https:// URL in production: the "
                          "facility password is sent to it")


def check_embedded_database(settings: Settings) -> None:
    """Production runs on the embedded database (no ``MONGODB_URI``) only when the operator
    acknowledges that a single node has no replica.

    Raises:
        ConfigError: in production, no ``MONGODB_URI`` and ``EMBEDDED_DB_IN_PRODUCTION`` is
            not ``single-node``.
    """
    if (settings.env == "production" and not settings.mongodb_uri
            and settings.embedded_db_in_production != "single-node"):
        raise ConfigError(
            "ERX_MONGODB_URI is not set, so production would run on the embedded database: one "
            "node, no replica (a lost disk loses every prescription; no failover). Set "
            "ERX_MONGODB_URI to a replica set, or ERX_EMBEDDED_DB_IN_PRODUCTION=single-node to "
            "accept a single node")


def describe(settings: Settings) -> list[dict[str, str]]:
    """The settings table with values in force; secrets are masked."""
    rows = []
    values = settings.by_name()
    for setting in SETTINGS:
        value = values[setting.name]
        shown = "***" if setting.secret and value else _render(value)
        rows.append({"variable": setting.env_var, "default": _render(setting.default),
                     "value": shown, "doc": setting.doc})
    return rows


def _render(value: Any) -> str:
    if isinstance(value, tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def setting(name: str) -> Setting:
    return _BY_NAME[name]
