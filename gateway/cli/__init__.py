"""The ``erx-gateway`` command line (part of the composition root)."""

from gateway.cli.commands import main

__all__ = ["main"]
