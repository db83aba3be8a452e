"""The one table from failures to problem types (gateway/web/problems.py): every domain error
has a type there, each failure of its own a type of its own, and the errors themselves carry
no HTTP (issue 26, item 4)."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from gateway.core import errors
from gateway.web.problems import (
    PROBLEMS,
    TITLES,
    particulars,
    problem_for,
    problem_type,
    status_of,
    to_problem,
)

ROOT = Path(__file__).resolve().parents[3]
# The kinds of failure: a specific failure is one of them (its base class).
KINDS = (errors.Malformed, errors.NotFound, errors.Unauthenticated, errors.Forbidden,
         errors.Conflict, errors.Invalid, errors.RateLimited, errors.Unavailable)
# What the kinds answer: a view meaning one of them raises the kind (405, 406 and the request
# edge's own statuses are HTTP's alone).
KIND_STATUSES = frozenset(PROBLEMS[kind].status for kind in KINDS)
FAILURES = [cls for _, cls in inspect.getmembers(errors, inspect.isclass)
            if issubclass(cls, errors.DomainError) and cls is not errors.DomainError
            and cls not in KINDS]


def test_every_failure_has_its_own_entry_and_titles() -> None:
    assert FAILURES  # the finder finds them
    for failure in FAILURES:
        assert failure in PROBLEMS, failure.__name__
        assert PROBLEMS[failure].slug in TITLES, failure.__name__
    for kind in KINDS:
        assert PROBLEMS[kind].slug in TITLES


def test_a_failure_answers_with_its_kinds_status() -> None:
    for failure in FAILURES:
        kind = next(base for base in failure.__mro__ if base in KINDS)
        assert PROBLEMS[failure].status == PROBLEMS[kind].status, failure.__name__


def test_domain_errors_carry_no_http() -> None:
    error = errors.NotDispensable("79001ABC-c", "cancelled", "Đơn thuốc đã bị hủy")
    for word in ("slug", "title", "status_code", "headers", "extra"):
        assert not hasattr(error, word)
    assert (error.prescription, error.status) == ("79001ABC-c", "cancelled")
    kind = problem_type(error)
    assert kind is not None and (kind.slug, kind.status) == ("not-dispensable", 409)
    said = particulars(error)
    assert [item["code"] for item in said.errors] == ["dispense.state"]


def test_retry_after_and_members_come_from_the_table() -> None:
    busy = to_problem(errors.IdempotencyInProgress(retry_after=1))
    assert busy is not None and busy.headers == {"Retry-After": "1"}
    changed = to_problem(errors.QrContentChanged("79001ABC-c"))
    assert changed is not None and changed.extra == {"ma_don_thuoc": "79001ABC-c"}
    refused = to_problem(errors.Refused([errors.error_item("/x", "rule.x", "x")],
                                        [errors.error_item("/y", "rule.y", "y")]))
    assert refused is not None and refused.status == 422
    assert refused.extra["warnings"][0]["code"] == "rule.y"


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


@pytest.mark.parametrize("path", sorted((ROOT / "gateway").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_error_is_raised_with_a_problem_type(path: Path) -> None:
    """A problem type (``slug=``, ``title=``, HTTP extras) is given only to the HTTP edge's own
    answer (``ApiError``, in views, for what no domain error means: 405, 406); a domain error is
    raised with its data alone."""
    domain = {name for name, cls in inspect.getmembers(errors, inspect.isclass)
              if issubclass(cls, errors.DomainError)}
    # a domain datum, not HTTP: the seconds until a retry may succeed
    retrying = {"RateLimited", "LoginBusy", "IdempotencyInProgress", "PersonBusy", "ClaimLapsed"}
    named = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        callee = _callee(node)
        if callee == "ApiError":
            # the edge's own answer names no problem type of the table's by hand, and a view
            # raises the domain error whose kind the table gives that status instead
            if path.name != "problems.py":
                named += [f"ApiError:{node.lineno}:slug={keyword.value.value}"
                          for keyword in node.keywords if keyword.arg == "slug"
                          and isinstance(keyword.value, ast.Constant)]
            if "web" not in path.relative_to(ROOT).parts and node.args \
                    and isinstance(node.args[0], ast.Constant) and node.args[0].value in KIND_STATUSES:
                named.append(f"ApiError:{node.lineno}:{node.args[0].value}")
            continue
        if not (callee in domain or callee.endswith(("Error", "Refused"))):
            continue
        words = {"slug", "title"} | (set() if callee in retrying else {"retry_after"})
        named += [f"{callee}:{node.lineno}:{keyword.arg}" for keyword in node.keywords
                  if keyword.arg in words]
    assert named == []


def test_a_face_takes_a_kinds_answer_from_the_table() -> None:
    refused = problem_for(errors.PharmacyIdentity)
    assert (refused.status, refused.slug, refused.errors) == (403, "pharmacy-identity", [])
    invalid = problem_for(errors.Invalid, errors=[errors.error_item("/x", "rule.x", "x")])
    assert (invalid.status, invalid.slug, invalid.errors[0]["code"]) == (422, "validation", "rule.x")
    assert status_of(errors.NotNominated("79001ABC-c", "NT0002")) == 403
    assert status_of(errors.OverQuantity(errors=[])) == 409
