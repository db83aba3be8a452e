"""The ``erx-gateway`` command line.

Commands that touch the database reach the same one as the running gateway: ``ERX_MONGODB_URI``
if set, else the embedded database ``make run`` started (or, if it is not running, one started
for the duration of the command on the same data directory).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from flask import Flask

from drug_catalog.errors import CatalogError
from gateway import create_app
from gateway.audit import verify as verifier
from gateway.audit.log import content_digest
from gateway.audit.tree import PeriodicSealer
from gateway.container import Services, bootstrap, build_forwarder
from gateway.core import config as settings
from gateway.core.config import ConfigError
from gateway.core.settings import Settings
from gateway.forwarding import simulator as registry_simulator
from gateway.forwarding.worker import forwarder_argv
from gateway.parties.model import ROLES, PartyError, PartyExists, client_id_for
from gateway.runtime import preflight, supervisor
from gateway.runtime.embedded import database_for_command
from gateway.signatures.offline import load_jwks, verify_saved
from gateway.signatures.qr import UNREADABLE, offline_verdict
from gateway.web.context import services
from signing.errors import KeyStoreError, SigningError
from signing.jws import verify_detached
from signing.merkle import MerkleError


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


@contextlib.contextmanager
def command_app(**overrides: Any) -> Iterator[Flask]:
    """An app (with an app context) wired to the database the running gateway uses."""
    # Run beside `make run` from another terminal, act in the running gateway's mode and on its
    # database unless ERX_* says otherwise (make run is development; a bare shell would be
    # production; another instance may use other ports).
    adopted, running = supervisor.adopted_settings(settings.load(), os.environ)
    configured = settings.load(adopted)
    with database_for_command(configured) as uri:
        _say_instance(configured, uri, running)
        app = create_app({**adopted, "MONGODB_URI": uri, **overrides}, start=False)
        try:
            if not services(app).storage.prepare():
                raise click.ClickException(f"the database at {uri} does not answer")
            with app.app_context():
                yield app
        finally:
            services(app).close()


def _say_instance(configured: Settings, uri: str, running: dict[str, Any]) -> None:
    """Which instance this command acts on, on standard error (standard output stays the
    command's answer)."""
    database = "ERX_MONGODB_URI" if configured.mongodb_uri else uri  # a URI may hold a password
    if running:
        where = (f"the gateway of {configured.var_dir} (pid {running['pid']}, "
                 f"{running.get('url', '?')}), database {database}")
    else:
        where = f"database {database} (no gateway of {configured.var_dir} is running)"
    click.echo(f"erx-gateway: acting on {where}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """erx-gateway: national e-prescription interconnection gateway."""


@main.command("config")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]),
              default="table")
def config_command(fmt: str) -> None:
    """Print every setting, its default and the value in force: that of the gateway running
    beside it (same ERX_VAR_DIR) where ERX_* does not say otherwise."""
    try:
        adopted, running = supervisor.adopted_settings(settings.load(), os.environ)
        values = settings.load(adopted)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    rows = settings.describe(values)
    for row in rows:
        name = row["variable"].removeprefix("ERX_")
        row["source"] = ("running gateway" if name in adopted else
                         "environment" if row["variable"] in os.environ else "default")
    if running:
        click.echo(f"erx-gateway: the settings of the gateway of {values.var_dir} (pid "
                   f"{running['pid']}, {running.get('url', '?')}); ERX_* set here win", err=True)
    else:
        click.echo(f"erx-gateway: the settings of this environment (no gateway of "
                   f"{values.var_dir} is running)", err=True)
    if fmt == "json":
        _echo_json(rows)
    elif fmt == "markdown":
        click.echo("| variable | default | meaning |\n|---|---|---|")
        for row in rows:
            click.echo(f"| `{row['variable']}` | `{row['default']}` | {row['doc']} |")
    else:
        for row in rows:
            click.echo(f"{row['variable']}={row['value']}  ({row['source']})\n"
                       f"    default {row['default']!r}: {row['doc']}")


@main.group()
def parties() -> None:
    """Create and manage parties (clinics, doctors, pharmacies, regulators, admins)."""


@parties.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--code", required=True, help="facility code (clinic), doctor or pharmacy code")
@click.option("--name", required=True)
@click.option("--facility", help="a doctor's 5-character facility code")
@click.option("--address", help="postal address (a pharmacy's is in its national dispense reports)")
@click.option("--phone", help="phone number, national format (0 or +84, then 9 or 10 digits)")
@click.option("--rotate-if-exists", is_flag=True,
              help="if this role and code exist already: give the party the name, address and "
                   "phone given here and a new secret (printed; the old one stops working)")
def parties_create(role: str, code: str, name: str, facility: str | None, address: str | None,
                   phone: str | None, rotate_if_exists: bool) -> None:
    """Create a party and print its client id and secret (shown once)."""
    with command_app() as app:
        registry = services(app).parties
        try:
            party, secret = registry.create(role=role, code=code, name=name, facility=facility,
                                            address=address, phone=phone)
        except PartyExists as exc:
            if not rotate_if_exists:
                raise click.ClickException(f"{exc} (--rotate-if-exists gives it a new "
                                           "secret instead)") from None
            client_id = client_id_for(role, code, facility)
            try:
                registry.update(client_id, name=name, address=address, phone=phone)
                secret = registry.rotate_secret(client_id)
            except PartyError as error:
                raise click.ClickException(str(error)) from None
            _audit_party(app, "party.updated", client_id, {"fields": sorted(
                k for k, v in (("name", name), ("address", address), ("phone", phone)) if v)})
            _audit_party(app, "party.secret_rotated", client_id)
            click.echo(f"erx-gateway: {client_id} existed: new secret, the old one no longer "
                       "works", err=True)
            _echo_json({"client_id": client_id, "client_secret": secret})
            return
        except PartyError as exc:
            raise click.ClickException(str(exc)) from None
        _audit_party(app, "party.created", party.client_id, {"role": role})
        _echo_json({"client_id": party.client_id, "client_secret": secret})


@parties.command("update")
@click.argument("client_id")
@click.option("--name")
@click.option("--address")
@click.option("--phone")
def parties_update(client_id: str, name: str | None, address: str | None, phone: str | None) -> None:
    """Change a party's name, address or phone."""
    with command_app() as app:
        try:
            party = services(app).parties.update(client_id, name=name, address=address, phone=phone)
        except PartyError as exc:
            raise click.ClickException(str(exc)) from None
        _audit_party(app, "party.updated", client_id,
                     {"fields": sorted(k for k, v in (("name", name), ("address", address),
                                                       ("phone", phone)) if v is not None)})
        _echo_json(party.public())


@parties.command("list")
@click.option("--role")
def parties_list(role: str | None) -> None:
    """List parties (never their secrets)."""
    with command_app() as app:
        _echo_json([party.public() for party in services(app).parties.list(role)])


def _set_status(client_id: str, status: str) -> None:
    with command_app() as app:
        try:
            _echo_json(services(app).parties.set_status(client_id, status).public())
        except PartyError as exc:
            raise click.ClickException(str(exc)) from None
        _audit_party(app, "party.disabled" if status == "disabled" else "party.enabled",
                     client_id)


@parties.command("disable")
@click.argument("client_id")
def parties_disable(client_id: str) -> None:
    """Disable a party: its tokens stop working at once."""
    _set_status(client_id, "disabled")


@parties.command("enable")
@click.argument("client_id")
def parties_enable(client_id: str) -> None:
    """Enable a disabled party again."""
    _set_status(client_id, "active")


@parties.command("rotate-secret")
@click.argument("client_id")
def parties_rotate_secret(client_id: str) -> None:
    """Give a party a new secret (printed once); the old one stops working."""
    with command_app() as app:
        try:
            secret = services(app).parties.rotate_secret(client_id)
        except PartyError as exc:
            raise click.ClickException(str(exc)) from None
        _audit_party(app, "party.secret_rotated", client_id)
        _echo_json({"client_id": client_id, "client_secret": secret})


@main.group()
def keys() -> None:
    """Manage the gateway's signing keys (PKCS#8, encrypted with ERX_SIGNING_KEY_PASSPHRASE)."""


def _with_key_store(action: Any) -> Any:
    try:
        with command_app() as app:
            return action(services(app))
    except (ConfigError, KeyStoreError) as exc:
        raise click.ClickException(str(exc)) from None


_ALG_OPTION = click.option("--alg", type=click.Choice(["EdDSA", "ES256"]),
                           help="key algorithm (default: ERX_SIGNING_ALG)")


@keys.command("generate")
@_ALG_OPTION
def keys_generate(alg: str | None) -> None:
    """Generate the first signing key (refused when one is active: use `keys rotate`)."""
    _echo_json(_with_key_store(lambda found: _audit_key(
        found, "key.generated", found.signatures.key_store.generate(alg=alg)).public()))


@keys.command("rotate")
@_ALG_OPTION
def keys_rotate(alg: str | None) -> None:
    """Make a new active signing key; older keys are retired but stay in the JWKS."""
    _echo_json(_with_key_store(lambda found: _audit_key(
        found, "key.rotated", found.signatures.key_store.rotate(alg=alg)).public()))


@keys.command("list")
def keys_list() -> None:
    """List the signing keys (kid, alg, state, dates; never the private keys)."""
    _echo_json(_with_key_store(lambda found: [record.public() for record
                                              in found.signatures.key_store.records()]))


@main.command("verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--jwks", "jwks_source", required=True, metavar="FILE_OR_URL",
              help="the gateway's JWK Set: a saved /.well-known/jwks.json or its URL")
def verify_command(file: str, jwks_source: str) -> None:
    """Verify a saved prescription resource's gateway signature offline.

    Exit status 0: valid; 1: invalid (the reason is printed); 2: unreadable input.
    """
    try:
        timeout = settings.load().jwks_fetch_timeout_seconds
        with open(file, encoding="utf-8") as handle:
            resource = json.load(handle)
        if not isinstance(resource, dict):
            raise ValueError(f"{file} is not a JSON object")
        result = verify_saved(resource, load_jwks(jwks_source, timeout=timeout))
    except (OSError, ValueError, ConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    _echo_json(result)
    sys.exit(0 if result["valid"] else 1)


@main.command("verify-qr")
@click.argument("text")
@click.option("--jwks", "jwks_source", required=True, metavar="FILE_OR_URL",
              help="the gateway's JWK Set: a saved /.well-known/jwks.json or its URL")
def verify_qr_command(text: str, jwks_source: str) -> None:
    """Check the QR code of a printed prescription offline: TEXT is what the scanner read
    ('-' reads it from standard input). Prints the prescription code and the reason.

    Exit status 0: genuine (the gateway signed this code and content hash); 1: invalid or
    altered (unknown key, bad signature, not a prescription QR); 2: unreadable (TEXT is not a
    compact JWS at all, or the key set cannot be read).
    """
    try:
        configured = settings.load()
        if text == "-":
            text = sys.stdin.read()
        key_set = load_jwks(jwks_source, timeout=configured.jwks_fetch_timeout_seconds)
    except (OSError, ValueError, ConfigError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    result = offline_verdict(text, key_set)
    if result["iat"] is not None:
        result["printed_at"] = datetime.fromtimestamp(result["iat"], ZoneInfo(configured.timezone)).isoformat()
    _echo_json(result)
    sys.exit(0 if result["valid"] else 2 if result["reason"] == UNREADABLE else 1)


@main.command("forwarder")
@click.option("--concurrency", type=int, help="override ERX_FORWARDER_CONCURRENCY")
@click.option("--partition", help="override ERX_FORWARDER_PARTITION (k/n)")
def forwarder_command(concurrency: int | None, partition: str | None) -> None:
    """Send pending deliveries to the national registry and pharmacies until SIGTERM or
    Ctrl-C (any number may run at once)."""
    overrides: dict[str, Any] = {"FORWARDER_PARTITION": partition} if partition else {}
    with command_app(**overrides) as app:
        found = services(app)
        try:
            policy: dict[str, Any] = {"concurrency": concurrency} if concurrency else {}
            forwarder = build_forwarder(found, **policy)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        found.start(catalog=False)  # the change feed: parties, keys, webhooks, new work
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: forwarder.stop())
        sealer = PeriodicSealer(found.sealer)  # the forwarder process also seals the log
        sealer.start()
        forwarder.run()
        sealer.stop()


def _audit_party(app: Flask, action: str, client_id: str,
                 details: dict[str, Any] | None = None) -> None:
    services(app).audit.record(action, object_type="party", object_id=client_id,
                               details=details)


def _audit_key(found: Services, action: str, key: Any) -> Any:
    found.audit.record(action, object_type="key", object_id=key.kid, details={"alg": key.alg})
    return key


def _audit_catalog_import(app: Flask, file: str, report: Any) -> None:
    services(app).audit.record(
        "catalog.imported", object_type="catalog", object_id=Path(file).name,
        content_sha256=content_digest(Path(file).read_bytes()),
           details={"added": report.added, "updated": report.updated,
                    "unchanged": report.unchanged, "rejected": len(report.rejected)})


@main.group()
def audit() -> None:
    """The regulators' audit log: seal it into the Merkle tree, verify an export."""


@audit.command("seal")
def audit_seal() -> None:
    """Append new audit events to the Merkle tree, sign a tree head and print it."""
    with command_app() as app:
        try:
            _echo_json(services(app).sealer.seal().to_json())
        except (SigningError, MerkleError) as exc:
            raise click.ClickException(f"cannot seal the audit log: {exc}") from None


@audit.command("verify")
@click.option("--from", "source", required=True, metavar="URL_OR_FILE",
              help="an NDJSON export file, or the gateway's URL (its base or "
                   "/v2/audit/events)")
@click.option("--gateway", metavar="URL",
              help="the gateway giving tree heads and proofs (default: --from if a URL)")
@click.option("--token", envvar="ERX_AUDIT_TOKEN", metavar="TOKEN",
              help="a regulator's bearer token (or ERX_AUDIT_TOKEN)")
@click.option("--jwks", "jwks_source", metavar="FILE_OR_URL",
              help="the gateway's key set, best a copy saved earlier (default: the "
                   "gateway's /.well-known/jwks.json)")
@click.option("--tree-head", "saved_heads", multiple=True, metavar="FILE",
              help="a tree head saved earlier; it must be consistent with the current one")
def audit_verify(source: str, gateway: str | None, token: str | None,
                 jwks_source: str | None, saved_heads: tuple[str, ...]) -> None:
    """Recompute the audit Merkle tree from exported events and check it against the signed
    tree head; name the first event that does not match.

    Exit status 0: the log matches; 1: it does not (the first bad event is printed);
    2: the inputs cannot be read.
    """
    is_url = source.startswith(("http://", "https://"))
    base = gateway or (verifier.gateway_base(source) if is_url else None)
    try:
        if base is None:
            raise ValueError("give --gateway URL: a file alone carries no signed tree head")
        if not token:
            raise ValueError("give --token (or ERX_AUDIT_TOKEN): a regulator's bearer token")
        remote = verifier.HttpSource(verifier.gateway_base(base), token=token)
        jwks = (load_jwks(jwks_source, timeout=30.0) if jwks_source else remote.jwks())
        heads = verifier.load_heads(saved_heads)
        if is_url:
            report = verifier.verify_log(remote.events(), remote, jwks,
                                         verify_signature=verify_detached, known_heads=heads)
        else:
            with open(source, encoding="utf-8") as handle:
                report = verifier.verify_log(verifier.read_export(handle), remote, jwks,
                                             verify_signature=verify_detached,
                                             known_heads=heads)
    except (OSError, ValueError, KeyError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    _echo_json(report.to_json())
    sys.exit(0 if report.ok else 1)


@main.group()
def catalog() -> None:
    """The drug catalog: import the registry or an ndjson file."""


@catalog.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["dav-csv", "ndjson"]),
              help="default: from the extension (.csv: dav-csv, .ndjson/.jsonl: ndjson)")
def catalog_import(file: str, fmt: str | None) -> None:
    """Upsert products from FILE by national code; print added/updated/unchanged/rejected
    counts and each rejected line with its reason (exit status 1 if any row was rejected;
    the good rows are loaded anyway)."""
    with command_app() as app:
        try:
            report = services(app).catalog.import_catalog(file, fmt)
        except CatalogError as exc:
            raise click.ClickException(str(exc)) from None
        _audit_catalog_import(app, file, report)
    click.echo(report.summary())
    if report.rejected:
        sys.exit(1)


@main.command("registry-sim")
@click.option("--port", type=int, default=0, show_default=True, help="0: a free port")
@click.option("--facility-code", default="79001", show_default=True,
              help="the facility login it accepts (ERX_REGISTRY_FACILITY_CODE)")
@click.option("--password", default="registry-pass", show_default=True,
              help="its password (ERX_REGISTRY_PASSWORD)")
@click.option("--failure-rate", type=float, default=0.0, show_default=True,
              help="fraction of calls that fail at random (500, dropped connections)")
@click.option("--lenient", is_flag=True, help="accept messages that do not conform")
def registry_sim_command(port: int, facility_code: str, password: str, failure_rate: float,
                         lenient: bool) -> None:
    """Run a strict national-registry simulator on loopback until Ctrl-C: it checks every
    message against the national interface and answers as the national system does."""
    registry_simulator.serve(port=port, facility_code=facility_code, password=password,
                             failure_rate=failure_rate, strict=not lenient)


@main.command("run")
def run_command() -> None:
    """Start the embedded database (unless ERX_MONGODB_URI is set), gunicorn and the
    background workers; Ctrl-C stops all of them."""
    configured = settings.load()
    try:
        # Every missing or unsafe setting at once, before anything starts.
        preflight.refuse(preflight.problems(configured, forwarding=True))
        sys.exit(supervisor.run(configured, prepare=lambda uri: _prepare(uri),
                                workers=[forwarder_argv()]))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _prepare(uri: str) -> bool:
    """First-run preparation of ``erx-gateway run``: indexes and the bootstrap steps."""
    app = create_app({"MONGODB_URI": uri})
    found = services(app)
    try:
        if not found.storage.prepare():
            return False
        with app.app_context():
            for message in bootstrap(found):
                supervisor.say(message)
        return True
    finally:
        found.close()
