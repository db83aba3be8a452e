"""Query-parameter fields shared by the API's views."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields

from gateway.core import dates


class Instant(fields.AwareDateTime):
    """An ISO 8601 date-time with its offset, within :mod:`gateway.core.dates`'s range (a
    value at datetime's ends is a 422 naming the parameter, never an overflow later)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if not dates.in_range(parsed):
            raise ValidationError(f"must be {dates.RANGE_TEXT}")
        return parsed
