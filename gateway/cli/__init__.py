"""The ``erx-gateway`` command line (part of the composition root)."""

from gateway.cli import users as _users  # noqa: F401  (registers `erx-gateway users`)
from gateway.cli.commands import main

__all__ = ["main"]
