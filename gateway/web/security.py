"""Who is calling: the authenticated party of a request, and the role decorator of views.

Credentials are checked by the authenticator the composition root put in the services
(:class:`gateway.auth.service.Authenticator`): a bearer token, or a pharmacy's national
``app-name`` / ``app-key`` headers. The party is read again on every request, so disabling it
takes effect at once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request

from gateway.core.errors import Forbidden
from gateway.parties.model import Party
from gateway.web.context import services
from gateway.web.http import client_address

F = TypeVar("F", bound=Callable[..., Any])


def current_party() -> Party:
    """The authenticated party of this request.

    Raises:
        gateway.core.errors.Unauthenticated: no valid credentials, or a disabled party.
    """
    party = g.get("party")
    if party is not None:
        return party
    # Werkzeug's Headers: a mapping with case-insensitive names, though not a Mapping subclass.
    party = services().authenticator.party_for(cast(Mapping[str, str], request.headers),
                                               client_address())
    g.party = party
    return party


def requires(*roles: str) -> Callable[[F], F]:
    """View decorator: the request must come from an active party with one of ``roles``
    (any role when none are named); 401 without valid credentials, 403 for another role."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            party = current_party()
            if roles and party.role not in roles:
                raise Forbidden(f"this needs the role {' or '.join(roles)}; "
                                f"the token is a {party.role}'s")
            return view(*args, **kwargs)

        # The OpenAPI document says who may call (gateway.web.openapi adds the 401 and 403).
        documented = dict(getattr(wrapper, "_apidoc", {}))
        documented["manual_doc"] = {**documented.get("manual_doc", {}), "x-roles": list(roles)}
        wrapper._apidoc = documented  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
