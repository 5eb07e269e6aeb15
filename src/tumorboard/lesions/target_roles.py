"""Roles of measured lesions: per-label roles given by the reader, or a RECIST 1.1 selection.

``tumorboard measure`` writes one row per label. A reader names the role of
each label (``1=target,2=non-target``); when no role is given, the targets
are chosen by the rules :mod:`tumorboard.criteria.baseline_rules` checks, so
the table always passes ``tumorboard assess``:

* anatomical rows: measurable lesions only (longest diameter >= 10 mm, nodes
  short axis >= 15 mm), largest first (nodes by short axis, others by longest
  diameter);
* PET-only rows (SULpeak, no diameter): hottest first (PERCIST 1.0);
* at most :data:`~tumorboard.criteria.baseline_rules.MAX_TARGETS` targets and
  :data:`~tumorboard.criteria.baseline_rules.MAX_TARGETS_PER_ORGAN` per organ
  (lymph nodes are one organ); every other label is a non-target.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from tumorboard.criteria.baseline_rules import (
    MAX_TARGETS,
    MAX_TARGETS_PER_ORGAN,
    is_measurable,
    organ_key,
)
from tumorboard.criteria.records import LesionMeasurement, LesionRole
from tumorboard.errors import InputError

_ROLES = tuple(role.value for role in LesionRole)


def parse_roles(text: str, labels: Iterable[int], option: str = "--role") -> dict[int, LesionRole]:
    """Roles per label from ``'1=target,2=non-target'`` (or one role for every label).

    Parameters
    ----------
    text : str
        ``LABEL=ROLE`` pairs separated by commas, or a single role name.
    labels : iterable of int
        The labels present in the label map: every one needs a role.
    option : str
        Option name used in error messages.

    Returns
    -------
    dict of int to LesionRole

    Raises
    ------
    InputError
        Unknown role, label absent from the label map, a label given twice,
        or a label present in the map without a role.

    Examples
    --------
    >>> roles = parse_roles("1=target, 2=non-target", [1, 2])
    >>> [roles[1].value, roles[2].value]
    ['target', 'non-target']
    >>> parse_roles("non-target", [3])[3].value
    'non-target'
    """
    present = sorted(set(labels))
    text = text.strip()
    if text in _ROLES:
        return {label: LesionRole(text) for label in present}
    roles: dict[int, LesionRole] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, sep, value = (s.strip() for s in part.partition("="))
        if not sep or not key.isdigit() or value not in _ROLES:
            raise InputError(
                f"{option}: expected LABEL=ROLE pairs with ROLE one of {', '.join(_ROLES)} "
                f"(e.g. '1=target,2=non-target'), got {part!r}"
            )
        label = int(key)
        if label in roles:
            raise InputError(f"{option}: label {label} is given twice")
        if label not in present:
            raise InputError(f"{option}: label {label} is not in the label map")
        roles[label] = LesionRole(value)
    missing = [label for label in present if label not in roles]
    if missing:
        raise InputError(
            f"{option}: label {missing[0]} has no role; give every label of the map "
            f"({', '.join(str(v) for v in present)}) or leave {option} out"
        )
    return roles


def _size_rank(reading: LesionMeasurement) -> Decimal:
    if reading.is_pet_only:
        return reading.sul_peak or Decimal(0)
    value = reading.short_axis_mm if reading.is_node else reading.longest_diameter_mm
    return value or Decimal(0)


def select_target_roles(readings: Sequence[LesionMeasurement]) -> dict[str, LesionRole]:
    """Targets by the RECIST 1.1 / PERCIST 1.0 rules; every other lesion a non-target.

    Parameters
    ----------
    readings : sequence of LesionMeasurement
        Baseline readings of one timepoint (their ``role`` is ignored).

    Returns
    -------
    dict of str to LesionRole
        Role by ``lesion_id``.

    Examples
    --------
    >>> from decimal import Decimal as D
    >>> def liver(i, mm):
    ...     return LesionMeasurement(i, "liver", "target", False, "present",
    ...                              longest_diameter_mm=D(mm), short_axis_mm=D(mm))
    >>> roles = select_target_roles([liver("L1", 12), liver("L2", 30), liver("L3", 20),
    ...                              liver("L4", 8)])
    >>> [roles[k].value for k in ("L1", "L2", "L3", "L4")]
    ['non-target', 'target', 'target', 'non-target']
    """
    ranked = sorted(readings, key=_size_rank, reverse=True)
    roles: dict[str, LesionRole] = {}
    for group in (False, True):  # anatomical and PET-only targets are counted apart
        per_organ: Counter[str] = Counter()
        count = 0
        for reading in (r for r in ranked if r.is_pet_only is group):
            eligible = reading.is_pet_only or is_measurable(reading)
            organ = organ_key(reading)
            if eligible and count < MAX_TARGETS and per_organ[organ] < MAX_TARGETS_PER_ORGAN:
                roles[reading.lesion_id] = LesionRole.TARGET
                count += 1
                per_organ[organ] += 1
            else:
                roles[reading.lesion_id] = LesionRole.NON_TARGET
    return roles


def describe_roles(roles: Mapping[str, LesionRole]) -> str:
    """One line naming the chosen targets (for the note ``measure`` prints).

    Examples
    --------
    >>> describe_roles({"L1": LesionRole.TARGET, "L2": LesionRole.NON_TARGET})
    'targets L1; non-targets L2'
    """
    targets = [k for k, v in roles.items() if v is LesionRole.TARGET]
    others = [k for k, v in roles.items() if v is not LesionRole.TARGET]
    return f"targets {', '.join(targets) or 'none'}; non-targets {', '.join(others) or 'none'}"


__all__ = ["describe_roles", "parse_roles", "select_target_roles"]
