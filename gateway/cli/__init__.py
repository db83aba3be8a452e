"""The ``erx-gateway`` command line (part of the composition root): the commands of
:mod:`gateway.cli.commands`, with the command groups kept in their own modules added here."""

from gateway.cli import users as _users  # noqa: F401  (registers `erx-gateway users`)
from gateway.cli.commands import main
from gateway.cli.data_keys import data_key

main.add_command(data_key)

__all__ = ["main"]
