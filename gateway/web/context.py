"""The typed container of this app's services, reached from inside a request.

The composition root (:func:`gateway.create_app`) builds one :class:`gateway.container.Services`
per app and keeps it under :data:`EXTENSION_KEY`; views call :func:`services`. The container's
class is imported for type checking only: at run time this module imports nothing above the
core, so the capability packages that call it keep their place in the import order.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, current_app

if TYPE_CHECKING:  # pragma: no cover - types only
    from gateway.container import Services

EXTENSION_KEY = "erx"


def services(app: Flask | None = None) -> Services:
    """The services of ``app`` (default: the current app)."""
    return (app or current_app).extensions[EXTENSION_KEY]
