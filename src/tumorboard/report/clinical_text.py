"""Values as a clinical reader writes them: no Python literals on a form.

``True``/``False`` become ``yes``/``no``, ``None`` ``unknown``, lists a
comma-separated enumeration, numbers plain decimals. Used as the jinja2
filter ``plain`` by the case-report form and the reading guide.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any


def plain(value: Any) -> str:
    """Render ``value`` for clinical text.

    Parameters
    ----------
    value : Any
        A JSON-like value (bool, None, number, text, list, mapping).

    Returns
    -------
    str
        ``yes``/``no`` for booleans, ``unknown`` for None, ``none`` for an
        empty list, items joined by ``", "``, ``key: value`` pairs joined by
        ``"; "``, numbers without a trailing ``.0``.

    Examples
    --------
    >>> plain(True), plain(None), plain(["lanreotide", "everolimus"]), plain([]), plain(12.0)
    ('yes', 'unknown', 'lanreotide, everolimus', 'none', '12')
    >>> plain({"who_grade": "G2", "fdg_positive": False})
    'who_grade: G2; fdg_positive: no'
    """
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | Decimal):
        return f"{value:g}" if isinstance(value, float) else str(value)
    if isinstance(value, Mapping):
        return "; ".join(f"{key}: {plain(item)}" for key, item in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(plain(item) for item in value) if value else "none"
    return str(value)
