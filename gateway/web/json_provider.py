"""The app's JSON: Flask's, with whole numbers written as integers
(:mod:`gateway.core.numbers`) in every answer, whichever view, schema or error handler made it."""

from __future__ import annotations

from typing import Any

from flask.json.provider import DefaultJSONProvider

from gateway.core.numbers import whole_numbers


class WholeNumbersJSON(DefaultJSONProvider):
    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return super().dumps(whole_numbers(obj), **kwargs)
