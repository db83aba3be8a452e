"""``erx-gateway users``: the people who work in the console, each acting as one party.

Passwords are generated, printed once as JSON and stored only as Argon2id hashes. Every
change is an audit event (actor ``cli``, object the user).
"""

from __future__ import annotations

import json
from typing import Any

import click

from gateway.auth.users import UserError
from gateway.cli.commands import command_app
from gateway.container import Services
from gateway.web.context import services


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, default=str))


@click.group()
def users() -> None:
    """People who use the console: a pharmacy's pharmacists, a clinic's staff, a regulator's
    inspectors (each acts as their party, with its role)."""


def _audit(found: Services, action: str, username: str,
           details: dict[str, Any] | None = None) -> None:
    found.audit.record(action, object_type="user", object_id=username, details=details)


@users.command("create")
@click.option("--party", "party_id", required=True, metavar="CLIENT_ID",
              help="the party the person acts as (e.g. pharmacy-NT0001)")
@click.option("--username", required=True,
              help="3-64 letters, digits, '.', '_', '-' or '@' (stored in lower case)")
def users_create(party_id: str, username: str) -> None:
    """Create a user and print its username and password (shown once)."""
    with command_app() as app:
        found = services(app)
        party = found.parties.get(party_id)
        if party is None:
            raise click.ClickException(f"no party {party_id}")
        try:
            user, password = found.users.create(party_id=party.client_id, role=party.role,
                                                username=username)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
        _audit(found, "user.created", user.username, {"party": party.client_id})
        echo_json({"username": user.username, "password": password})


@users.command("list")
@click.option("--party", "party_id", metavar="CLIENT_ID", help="only this party's users")
def users_list(party_id: str | None) -> None:
    """List users (never their passwords); ``active`` is false when the user or its party
    is disabled."""
    with command_app() as app:
        found = services(app)
        listed = []
        for user in found.users.list(party_id):
            party = found.parties.get(user.party_id)
            listed.append({**user.public(), "role": party.role if party else None,
                           "active": user.active and party is not None and party.active})
        echo_json(listed)


def _set_status(username: str, status: str) -> None:
    with command_app() as app:
        found = services(app)
        try:
            user = found.users.set_status(username, status)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
        if status == "disabled":
            found.console_login.sessions.end_user(user.username)
        _audit(found, "user.disabled" if status == "disabled" else "user.enabled", user.username)
        echo_json(user.public())


@users.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable a user: their console sessions end at once."""
    _set_status(username, "disabled")


@users.command("enable")
@click.argument("username")
def users_enable(username: str) -> None:
    """Enable a disabled user again."""
    _set_status(username, "active")


@users.command("reset-password")
@click.argument("username")
def users_reset_password(username: str) -> None:
    """Give a user a new password (printed once); their sessions end."""
    with command_app() as app:
        found = services(app)
        try:
            user = found.users.get(username)
            if user is None:
                raise click.ClickException(f"no user {username}")
            password = found.users.reset_password(user.username)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
        found.console_login.sessions.end_user(user.username)
        _audit(found, "user.password_changed", user.username, {"by": "cli"})
        echo_json({"username": user.username, "password": password})
