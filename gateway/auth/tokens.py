"""Access tokens and the short memory of verified pharmacy app-keys.

Tokens are JWTs (HS256 with ``TOKEN_SECRET``) carrying the client id, role and the party's
credential generation (``gen``, see :mod:`gateway.parties.store`), expiring after
``TOKEN_TTL_SECONDS``.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from typing import Any

import jwt

from gateway.parties.model import Party

TOKEN_ALGORITHM = "HS256"
TOKEN_ISSUER = "erx-gateway"


#: verified tokens remembered at most (the memory is emptied when full)
VERIFIED_TOKENS = 10_000


class TokenService:
    """Issues tokens and checks them. A token verified once is remembered with its expiry
    (:data:`VERIFIED_TOKENS` at most), so the HMAC and the claims are not checked again on
    every request of its holder; it stops being accepted at its ``exp`` all the same, and the
    party's status and credential generation are still read on every request
    (:meth:`gateway.auth.service.Authenticator.party_for`)."""

    def __init__(self, *, secret: bytes, ttl_seconds: int) -> None:
        self.secret = secret
        self.ttl_seconds = ttl_seconds
        self._verified: dict[str, tuple[float, tuple[str, int]]] = {}

    def issue(self, party: Party) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": TOKEN_ISSUER, "sub": party.client_id, "role": party.role,
                  "fac": party.facility, "iat": now, "exp": now + self.ttl_seconds,
                  "jti": uuid.uuid4().hex, "gen": party.generation}
        token = jwt.encode(claims, self.secret, algorithm=TOKEN_ALGORITHM)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.ttl_seconds}

    def subject(self, token: str) -> tuple[str, int] | None:
        """The client id and credential generation a valid, unexpired token names, or None
        (a token from before generations counts as generation 0)."""
        remembered = self._verified.get(token)
        if remembered is not None:
            if time.time() < remembered[0]:  # PyJWT: expired when exp <= now
                return remembered[1]
            self._verified.pop(token, None)
            return None
        try:
            claims = jwt.decode(token, self.secret, algorithms=[TOKEN_ALGORITHM],
                                issuer=TOKEN_ISSUER, options={"require": ["exp", "sub", "iat"]})
        except jwt.PyJWTError:
            return None
        subject, generation = claims.get("sub"), claims.get("gen", 0)
        if not isinstance(subject, str) or not isinstance(generation, int) or isinstance(generation, bool):
            return None
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified.clear()
        self._verified[token] = (float(claims["exp"]), (subject, generation))
        return subject, generation


class VerifiedKeys:
    """Recently verified ``app-key`` secrets, so a pharmacy does not pay a hash per request.

    Holds SHA-256 digests only, each with the party's credential generation when it was
    verified; party status and generation are still read on every request, so a rotated
    secret or a disabled party ends a remembered key at once.
    """

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._seen: dict[tuple[str, bytes], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, client_id: str, secret: str) -> int | None:
        """The generation under which this key was verified, while remembered; else None."""
        key = (client_id, hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest())
        with self._lock:
            found = self._seen.get(key)
            if found is not None and found[0] > time.monotonic():
                return found[1]
            self._seen.pop(key, None)
            return None

    def remember(self, client_id: str, secret: str, generation: int) -> None:
        if self.ttl <= 0:
            return
        key = (client_id, hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest())
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = (time.monotonic() + self.ttl, generation)
