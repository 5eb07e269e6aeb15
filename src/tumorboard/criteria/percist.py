"""PERCIST 1.0 (Wahl et al., J Nucl Med 2009;50:122S-150S) on per-timepoint PET readings.

The measured quantity is the SULpeak of the single hottest lesion (which may
be a different lesion at follow-up). Every row with a ``sul_peak`` counts,
whatever its role; PET-only readings (a ``pet-*`` row without diameters)
are PERCIST's own: marked ``target`` they may be listed per scan -- the
hottest lesions of each scan, not necessarily the same lesions -- while a
lesion first seen at follow-up and typical of tumour is ``new`` (PMD). The liver reference row
(``liver-reference``: ``sul_peak`` = liver SUL mean, ``sul_sd`` its SD,
optional ``blood_pool_sul`` = blood-pool SUL mean of the same scan) gives

* measurability at baseline: hottest SULpeak >= 1.5 x liver mean + 2 SD;
* comparability: the follow-up liver mean must differ from baseline by
  *less than* 20 % *and less than* 0.3 SUL (Wahl 2009: "within 20 % (and
  < 0.3 SUL mean units)"), otherwise the timepoint is NE; 2.0 -> 2.3 (a
  0.3 SUL change) is not comparable.

The tracer is the baseline liver reference's modality (e.g. ``pet-fdg``);
readings made with another PET tracer (a DOTATATE PET at follow-up) are not
compared, while SULpeak values on rows of the PET/CT's CT are.

Categories against the baseline (and, for ``response_vs_nadir``, against the
lowest hottest SULpeak so far):

* CMR: every lesion strictly below the liver mean *and* at or below the
  blood-pool SUL mean of the same scan ("less than mean liver activity and
  indistinguishable from surrounding background blood-pool levels"), no new
  lesion. A lesion equal to the liver mean is not CMR, and without
  ``blood_pool_sul`` a scan with a measured lesion is never CMR (a note says
  so); every lesion ``absent`` is CMR;
* PMR: hottest SULpeak >= 30 % and >= 0.8 SUL below the reference;
* PMD: hottest SULpeak >= 30 % and >= 0.8 SUL above the reference, a new
  lesion, unequivocal non-target progression, or (optional) a > 75 % rise
  in total lesion glycolysis when TLG is recorded for every lesion;
* SMD otherwise. Timepoints without PET are NE.

Edges (a choice where Wahl 2009 is ambiguous): PMR is "a minimum of 30 %"
with an absolute drop of "at least 0.8 SUL", so both edges count. For PMD
the criteria table writes "> 30 %" and "> 0.8 SUL" while the text and later
summaries (O, Lodge & Wahl, J Nucl Med 2016 "Practical PERCIST") write
">= 30 %"; tumorboard uses *at least* (>=) for both PMR and PMD, as RECIST
does, so exactly +30.0 % with exactly +0.8 SUL is PMD and exactly -30.0 %
with exactly -0.8 SUL is PMR. All comparisons are exact decimal arithmetic.
"""

from __future__ import annotations

from decimal import Decimal

from tumorboard.criteria.best_response import patient_assessment
from tumorboard.criteria.decimal_math import (
    ZERO,
    change_at_least,
    change_at_most,
    percent_change,
)
from tumorboard.criteria.new_baseline import NewLesionLedger
from tumorboard.criteria.options import AssessmentOptions
from tumorboard.criteria.records import (
    Criteria,
    LesionRole,
    LesionStatus,
    NewLesionFinding,
    PatientAssessment,
    PatientSeries,
    Response,
    Timepoint,
    TimepointAssessment,
)

MEASURABLE_LIVER_FACTOR = Decimal("1.5")
MEASURABLE_SD_FACTOR = Decimal(2)
CHANGE_PCT = Decimal(30)
CHANGE_SUL = Decimal("0.8")
LIVER_TOLERANCE_PCT = Decimal(20)
LIVER_TOLERANCE_SUL = Decimal("0.3")
TLG_INCREASE_PCT = Decimal(75)
#: Modality text of a PET reading whose tracer is not named.
GENERIC_PET = "pet"


def _same_tracer(modality: str, tracer: str) -> bool:
    """A reading counts when made with the baseline tracer or on the CT of the PET/CT.

    A plain ``pet`` (tracer not named, as ``tumorboard measure`` writes it) is
    taken to be the baseline tracer.
    """
    return (
        modality == tracer
        or not modality.startswith("pet")
        or modality == GENERIC_PET
        or tracer == GENERIC_PET
    )


def _pet_readings(timepoint: Timepoint, tracer: str) -> list[Decimal]:
    return [
        m.sul_peak
        for m in timepoint.measurements
        if m.sul_peak is not None
        and m.status is not LesionStatus.ABSENT
        and _same_tracer(m.modality, tracer)
    ]


def _total_tlg(timepoint: Timepoint, tracer: str) -> Decimal | None:
    values = [
        m.tlg_g
        for m in timepoint.measurements
        if m.sul_peak is not None and _same_tracer(m.modality, tracer)
    ]
    if not values or any(v is None for v in values):
        return None
    return sum((v for v in values if v is not None), start=ZERO)


def _category(hot: Decimal, reference: Decimal) -> Response:
    if hot - reference >= CHANGE_SUL and change_at_least(hot, reference, CHANGE_PCT):
        return Response.PMD
    if reference - hot >= CHANGE_SUL and change_at_most(hot, reference, -CHANGE_PCT):
        return Response.PMR
    return Response.SMD


def assess_percist(
    series: PatientSeries,
    ledger: NewLesionLedger,
    options: AssessmentOptions | None = None,
) -> PatientAssessment:
    """Assess ``series`` under PERCIST 1.0.

    Parameters
    ----------
    series : PatientSeries
        Baseline first; PET timepoints carry ``sul_peak`` values and a
        liver-reference row.
    ledger : NewLesionLedger
        Shared new-lesion bookkeeping.
    options : AssessmentOptions, optional
        ``percist_tlg_rule`` and best-response settings.

    Returns
    -------
    PatientAssessment
        ``sul_peak`` holds the hottest lesion's SULpeak per timepoint.
    """
    options = options or AssessmentOptions()
    timepoints = series.timepoints
    baseline = timepoints[0]
    liver0 = baseline.liver_reference
    tracer = (
        liver0.modality
        if liver0 is not None
        else next(
            (
                m.modality
                for m in baseline.measurements
                if m.sul_peak is not None and m.modality.startswith("pet")
            ),
            "pet",
        )
    )
    base_readings = _pet_readings(baseline, tracer)
    problem = None
    base_hot: Decimal | None = max(base_readings) if base_readings else None
    if base_hot is None:
        problem = "PERCIST: no PET SULpeak at baseline"
    elif liver0 is None or liver0.sul_peak is None:
        problem = "PERCIST: no liver reference at baseline"
    else:
        threshold = MEASURABLE_LIVER_FACTOR * liver0.sul_peak + MEASURABLE_SD_FACTOR * (
            liver0.sul_sd or ZERO
        )
        if base_hot < threshold:
            problem = (
                f"PERCIST: hottest baseline SULpeak {base_hot} below the measurability "
                f"threshold {threshold} (1.5 x liver mean + 2 SD)"
            )
    results = [TimepointAssessment.at_baseline(baseline, Criteria.PERCIST, None, sul_peak=base_hot)]
    base_tlg = _total_tlg(baseline, tracer)
    nadir = base_hot
    non_target_ids = [m.lesion_id for m in baseline.measurements if m.role is LesionRole.NON_TARGET]
    for index in range(1, len(timepoints)):
        timepoint = timepoints[index]
        notes = list(ledger.notes[index])
        finding = ledger.finding(index)
        strict_new = ledger.finding(index, strict=True) is NewLesionFinding.YES
        readings = _pet_readings(timepoint, tracer)
        liver = timepoint.liver_reference
        has_pet = bool(readings) or liver is not None
        hot: Decimal | None = None
        change_baseline = change_nadir = None
        versus_baseline = versus_nadir = None
        if problem is not None or base_hot is None or nadir is None or liver0 is None:
            response = Response.NE
            notes.append(problem or "PERCIST not evaluable")
        elif not has_pet:
            response = Response.NE
            notes.append("PERCIST: no PET at this timepoint")
        elif liver is None or liver.sul_peak is None:
            response = Response.NE
            notes.append("PERCIST: no liver reference at this timepoint")
        elif not _comparable(liver.sul_peak, liver0.sul_peak or ZERO):
            response = Response.NE
            notes.append(
                f"PERCIST: liver SUL mean {liver.sul_peak} vs {liver0.sul_peak} at baseline "
                "differs by more than 20 % or 0.3 SUL; scans not comparable"
            )
        else:
            hot = max(readings) if readings else ZERO
            change_baseline = percent_change(hot, base_hot)
            change_nadir = percent_change(hot, nadir)
            progression = finding is NewLesionFinding.YES
            if any(
                (m := timepoint.by_id.get(i)) is not None
                and m.status is LesionStatus.UNEQUIVOCAL_PROGRESSION
                for i in non_target_ids
            ):
                progression = True
                notes.append("unequivocal non-target progression")
            tlg = _total_tlg(timepoint, tracer)
            if (
                options.percist_tlg_rule
                and tlg is not None
                and base_tlg is not None
                and base_tlg > ZERO
                and 100 * (tlg - base_tlg) > TLG_INCREASE_PCT * base_tlg
            ):
                progression = True
                notes.append("total lesion glycolysis up more than 75 %")
            resolved = not progression and _complete_metabolic_response(
                readings, liver.sul_peak, liver.blood_pool_sul, notes
            )
            versus_baseline = _overall(hot, base_hot, resolved, progression)
            versus_nadir = _overall(hot, nadir, resolved, progression)
            response = versus_baseline
            nadir = min(nadir, hot)
        strict = response
        if strict_new and response not in (Response.NE, Response.PMD):
            strict = Response.PMD
        results.append(
            TimepointAssessment(
                timepoint=timepoint.label,
                date=timepoint.date,
                criteria=Criteria.PERCIST,
                target_sum_mm=None,
                change_from_baseline_pct=change_baseline,
                change_from_nadir_pct=change_nadir,
                target_response=None
                if versus_baseline is None
                else _category(hot or ZERO, base_hot or ZERO),
                non_target_response=None,
                new_lesions=finding,
                overall_response=response,
                response_vs_baseline=versus_baseline,
                response_vs_nadir=versus_nadir,
                strict_response=strict,
                sul_peak=hot,
                new_baseline_lesions=ledger.new_baseline_ids[index],
                notes=tuple(notes),
            )
        )
    series_notes = (problem,) if problem else ()
    return patient_assessment(series, Criteria.PERCIST, results, options, series_notes)


def _overall(hot: Decimal, reference: Decimal, resolved: bool, progression: bool) -> Response:
    if progression:
        return Response.PMD
    if resolved:
        return Response.CMR
    return _category(hot, reference)


def _comparable(liver: Decimal, liver_baseline: Decimal) -> bool:
    """Liver means differ by less than 20 % and less than 0.3 SUL (both strict)."""
    difference = abs(liver - liver_baseline)
    return difference < LIVER_TOLERANCE_SUL and 100 * difference < (
        LIVER_TOLERANCE_PCT * liver_baseline
    )


def _complete_metabolic_response(
    readings: list[Decimal], liver: Decimal, blood_pool: Decimal | None, notes: list[str]
) -> bool:
    """Every lesion below the liver mean and at or below the blood pool (PERCIST CMR).

    With no lesion reading left (all absent) the uptake has resolved. A
    reading below the liver with no blood-pool value is not CMR; ``notes``
    then says why.
    """
    if not readings:
        return True
    if not all(r < liver for r in readings):
        return False
    if blood_pool is None:
        notes.append(
            "PERCIST: every lesion is below the liver mean, but CMR also needs the blood-pool "
            "SUL (blood_pool_sul on the liver-reference row)"
        )
        return False
    return all(r <= blood_pool for r in readings)
