"""Start-up checks of the settings: every problem at once, each with its remedy.

Production refuses unsafe set-ups (a missing secret, an unencrypted signing key, a registry
reached without TLS, ...). Refusing them one at a time made an operator restart six times to
learn what was missing: :func:`problems` runs every check of the settings and returns every
message, :func:`refuse` raises one :class:`ConfigError` listing them all. The app
(:func:`gateway.create_app`, before it builds any service) and ``erx-gateway run`` (before it
starts anything, with the forwarder's needs too) call it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pymongo import MongoClient
from pymongo.errors import PyMongoError

from gateway.auth.limiter import parse_limit
from gateway.core.config import (
    ConfigError,
    check_embedded_database,
    check_registry_url,
    secret_setting,
)
from gateway.core.encryption import master_key
from gateway.core.settings import Settings
from gateway.prescriptions.reports import check_utc_offset
from gateway.prescriptions.wiring import validation_policy
from gateway.signatures.service import key_policy, prescriber_policy
from signing.key_store import COLLECTION as SIGNING_KEYS
from signing.key_store import unencrypted_active_kid

RANDOM_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
UNENCRYPTED_KEY = ("signing key {kid} is stored unencrypted (made by a development gateway "
                   "without ERX_SIGNING_KEY_PASSPHRASE); production refuses it: set "
                   "ERX_SIGNING_KEY_PASSPHRASE and run `erx-gateway keys rotate` (the new key "
                   "is encrypted, the old one is kept only to verify what it signed)")


def _passphrase(settings: Settings) -> None:
    if settings.env == "production" and not settings.signing_key_passphrase:
        raise ConfigError("ERX_SIGNING_KEY_PASSPHRASE is required in production: it encrypts "
                          "the signing keys (a long random passphrase, e.g. "
                          f"`{RANDOM_SECRET}`; keep it)")


def _registry_required(settings: Settings) -> None:
    if settings.env == "production" and not settings.registry_base_url:
        raise ConfigError("ERX_REGISTRY_BASE_URL is required in production (the national "
                          "registry the forwarder sends to, an https:// URL)")


def _checks(config: Settings, *, forwarding: bool) -> list[Callable[[], Any]]:
    checks: list[Callable[[], Any]] = [
        lambda: secret_setting(config, "TOKEN_SECRET", keep_as="token-secret",
                               production_hint=f"e.g. `{RANDOM_SECRET}`"),
        lambda: secret_setting(
            config, "AUDIT_PATIENT_KEY", keep_as="audit-patient-key",
            production_hint=f"e.g. `{RANDOM_SECRET}`; keep it: changing it makes old events "
                            "unsearchable by patient"),
        lambda: master_key(config),
        lambda: _passphrase(config),
        lambda: key_policy(config),
        lambda: prescriber_policy(config),
        lambda: check_registry_url(config),
        lambda: check_embedded_database(config),
        lambda: check_utc_offset(config.report_utc_offset),
        lambda: parse_limit(config.login_failure_limit),
        lambda: parse_limit(config.login_address_failure_limit, "LOGIN_ADDRESS_FAILURE_LIMIT"),
        lambda: validation_policy(config),
    ]
    if forwarding:
        checks.append(lambda: _registry_required(config))
    return checks


def stored_key_problem(config: Settings, uri: str | None = None) -> str | None:
    """In production, the unencrypted active signing key a development gateway left in the
    database, if any (None also when the database does not answer within two seconds: the
    key is checked again when it is used)."""
    uri = uri or config.mongodb_uri
    if config.env != "production" or not uri:
        return None
    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=2000)
    try:
        kid = unencrypted_active_kid(client[config.db_name][SIGNING_KEYS])
    except PyMongoError:
        return None
    finally:
        client.close()
    if kid is not None:
        return UNENCRYPTED_KEY.format(kid=kid)
    return None


def problems(config: Settings, *, forwarding: bool = False,
             uri: str | None = None) -> list[str]:
    """Every problem of the settings (and, in production, of the stored signing key), in
    order; ``forwarding``: also what the forwarder needs."""
    found = []
    for check in _checks(config, forwarding=forwarding):
        try:
            check()
        except ConfigError as exc:
            found.append(str(exc))
    stored = stored_key_problem(config, uri)
    if stored:
        found.append(stored)
    return found


def refuse(found: list[str]) -> None:
    """Raise one ConfigError naming every problem (nothing when there is none)."""
    if len(found) == 1:
        raise ConfigError(found[0])
    if found:
        raise ConfigError(f"{len(found)} settings prevent the start; fix them all, then start "
                          "again:\n" + "\n".join(f"  - {problem}" for problem in found))
