"""People's sessions in the console: login, resume, logout, password change (no HTTP here).

A session is a random 256-bit id held by the browser (in the signed, HttpOnly session
cookie); the ``console_sessions`` collection (:mod:`gateway.auth.session_store`) keeps its
SHA-256, never the id, with the user, the party, the login time and the last request's time.
A session ends at logout, after ``CONSOLE_SESSION_IDLE_SECONDS`` without a request,
``CONSOLE_SESSION_ABSOLUTE_SECONDS`` after its login, when its user or party is disabled (both
are read again on every request), and when the user's password changes (the other sessions).
Expired records are removed by a TTL index at their absolute end, and by
:meth:`ConsoleLogin.resume` as soon as they are seen.

Failed logins and failed current-password checks count against the same brute-force limit as
the API's secrets (:class:`gateway.auth.limiter.LoginLimiter`), keyed ``user:<username>``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gateway.auth.limiter import LoginLimiter
from gateway.auth.session_store import SessionStore
from gateway.auth.user_store import UserStore
from gateway.auth.users import PASSWORD_MAX_CHARS, User
from gateway.core.errors import Invalid, error_item
from gateway.core.settings import Settings
from gateway.parties.model import Party
from gateway.parties.store import PartyStore


def limiter_key(username: str) -> str:
    """The login limiter's key of a username (never the same as a party's client id)."""
    return f"user:{username.strip().lower()[:128]}"


@dataclass(frozen=True)
class SessionPolicy:
    idle: timedelta
    absolute: timedelta
    password_min_chars: int

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionPolicy:
        return cls(idle=timedelta(seconds=settings.console_session_idle_seconds),
                   absolute=timedelta(seconds=settings.console_session_absolute_seconds),
                   password_min_chars=settings.console_password_min_chars)


@dataclass(frozen=True)
class Signed:
    """Who a console session is: the person and the party they act as."""

    user: User
    party: Party
    session_id: str


class ConsoleLogin:
    """Login, session resumption, logout and password changes of console users."""

    def __init__(self, *, users: UserStore, parties: PartyStore, sessions: SessionStore,
                 limiter: LoginLimiter, policy: SessionPolicy,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.users = users
        self.parties = parties
        self.sessions = sessions
        self.limiter = limiter
        self.policy = policy
        self.clock = clock

    def login(self, username: str, password: str, address: str) -> Signed | None:
        """A new session for the person whose password this is, or None (wrong username or
        password, disabled user or disabled party: the answer does not say which).

        Raises:
            gateway.core.errors.RateLimited: past ``LOGIN_FAILURE_LIMIT`` failures for this
                username and address.
        """
        key = limiter_key(username)
        self.limiter.check(key, address)
        user = self.users.authenticate(username, password)
        party = self.parties.get(user.party_id) if user is not None else None
        if user is None or party is None or not party.active:
            self.limiter.failed(key, address)
            return None
        session_id = self.sessions.create(user, now=self.clock(), absolute=self.policy.absolute,
                                          address=address)
        return Signed(user=user, party=party, session_id=session_id)

    def resume(self, session_id: str | None) -> Signed | None:
        """The person of a live session, or None; a session past its idle or absolute
        timeout, or whose user or party was disabled, is ended here."""
        if not isinstance(session_id, str) or not session_id:
            return None
        record = self.sessions.get(session_id)
        if record is None:
            return None
        now = self.clock()
        if (now - _utc(record["seen_at"]) > self.policy.idle
                or now - _utc(record["created_at"]) > self.policy.absolute):
            self.sessions.end(session_id)
            return None
        user = self.users.get(record["username"])
        party = self.parties.get(record["party_id"]) if user is not None else None
        if user is None or not user.active or party is None or not party.active \
                or user.party_id != party.client_id:
            self.sessions.end(session_id)
            return None
        self.sessions.touch(session_id, now)
        return Signed(user=user, party=party, session_id=session_id)

    def logout(self, session_id: str | None) -> None:
        if isinstance(session_id, str) and session_id:
            self.sessions.end(session_id)

    def change_password(self, signed: Signed, *, current: str, new: str, confirm: str,
                        address: str) -> None:
        """Change the signed-in person's password; their other sessions end.

        Raises:
            gateway.core.errors.Invalid: every problem, by form field (``/current_password``,
                ``/new_password``, ``/confirm_password``), with a Vietnamese message.
            gateway.core.errors.RateLimited: too many wrong current passwords.
        """
        key = limiter_key(signed.user.username)
        self.limiter.check(key, address)
        errors = []
        minimum = self.policy.password_min_chars
        if len(new) < minimum:
            errors.append(error_item("/new_password", "user.password_short",
                                     f"Mật khẩu mới cần ít nhất {minimum} ký tự"))
        elif len(new) > PASSWORD_MAX_CHARS:
            errors.append(error_item("/new_password", "user.password_long",
                                     f"Mật khẩu mới tối đa {PASSWORD_MAX_CHARS} ký tự"))
        elif new.strip().lower() == signed.user.username:
            errors.append(error_item("/new_password", "user.password_username",
                                     "Mật khẩu không được trùng tên đăng nhập"))
        elif new == current:
            errors.append(error_item("/new_password", "user.password_same",
                                     "Mật khẩu mới phải khác mật khẩu hiện tại"))
        if confirm != new:
            errors.append(error_item("/confirm_password", "user.password_mismatch",
                                     "Hai lần nhập mật khẩu mới không khớp"))
        if self.users.authenticate(signed.user.username, current) is None:
            self.limiter.failed(key, address)
            errors.insert(0, error_item("/current_password", "user.password_wrong",
                                        "Mật khẩu hiện tại không đúng"))
        if errors:
            raise Invalid("the password was not changed", errors=errors)
        self.users.set_password(signed.user.username, new)
        self.sessions.end_user(signed.user.username, keep=signed.session_id)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value
