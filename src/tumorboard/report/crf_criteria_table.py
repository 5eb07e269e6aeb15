"""The response-criteria table of the case-report form (Table 1 of the NET reading guide).

Table 1 of Rozenblum et al. 2020 (the standardized imaging case-report form)
ends with the criteria by type of drug -- RECIST 1.1 for cytotoxic, Choi for
cytostatic, iRECIST for immune therapy, PERCIST for all -- and the
definition of complete response, partial response, progressive disease and
stable disease under each. :data:`CRITERIA_TABLE` restates those cells in
short form (the table is the source; nothing is added to it), and
:func:`criteria_table` marks the columns applied and recommended on a form.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tumorboard.criteria import choi, percist, recist
from tumorboard.criteria.records import Criteria
from tumorboard.criteria.target_sums import PD_MIN_INCREASE_MM

__all__ = [
    "CRITERIA_TABLE",
    "CRITERIA_TABLE_KEYS",
    "TABLE_SOURCE",
    "applied_thresholds",
    "criteria_table",
]

#: Where the definitions come from.
TABLE_SOURCE = (
    "Rozenblum L et al., Eur J Radiol 2020, Table 1 (imaging case report form: response "
    "criteria); file gep_net_step_by_step_imaging_guide_rozenblum_2020.txt"
)
#: The cells of Table 1, column by column.
CRITERIA_TABLE: tuple[dict[str, str], ...] = (
    {
        "criteria": Criteria.RECIST11.value,
        "criteria_name": "RECIST 1.1",
        "type_of_drug": "Cytotoxic",
        "complete_response": "No lesions detected.",
        "partial_response": "> 30 % decrease in the sum of longest diameters of target lesions.",
        "progressive_disease": (
            "> 20 % increase in the SLD of target lesions with an absolute increase of ≥ 5 mm; "
            "new lesion."
        ),
        "stable_disease": "None of the above.",
    },
    {
        "criteria": Criteria.CHOI.value,
        "criteria_name": "Choi",
        "type_of_drug": "Cytostatic",
        "complete_response": "No lesions detected.",
        "partial_response": (
            "≥ 10 % decrease in tumour size or ≥ 15 % decrease in tumour attenuation at CT; "
            "no new lesion."
        ),
        "progressive_disease": (
            "≥ 10 % increase in the SLD of lesions, not meeting partial response by tumour "
            "attenuation; new intratumoral nodules or growth of existing ones."
        ),
        "stable_disease": "None of the above.",
    },
    {
        "criteria": Criteria.IRECIST.value,
        "criteria_name": "iRECIST",
        "type_of_drug": "Immune therapy",
        "complete_response": "No lesions detected.",
        "partial_response": "> 30 % decrease in the sum of longest diameters of target lesions.",
        "progressive_disease": (
            "First PD is unconfirmed (iUPD); confirmed (iCPD) if any original cause of PD "
            "worsens or another cause appears at the follow-up evaluation; an unconfirmed iUPD "
            "can be reclassified iSD, iPR or iCR."
        ),
        "stable_disease": "None of the above.",
    },
    {
        "criteria": Criteria.PERCIST.value,
        "criteria_name": "PERCIST",
        "type_of_drug": "All",
        "complete_response": "Disappearance of all metabolically active tumours.",
        "partial_response": (
            "> 30 % (0.8-unit) decline in SULpeak between the most intense lesion before and "
            "the most intense lesion after treatment."
        ),
        "progressive_disease": "> 30 % (0.8-unit) increase in SULpeak, or a confirmed new lesion.",
        "stable_disease": "None of the above.",
    },
)
#: Keys of each column of the table.
CRITERIA_TABLE_KEYS = (
    "criteria",
    "criteria_name",
    "type_of_drug",
    "complete_response",
    "partial_response",
    "progressive_disease",
    "stable_disease",
    "as_applied",
    "applied",
    "recommended",
)


def _edge(value: object) -> str:
    return format(value, "f").rstrip("0").rstrip(".") if "." in str(value) else str(value)


def applied_thresholds() -> dict[str, str]:
    """The thresholds exactly as tumorboard's criteria apply them, by criteria.

    Table 1 states its cells in short form (``> 30 %``) while the criteria
    papers write *at least* in places; Wahl 2009 writes ``> 30 %`` and
    ``> 0.8 SUL`` in its table and "at least" elsewhere. The form therefore
    shows, under the quoted cells, the edge tumorboard applies -- built from
    the criteria's own constants, so the form can never disagree with the
    computation. The choice of *at least* (>=) at every edge is tumorboard's.

    Returns
    -------
    dict of str to str
        Criteria value to the rule as applied.

    Examples
    --------
    >>> applied_thresholds()["percist"]
    'CMR/PMR/PMD by the hottest SULpeak: PMR at least 30 % and at least 0.8 SUL below \
the baseline; PMD at least 30 % and at least 0.8 SUL above it, or a new lesion \
(tumorboard applies >= at both edges).'
    """
    pr, pd = _edge(recist.PR_DECREASE_PCT), _edge(recist.PD_INCREASE_PCT)
    mm = _edge(PD_MIN_INCREASE_MM)
    size_rule = (
        f"PR: sum at least {pr} % below baseline; PD: sum at least {pd} % and at least "
        f"{mm} mm above the nadir, or a new lesion"
    )
    pct, sul = _edge(percist.CHANGE_PCT), _edge(percist.CHANGE_SUL)
    choi_size, choi_density = _edge(choi.SIZE_CHANGE_PCT), _edge(choi.DENSITY_DECREASE_PCT)
    return {
        Criteria.RECIST11.value: f"{size_rule} (tumorboard applies >= at every edge).",
        Criteria.IRECIST.value: (
            f"{size_rule}, then iUPD until confirmed (tumorboard applies >= at every edge)."
        ),
        Criteria.CHOI.value: (
            f"PR: size at least {choi_size} % below or attenuation at least {choi_density} % "
            f"below baseline, no new lesion; PD: size at least {choi_size} % above the nadir "
            "and not PR by attenuation, or a new lesion (tumorboard applies >= at every edge)."
        ),
        Criteria.PERCIST.value: (
            f"CMR/PMR/PMD by the hottest SULpeak: PMR at least {pct} % and at least {sul} SUL "
            f"below the baseline; PMD at least {pct} % and at least {sul} SUL above it, or a "
            "new lesion (tumorboard applies >= at both edges)."
        ),
    }


def criteria_table(
    applied: Iterable[Criteria], recommended: Iterable[Criteria]
) -> list[dict[str, Any]]:
    """Table 1's criteria columns, each marked as applied and recommended on this form.

    Parameters
    ----------
    applied : iterable of Criteria
        Criteria evaluated on the form.
    recommended : iterable of Criteria
        Criteria recommended for the current drug.

    Returns
    -------
    list of dict
        One entry per Table 1 column, keys :data:`CRITERIA_TABLE_KEYS`.

    Examples
    --------
    >>> rows = criteria_table([Criteria.RECIST11], [Criteria.RECIST11])
    >>> [(r["criteria_name"], r["type_of_drug"], r["applied"]) for r in rows][:2]
    [('RECIST 1.1', 'Cytotoxic', True), ('Choi', 'Cytostatic', False)]
    """
    used = {c.value for c in applied}
    advised = {c.value for c in recommended}
    as_applied = applied_thresholds()
    return [
        {
            **column,
            "as_applied": as_applied[column["criteria"]],
            "applied": column["criteria"] in used,
            "recommended": column["criteria"] in advised,
        }
        for column in CRITERIA_TABLE
    ]
