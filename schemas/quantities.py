"""Quantities as exact decimals (docs/rules.md, "Quantities").

JSON numbers arrive as Python ``int`` or ``float``. A float is read back through its shortest
decimal form (``repr``), so ``0.1`` is exactly ``Decimal("0.1")`` and sums of quantities never
drift (``0.1 + 0.48`` is ``0.58``, not ``0.58000000000000001``). Counted units take whole
numbers only; measured units (``RX_MEASURED_UNITS``) at most ``RX_QUANTITY_DECIMALS`` decimal
places, so ``1e-300`` is refused instead of stored.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

Number = int | float


def exact(value: Number | Decimal) -> Decimal:
    """The decimal a JSON number means. Raises: ValueError for NaN, infinities and non-numbers."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError(f"not a number: {value!r}")
    try:
        result = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation as exc:  # pragma: no cover - repr of a float is always a decimal
        raise ValueError(f"not a number: {value!r}") from exc
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def decimal_places(value: Decimal) -> int:
    """How many digits after the point ``value`` needs (``2.50`` needs 1, ``1e-300`` 300)."""
    if value == value.to_integral_value():
        return 0
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def as_number(value: Decimal) -> Number:
    """The JSON number to store and answer: an ``int`` when whole, else the nearest float,
    whose shortest form is the decimal itself (``0.58``)."""
    if value == value.to_integral_value():
        return int(value)
    return float(value)


def quantity_problem(value: object, *, measured: bool, decimals: int, maximum: Number) -> str | None:
    """Why ``value`` is not a valid quantity, in Vietnamese, or None when it is one.

    A quantity is a positive JSON number no larger than ``maximum``; a whole number when the
    unit is counted; with at most ``decimals`` decimal places when it is measured.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "Số lượng phải là một số"
    try:
        amount = exact(value)
    except ValueError:
        return "Số lượng phải là một số hữu hạn"
    if amount <= 0 or amount > exact(maximum):
        return f"Số lượng phải lớn hơn 0 và không quá {maximum}"
    places = decimal_places(amount)
    if not measured and places:
        return "Số lượng phải là số nguyên với đơn vị đếm được"
    if places > decimals:
        return f"Số lượng có tối đa {decimals} chữ số thập phân"
    return None
