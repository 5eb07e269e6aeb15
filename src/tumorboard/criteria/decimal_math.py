"""Exact decimal arithmetic on diameters and percentages.

Diameters are recorded to a tenth of a millimetre. In binary floating point
``8.2 - 3.2`` is ``4.999999999999999`` and ``(30.6 - 25.5) / 25.5`` is just
below 20 %, so a threshold test (">= 5 mm", ">= 20 %") flips on a rounding
error. Every comparison in :mod:`tumorboard.criteria` is therefore made on
:class:`decimal.Decimal` values parsed from their decimal text, and a
percentage test ``100 * (a - b) / b >= t`` is made without division as
``100 * (a - b) >= t * b`` (exact for any decimal inputs).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from tumorboard.errors import InputError

ZERO = Decimal(0)
HUNDRED = Decimal(100)
_DISPLAY_QUANTUM = Decimal("0.1")


def to_decimal(value: Decimal | str | int | float, name: str) -> Decimal:
    """Convert ``value`` to a finite :class:`~decimal.Decimal` from its decimal text.

    Floats go through ``repr`` so that ``3.2`` becomes ``Decimal("3.2")`` rather
    than its binary expansion.

    Raises
    ------
    InputError
        If ``value`` is not a finite number; the message names ``name``.
    """
    if isinstance(value, Decimal):
        result = value
    else:
        text = repr(value) if isinstance(value, float) else str(value).strip()
        try:
            result = Decimal(text)
        except InvalidOperation:
            raise InputError(f"{name}: expected a number, got {value!r}") from None
    if not result.is_finite():
        raise InputError(f"{name}: expected a finite number, got {value!r}")
    return result


def percent_change(current: Decimal, reference: Decimal) -> Decimal | None:
    """Return ``100 * (current - reference) / reference``, or ``None`` if ``reference`` is 0."""
    if reference == ZERO:
        return None
    return HUNDRED * (current - reference) / reference


def change_at_least(current: Decimal, reference: Decimal, percent: Decimal) -> bool:
    """Whether ``current`` is at least ``percent`` % above ``reference`` (exact).

    A zero reference makes any non-negative increase count as infinite
    percentage growth (RECIST: growth from a nadir of 0).
    """
    if reference == ZERO:
        return current > ZERO or percent <= ZERO
    return HUNDRED * (current - reference) >= percent * reference


def change_at_most(current: Decimal, reference: Decimal, percent: Decimal) -> bool:
    """Whether the change from ``reference`` to ``current`` is at most ``percent`` % (exact).

    Used with a negative ``percent`` for decreases (``-30`` means "fell by at
    least 30 %"). A zero reference never satisfies a decrease.
    """
    if reference == ZERO:
        return False
    return HUNDRED * (current - reference) <= percent * reference


def display(value: Decimal | None) -> str:
    """Format a millimetre or percentage value to one decimal (half-even), ``""`` for None."""
    if value is None:
        return ""
    rounded = value.quantize(_DISPLAY_QUANTUM, rounding=ROUND_HALF_EVEN)
    if rounded == ZERO:
        rounded = abs(rounded)
    return str(rounded)
