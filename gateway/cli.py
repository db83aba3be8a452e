"""The ``erx-gateway`` command line.

Commands that touch the database reach the same one as the running gateway: ``ERX_MONGODB_URI``
if set, else the embedded database ``make run`` started (or, if it is not running, one started
for the duration of the command on the same data directory).
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

import click
from flask import Flask

from gateway import config as settings
from gateway.config import ConfigError


def _echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


@contextlib.contextmanager
def command_app(**overrides: Any) -> Iterator[Flask]:
    """An app (with an app context) wired to the database the running gateway uses."""
    from gateway import create_app
    from gateway.embedded import database_for_command

    values = settings.load()
    with database_for_command(values) as uri:
        app = create_app({"MONGODB_URI": uri, **overrides})
        storage = app.extensions["erx.storage"]
        try:
            if not storage.prepare():
                raise click.ClickException(f"the database at {uri} does not answer")
            with app.app_context():
                yield app
        finally:
            storage.client.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """erx-gateway: national e-prescription interconnection gateway."""


@main.command("config")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]),
              default="table")
def config_command(fmt: str) -> None:
    """Print every setting, its default and the value in force."""
    try:
        rows = settings.describe(settings.load())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if fmt == "json":
        _echo_json(rows)
    elif fmt == "markdown":
        click.echo("| variable | default | meaning |\n|---|---|---|")
        for row in rows:
            click.echo(f"| `{row['variable']}` | `{row['default']}` | {row['doc']} |")
    else:
        for row in rows:
            click.echo(f"{row['variable']}={row['value']}\n    default {row['default']!r}: "
                       f"{row['doc']}")


@main.group()
def parties() -> None:
    """Create and manage parties (clinics, doctors, pharmacies, regulators, admins)."""


@parties.command("create")
@click.option("--role", required=True, type=click.Choice(
    ["clinic", "doctor", "pharmacy", "regulator", "admin"]))
@click.option("--code", required=True, help="facility code (clinic), doctor or pharmacy code")
@click.option("--name", required=True)
@click.option("--facility", help="a doctor's 5-character facility code")
def parties_create(role: str, code: str, name: str, facility: str | None) -> None:
    """Create a party and print its client id and secret (shown once)."""
    from gateway.auth import party_store
    from gateway.parties import PartyError

    with command_app():
        try:
            party, secret = party_store().create(role=role, code=code, name=name,
                                                 facility=facility)
        except PartyError as exc:
            raise click.ClickException(str(exc)) from None
        _echo_json({"client_id": party.client_id, "client_secret": secret})


@parties.command("list")
@click.option("--role")
def parties_list(role: str | None) -> None:
    """List parties (never their secrets)."""
    from gateway.auth import party_store

    with command_app():
        _echo_json([party.public() for party in party_store().list(role)])


def _set_status(client_id: str, status: str) -> None:
    from gateway.auth import party_store
    from gateway.parties import PartyError

    with command_app():
        try:
            _echo_json(party_store().set_status(client_id, status).public())
        except PartyError as exc:
            raise click.ClickException(str(exc)) from None


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
    from gateway.auth import party_store
    from gateway.parties import PartyError

    with command_app():
        try:
            secret = party_store().rotate_secret(client_id)
        except PartyError as exc:
            raise click.ClickException(str(exc)) from None
        _echo_json({"client_id": client_id, "client_secret": secret})


@main.command("run")
def run_command() -> None:
    """Start the embedded database (unless ERX_MONGODB_URI is set), gunicorn and the
    background workers; Ctrl-C stops all of them."""
    from gateway.supervisor import run

    try:
        sys.exit(run(settings.load()))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


if __name__ == "__main__":  # pragma: no cover
    main()
