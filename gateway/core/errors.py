"""Domain errors: what services raise when a request cannot be done. No HTTP here.

Each class says what went wrong in the domain's terms; :mod:`gateway.web.problems` holds the
one table that turns them into problem+json answers at the HTTP edge. Every error may carry
``errors`` (items ``{"pointer", "code", "message"}``, the stable codes of docs/rules.md), a
``detail`` in English, and a ``slug``/``title`` naming the problem type when the generic one of
its class is not precise enough.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class DomainError(Exception):
    """Base of the errors a service raises for its caller to report."""

    def __init__(self, detail: str | None = None, *, errors: Iterable[Mapping[str, Any]] = (),
                 slug: str | None = None, title: str | None = None,
                 retry_after: int | None = None, **extra: Any) -> None:
        self.detail = detail
        self.errors = [dict(item) for item in errors]
        self.slug = slug
        self.title = title
        self.retry_after = retry_after
        self.extra = extra
        super().__init__(detail or title or type(self).__name__)

    def codes(self) -> list[str]:
        """The stable codes of the items, sorted and without repeats."""
        return sorted({item["code"] for item in self.errors if "code" in item})


class Malformed(DomainError):
    """The request cannot be read at all (a malformed key, a bad grant type)."""


class NotFound(DomainError):
    """The named thing does not exist."""


class Unauthenticated(DomainError):
    """No valid credentials came with the request."""


class Forbidden(DomainError):
    """This party may not do that to this thing."""


class Conflict(DomainError):
    """The thing's current state does not allow it (already cancelled, over quantity...)."""


class Invalid(DomainError):
    """The content breaks rules; ``errors`` lists every one."""


class RateLimited(DomainError):
    """Too many attempts; ``retry_after`` seconds until the next may succeed."""


class Unavailable(DomainError):
    """A dependency cannot serve now; retrying later may succeed."""


def error_item(pointer: str, code: str, message: str) -> dict[str, str]:
    """One item of an error list: a JSON pointer, a stable code, a Vietnamese message."""
    return {"pointer": pointer, "code": code, "message": message}


def bad_parameter(name: str, expected: str, expected_vi: str) -> Invalid:
    """A query or path parameter that is not what it should be: ``expected`` in English,
    ``expected_vi`` in Vietnamese (the item's message; ``_en`` gives the English one to an
    ``Accept-Language: en`` answer)."""
    return Invalid(f"{name}: expected {expected}",
                   errors=[{"pointer": "", "parameter": name, "code": "request.invalid",
                            "message": expected_vi, "_en": expected}])
