"""Access tokens and the short memory of verified pharmacy app-keys.

Tokens are JWTs (HS256 with ``TOKEN_SECRET``) carrying the client id and role, expiring after
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


class TokenService:
    def __init__(self, *, secret: bytes, ttl_seconds: int) -> None:
        self.secret = secret
        self.ttl_seconds = ttl_seconds

    def issue(self, party: Party) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": TOKEN_ISSUER, "sub": party.client_id, "role": party.role,
                  "fac": party.facility, "iat": now, "exp": now + self.ttl_seconds,
                  "jti": uuid.uuid4().hex}
        token = jwt.encode(claims, self.secret, algorithm=TOKEN_ALGORITHM)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.ttl_seconds}

    def client_id(self, token: str) -> str | None:
        """The client id a valid, unexpired token names, or None."""
        try:
            claims = jwt.decode(token, self.secret, algorithms=[TOKEN_ALGORITHM],
                                issuer=TOKEN_ISSUER, options={"require": ["exp", "sub", "iat"]})
        except jwt.PyJWTError:
            return None
        subject = claims.get("sub")
        return subject if isinstance(subject, str) else None


class VerifiedKeys:
    """Recently verified ``app-key`` secrets, so a pharmacy does not pay Argon2 per request.

    Holds SHA-256 digests only; party status is still read on every request.
    """

    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._seen: dict[tuple[str, bytes], float] = {}
        self._lock = threading.Lock()

    def hit(self, client_id: str, secret: str) -> bool:
        key = (client_id, hashlib.sha256(secret.encode()).digest())
        with self._lock:
            expiry = self._seen.get(key)
            if expiry is not None and expiry > time.monotonic():
                return True
            self._seen.pop(key, None)
            return False

    def remember(self, client_id: str, secret: str) -> None:
        if self.ttl <= 0:
            return
        key = (client_id, hashlib.sha256(secret.encode()).digest())
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen.clear()
            self._seen[key] = time.monotonic() + self.ttl
