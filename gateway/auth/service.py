"""Authentication: a presented secret or token becomes a party, or an error.

Every way of presenting a secret (the token endpoint, the national logins, a pharmacy's
``app-key``) goes through :meth:`Authenticator.authenticate_secret`, so the brute-force limit
of :mod:`gateway.auth.limiter` covers all of them.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.auth.limiter import LoginLimiter
from gateway.auth.tokens import TokenService, VerifiedKeys
from gateway.core.errors import Malformed, Unauthenticated
from gateway.parties.model import Party, Role
from gateway.parties.store import PartyStore


class Authenticator:
    def __init__(self, *, parties: PartyStore, tokens: TokenService, limiter: LoginLimiter,
                 app_keys: VerifiedKeys) -> None:
        self.parties = parties
        self.tokens = tokens
        self.limiter = limiter
        self.app_keys = app_keys

    def authenticate_secret(self, client_id: str, secret: str, address: str) -> Party | None:
        """The active party whose secret this is, or None.

        Raises:
            gateway.core.errors.RateLimited: past ``LOGIN_FAILURE_LIMIT`` failures for this
                client id and address.
        """
        self.limiter.check(client_id, address)
        party = self.parties.authenticate(client_id, secret)
        if party is None:
            self.limiter.failed(client_id, address)
        return party

    def party_for(self, headers: Mapping[str, str], address: str, *,
                  fresh: bool = False) -> Party:
        """The active party the request's credentials name: ``Authorization: Bearer`` or the
        national ``app-name`` / ``app-key`` headers (a pharmacy's only). ``fresh``: read the
        party from the database rather than the cache (changes to parties do, so that a
        revocation has no window).

        Raises:
            gateway.core.errors.Malformed: a bearer token and an app-key together.
            gateway.core.errors.Unauthenticated: no, malformed or invalid credentials, a
                disabled party, or an app-key of a party that is not a pharmacy.
            gateway.core.errors.RateLimited: see :meth:`authenticate_secret`.
        """
        read = self.parties.fresh if fresh else self.parties.get
        header = headers.get("Authorization", "")
        if header and "app-key" in headers:
            raise Malformed("send either Authorization: Bearer or app-name/app-key, not both")
        if header:
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthenticated("use Authorization: Bearer <token>")
            subject = self.tokens.subject(token.strip())
            if subject is None:
                raise Unauthenticated("the token is invalid or expired")
            client_id, generation = subject
            party = read(client_id)
            if party is not None and party.generation != generation:
                raise Unauthenticated("the token was issued before the party's credentials "
                                      "changed (secret rotated, party disabled or enabled)")
        elif "app-name" in headers and "app-key" in headers:
            client_id, secret = headers["app-name"], headers["app-key"]
            if not client_id.startswith("pharmacy-"):
                raise Unauthenticated("app-name and app-key authenticate pharmacies only: "
                                      "other parties send a bearer token")
            remembered = self.app_keys.hit(client_id, secret)
            party = read(client_id) if remembered is not None else None
            if party is None or party.generation != remembered:
                party = self.authenticate_secret(client_id, secret, address)
                if party is not None:
                    self.app_keys.remember(client_id, secret, party.generation)
            if party is not None and party.role != Role.PHARMACY:
                raise Unauthenticated("app-name and app-key authenticate pharmacies only: "
                                      "other parties send a bearer token")
        else:
            raise Unauthenticated("no credentials: send a bearer token")
        if party is None or not party.active:
            raise Unauthenticated("the party is unknown or disabled")
        return party
