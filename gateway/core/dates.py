"""The days a query may name, and the check every date parameter goes through.

Python's ``datetime`` ends at 0001-01-01 and 9999-12-31: a day at either end moved into another
time zone, or given one more day (an inclusive end), overflows, and that was a 500. Every date
or date-time a request names (API query parameters, console forms) must lie in
``[EARLIEST, LATEST]``; anything else is a 422 naming the parameter. The span is a limit of
representation, not a policy: far wider than any prescription, birth date or report, far enough
from both ends that no shift of a day or a time zone can overflow.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)
RANGE_TEXT = f"a day from {EARLIEST.isoformat()} to {LATEST.isoformat()}"
RANGE_TEXT_VI = f"Ngày phải từ {EARLIEST.isoformat()} đến {LATEST.isoformat()}"


def in_range(value: date | datetime) -> bool:
    """Whether ``value`` (a date, or a datetime read in UTC when it has a zone) lies in
    ``[EARLIEST, LATEST]``."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError:
                return False
        value = value.date()
    return EARLIEST <= value <= LATEST


def checked(value: date | datetime) -> date | datetime:
    """``value`` when it is :func:`in_range`.

    Raises:
        ValueError: it is not (the message says the range).
    """
    if not in_range(value):
        raise ValueError(f"{RANGE_TEXT}, not {value.isoformat()}")
    return value
