"""Numbers as the gateway writes them: integers when whole (``20``, never ``20.0``).

Quantities are stored as the client sent them (a HIS may write ``20.0``) and computed
(``prescribed - dispensed``) as floats; every answer of every face, every export and every
webhook push writes a whole number as an integer (README "Conventions").
"""

from __future__ import annotations

from typing import Any

_LEAVES = frozenset({str, int, bool, type(None)})


def whole_numbers(value: Any) -> Any:
    """``value`` with every whole float, at any depth of dicts, lists and tuples, as an int."""
    kind = type(value)
    if kind in _LEAVES:  # most of an answer: returned at once
        return value
    if kind is dict:
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [whole_numbers(item) for item in value]
    return value
