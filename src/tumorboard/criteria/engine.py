"""Apply several criteria to one patient or a cohort.

The new-lesion ledger and the target sums are built once per patient and
shared by all criteria. The per-patient rules are pure Python on exact
decimals, so only separate processes could use a second core. Measured on
the 2-core project machine (benchmarks/results_criteria.md), they do not
pay: sending records to a spawned worker and the results back costs about
as much as computing them, and forked workers run ~7x slower while their
copy-on-write pages fault in. :func:`assess_cohort` therefore runs in one
process by default; ``workers`` > 1 uses spawned processes with
marshal-encoded results (:mod:`tumorboard.criteria.transport`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from tumorboard.criteria.choi import assess_choi
from tumorboard.criteria.irecist import assess_irecist
from tumorboard.criteria.new_baseline import NewLesionLedger, build_ledger
from tumorboard.criteria.options import AssessmentOptions
from tumorboard.criteria.percist import assess_percist
from tumorboard.criteria.recist import assess_recist
from tumorboard.criteria.records import Criteria, PatientAssessment, PatientSeries
from tumorboard.criteria.target_sums import Metric, SeriesFacts, pet_only_lesions
from tumorboard.criteria.transport import decode, encode
from tumorboard.errors import InputError
from tumorboard.worker_pool import process_pool

ALL_CRITERIA = tuple(Criteria)


def _mrecist(
    series: PatientSeries,
    ledger: NewLesionLedger,
    options: AssessmentOptions,
    facts: SeriesFacts | None = None,
) -> PatientAssessment:
    return assess_recist(series, ledger, options, metric=Metric.VIABLE, facts=facts)


def _percist(
    series: PatientSeries,
    ledger: NewLesionLedger,
    options: AssessmentOptions,
    facts: SeriesFacts | None = None,
) -> PatientAssessment:
    return assess_percist(series, ledger, options)


def _recist(
    series: PatientSeries,
    ledger: NewLesionLedger,
    options: AssessmentOptions,
    facts: SeriesFacts | None = None,
) -> PatientAssessment:
    return assess_recist(series, ledger, options, facts=facts)


class _Assessor(Protocol):
    def __call__(
        self,
        series: PatientSeries,
        ledger: NewLesionLedger,
        options: AssessmentOptions,
        facts: SeriesFacts | None = None,
    ) -> PatientAssessment: ...


_ASSESSORS: dict[Criteria, _Assessor] = {
    Criteria.RECIST11: _recist,
    Criteria.IRECIST: assess_irecist,
    Criteria.CHOI: assess_choi,
    Criteria.MRECIST: _mrecist,
    Criteria.PERCIST: _percist,
}


def parse_criteria(values: Iterable[Criteria | str]) -> tuple[Criteria, ...]:
    """Convert criteria names (``recist1.1``, ``irecist``, ...) to :class:`Criteria`, in order.

    Raises
    ------
    InputError
        On an unknown name.
    """
    result: list[Criteria] = []
    for value in values:
        text = value.strip().lower() if isinstance(value, str) else value
        try:
            item = Criteria(text)
        except ValueError:
            allowed = ", ".join(c.value for c in Criteria)
            raise InputError(f"unknown criteria {value!r}; expected one of {allowed}") from None
        if item not in result:
            result.append(item)
    if not result:
        raise InputError("no criteria given")
    return tuple(result)


def assess_patient(
    series: PatientSeries,
    criteria: Sequence[Criteria | str] = ALL_CRITERIA,
    options: AssessmentOptions | None = None,
) -> tuple[PatientAssessment, ...]:
    """Assess one patient under each of ``criteria``.

    Parameters
    ----------
    series : PatientSeries
        The patient's timepoints.
    criteria : sequence of Criteria or str
        Criteria to apply, in output order.
    options : AssessmentOptions, optional
        Engine switches.

    Returns
    -------
    tuple of PatientAssessment
        One per criteria, in the given order. Baseline lesions read on PET
        only (no diameter) are PERCIST's; the size-based criteria ignore them
        and say so in their notes.
    """
    options = options or AssessmentOptions()
    chosen = parse_criteria(criteria)
    ledger = build_ledger(series, options.new_baseline_rule)
    facts = SeriesFacts(series.timepoints)
    results = tuple(_ASSESSORS[c](series, ledger, options, facts=facts) for c in chosen)
    pet_only = pet_only_lesions(series.baseline)
    if not pet_only:
        return results
    note = (
        f"lesion(s) {', '.join(pet_only)} read on PET only (SULpeak, no diameter): "
        "assessed by PERCIST, not measurable under size-based criteria"
    )
    return tuple(
        a if a.criteria is Criteria.PERCIST else replace(a, notes=(*a.notes, note)) for a in results
    )


def _assess_chunk(
    payload: tuple[Sequence[PatientSeries], tuple[Criteria, ...], AssessmentOptions],
) -> list[tuple[PatientAssessment, ...]]:
    chunk, criteria, options = payload
    return [assess_patient(series, criteria, options) for series in chunk]


def _assess_encoded(
    payload: tuple[Sequence[PatientSeries], tuple[Criteria, ...], AssessmentOptions],
) -> bytes:
    return encode(_assess_chunk(payload))


def assess_cohort(
    cohort: Sequence[PatientSeries],
    criteria: Sequence[Criteria | str] = ALL_CRITERIA,
    options: AssessmentOptions | None = None,
    workers: int = 1,
) -> list[tuple[PatientAssessment, ...]]:
    """Assess many patients, optionally in ``workers`` spawned processes.

    Parameters
    ----------
    cohort : sequence of PatientSeries
        Patients to assess.
    criteria : sequence of Criteria or str
        Criteria for every patient.
    options : AssessmentOptions, optional
        Engine switches.
    workers : int
        Number of processes; ``1`` (default) runs in this process, which is
        the fastest choice measured on a 2-core machine (see the module notes).

    Returns
    -------
    list of tuple of PatientAssessment
        In cohort order.
    """
    options = options or AssessmentOptions()
    chosen = parse_criteria(criteria)
    # The records form no reference cycles; pausing the cyclic garbage
    # collector avoids its repeated full passes over a heap of millions of
    # small objects (about 15 % of the run time at 10,000 patients).
    enabled = gc.isenabled()
    gc.disable()
    try:
        if workers <= 1 or len(cohort) < 2 * workers:
            return _assess_chunk((cohort, chosen, options))
        size = -(-len(cohort) // (workers * 4))
        payloads = [(cohort[a : a + size], chosen, options) for a in range(0, len(cohort), size)]
        results: list[tuple[PatientAssessment, ...]] = []
        with process_pool(workers, "spawn") as pool:  # workers die with this process
            for part in pool.map(_assess_encoded, payloads):
                results.extend(decode(part))
        return results
    finally:
        if enabled:
            gc.enable()
