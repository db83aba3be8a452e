"""The settings in force, typed: one frozen object per process, built once from the table of
:mod:`gateway.core.config` (which gives each setting its parser, default and documentation, and
refuses unknown names). Each service receives the few values it needs from it, as arguments or
as a small policy object; nothing reads a setting by its name elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """One attribute per setting of :data:`gateway.core.config.SETTINGS`, named in lower case
    (``ERX_TOKEN_TTL_SECONDS`` is ``token_ttl_seconds``), in the table's order."""

    # --- process and HTTP
    env: str
    var_dir: str
    http_host: str
    http_port: int
    workers: int
    threads: int
    proxy_hops: int
    max_body_bytes: int
    max_drain_bytes: int
    drain_seconds: float
    max_url_bytes: int
    max_header_bytes: int
    max_header_fields: int
    log_level: str
    # --- database
    mongodb_uri: str
    db_name: str
    mongodb_timeout_ms: int
    mongodb_socket_timeout_ms: int
    write_concern: str
    embedded_db_host: str
    embedded_db_port: int
    embedded_db_cache: str
    embedded_db_in_production: str
    embedded_db_max_restarts: int
    embedded_db_restart_window_seconds: float
    # --- patient data at rest
    data_key_file: str
    # --- caches kept current (gateway/core/changes.py)
    change_streams: str
    change_stream_await_ms: int
    change_stream_min_interval_ms: int
    cache_poll_seconds: float
    # --- parties and tokens
    token_secret: str
    token_ttl_seconds: int
    secret_hash_time_cost: int
    secret_hash_memory_kib: int
    password_hash_concurrency: int
    password_hash_wait_seconds: float
    login_failure_limit: str
    login_address_failure_limit: str
    app_key_cache_seconds: float
    # --- prescriptions
    timezone: str
    idempotency_ttl_seconds: int
    idempotency_lease_seconds: float
    pack_reservation_grace_seconds: int
    nomination: str
    # --- signatures
    signing_alg: str
    signing_key_passphrase: str
    signing_key_refresh_seconds: float
    prescriber_signature: str
    prescriber_trust_anchors: tuple[str, ...]
    prescriber_clock_skew_seconds: float
    jwks_fetch_timeout_seconds: float
    # --- forwarding
    forwarder_concurrency: int
    forwarder_lease_seconds: float
    forwarder_poll_seconds: float
    forwarder_partition: str
    forwarder_claim_batch: int
    forward_backoff_base_seconds: float
    forward_backoff_cap_seconds: float
    forward_max_age_hours: float
    forward_connect_timeout_seconds: float
    forward_timeout_seconds: float
    registry_base_url: str
    registry_facility_code: str
    registry_password: str
    registry_token_ttl_seconds: float
    registry_cancel_path: str
    registry_already_exists_pattern: str
    delivery_metrics_cache_seconds: float
    # --- audit
    audit_patient_key: str
    audit_seal_batch: int
    audit_seal_interval_seconds: float
    audit_gap_grace_seconds: float
    audit_page_size: int
    audit_page_max: int
    report_utc_offset: str
    # --- validation
    rx_name_max_chars: int
    rx_patient_max_age_years: int
    rx_child_age_months: int
    rx_weight_max_kg: float
    rx_clock_skew_seconds: int
    rx_max_age_days: int
    rx_max_lines: int
    rx_max_diagnoses: int
    rx_max_periods: int
    rx_free_text_max_chars: int
    rx_drug_text_max_chars: int
    rx_signature_max_chars: int
    rx_follow_up_max_days: int
    rx_utc_offset_minutes: int
    rx_quantity_max: int
    rx_quantity_decimals: int
    rx_max_dispenses: int
    rx_max_packs_per_dispense: int
    rx_measured_units: tuple[str, ...]
    rx_control_mixed_severity: str
    rx_supply_days_basic: int
    rx_supply_days_basic_chronic: int
    rx_supply_days_narcotic: int
    rx_supply_days_narcotic_cancer_hiv: int
    rx_supply_days_psychotropic: int
    rx_supply_days_psychotropic_chronic: int
    rx_supply_days_traditional: int
    rx_cancer_icd10: tuple[str, ...]
    rx_hiv_icd10: tuple[str, ...]
    rx_chronic_diseases_file: str
    rx_controlled_dispense_days: int
    # --- cross-facility checks at submission (docs/rules.md "Across prescriptions")
    rx_overlap_narcotic: str
    rx_overlap_psychotropic: str
    rx_duplicate_therapy: bool
    rx_overlap_claim_seconds: int
    rx_overlap_wait_seconds: float
    overlap_report_page_size: int
    overlap_report_page_max: int
    # --- console (people in browsers: README "Console")
    console_session_idle_seconds: int
    console_session_absolute_seconds: int
    console_password_min_chars: int
    console_page_size: int
    console_dashboard_days: int
    console_dashboard_max_days: int
    console_top: int
    console_dashboard_cache_seconds: float
    # --- drug catalog
    catalog_refresh_seconds: float
    catalog_demo: str
    catalog_search_limit: int
    catalog_import_batch: int
    # --- FHIR face
    fhir_system_base: str
    fhir_page_size: int
    fhir_max_page_size: int
    fhir_search_max_prescriptions: int

    def by_name(self) -> dict[str, Any]:
        """The values by setting name (``TOKEN_TTL_SECONDS``), as the table and the domain
        packages (``schemas.policy.Policy.from_mapping``) name them."""
        return {item.name.upper(): getattr(self, item.name) for item in fields(self)}

    def but(self, **changes: Any) -> Settings:
        """A copy with some values changed (tests, one-off command-line options).

        Raises:
            TypeError: a name that is no setting.
        """
        return replace(self, **changes)
