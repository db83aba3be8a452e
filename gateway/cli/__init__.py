"""The ``erx-gateway`` command line (part of the composition root): the commands of
:mod:`gateway.cli.commands`, and the command groups kept in their own modules, added here by
name (no module adds itself to the command line when imported)."""

from gateway.cli.commands import main
from gateway.cli.data_keys import data_key
from gateway.cli.users import users

main.add_command(data_key)
main.add_command(users)

__all__ = ["main"]
