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


def current_party(*, fresh: bool = False) -> Party:
    """The authenticated party of this request; ``fresh``: its credentials checked against the
    database rather than the party cache (no revocation window).

    Raises:
        gateway.core.errors.Unauthenticated: no valid credentials, or a disabled party.
        gateway.core.errors.Malformed: a bearer token and an app-key together.
    """
    party = g.get("party")
    if party is not None and (not fresh or g.get("party_fresh")):
        return party
    # Werkzeug's Headers: a mapping with case-insensitive names, though not a Mapping subclass.
    party = services().authenticator.party_for(cast(Mapping[str, str], request.headers),
                                               client_address(), fresh=fresh)
    g.party, g.party_fresh = party, fresh
    return party


def requires(*roles: str, fresh: bool = False,
             refused: Callable[[Party, Forbidden], None] | None = None) -> Callable[[F], F]:
    """View decorator: the request must come from an active party with one of ``roles``
    (any role when none are named); 401 without valid credentials, 403 for another role.
    ``fresh``: the credentials are checked against the database, not the party cache;
    ``refused(party, error)`` is told of a 403 before it is answered (to audit it)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            party = current_party(fresh=fresh)
            if roles and party.role not in roles:
                error = Forbidden(f"this needs the role {' or '.join(roles)}; "
                                  f"the token is a {party.role}'s")
                if refused is not None:
                    refused(party, error)
                raise error
            return view(*args, **kwargs)

        # The OpenAPI document says who may call (gateway.web.openapi adds the 401 and 403).
        documented = dict(getattr(wrapper, "_apidoc", {}))
        documented["manual_doc"] = {**documented.get("manual_doc", {}), "x-roles": list(roles)}
        wrapper.__dict__["_apidoc"] = documented
        return cast(F, wrapper)

    return decorator
