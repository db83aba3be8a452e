"""``erx-gateway data-key``: the master key of patient-data encryption, and the migration that
encrypts what was stored before it (gateway/core/encryption.py, README "Security")."""

from __future__ import annotations

import json

import click

from gateway.cli.commands import command_app
from gateway.core.encryption import MASTER_KEY_BYTES, generate_master_key
from gateway.web.context import services


@click.group("data-key")
def data_key() -> None:
    """The master key that protects patient data at rest (ERX_DATA_KEY_FILE)."""


@data_key.command("generate")
@click.argument("file", type=click.Path(dir_okay=False))
def generate(file: str) -> None:
    """Write a new 96-byte local master key to FILE (mode 0600); never overwrites a file.

    Point ERX_DATA_KEY_FILE at it and keep a copy offline: without it the encrypted patient
    fields cannot be read.
    """
    try:
        path = generate_master_key(file)
    except FileExistsError:
        raise click.ClickException(f"{file} exists: a master key is never overwritten") from None
    except OSError as exc:
        raise click.ClickException(f"cannot write {file}: {exc.strerror}") from None
    click.echo(json.dumps({"file": str(path), "bytes": MASTER_KEY_BYTES}))


@data_key.command("migrate")
@click.option("--batch", default=500, show_default=True, help="documents per round")
def migrate(batch: int) -> None:
    """Encrypt the patient fields of documents stored before encryption (prescriptions and
    kept idempotent answers). Safe to run again: encrypted documents are left alone."""
    with command_app() as app:
        found = services(app)
        counts = {"prescriptions": found.prescription_store.encrypt_existing(batch),
                  "idempotency": found.idempotency.encrypt_existing(batch)}
        found.audit.record("data.encrypted", details=counts)
    click.echo(json.dumps(counts))
