from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from tumorboard.criteria.engine import assess_patient
from tumorboard.criteria.new_baseline import build_ledger
from tumorboard.criteria.percist import assess_percist
from tumorboard.criteria.records import PatientSeries, Response
from tumorboard.errors import InputError

R = Response


def pet(baseline_sul: str, follow_sul: str, liver_follow: str = "2.0", extra: str = "") -> str:
    return (
        f"baseline,2024-01-01,pet-fdg,L1,liver,target,false,30,,,,{baseline_sul},present,\n"
        "baseline,2024-01-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n"
        f"f,2024-03-01,pet-fdg,L1,liver,target,false,30,,,,{follow_sul},present,\n"
        f"f,2024-03-01,pet-fdg,liver-reference,liver,,,,,,,{liver_follow},,0.2\n" + extra
    )


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("10", "7", R.PMR),  # -30 %, -3.0 SUL
        ("10", "7.1", R.SMD),  # -29 %
        ("10", "13", R.PMD),  # +30 %, +3.0
        ("3.5", "4.55", R.PMD),  # +30 % and +1.05 SUL
        ("10", "1.9", R.PMR),  # below the liver mean, but no blood pool given: not CMR
    ],
)
def test_percist_categories(
    make_series: Callable[..., PatientSeries], before: str, after: str, expected: Response
) -> None:
    series = make_series(pet(before, after), extra="sul_sd")
    result = assess_percist(series, build_ledger(series))
    assert result.timepoints[1].overall_response is expected


def test_percist_small_absolute_change_is_stable(
    make_series: Callable[..., PatientSeries],
) -> None:
    # +33 % but only +0.7 SUL: below the 0.8 SUL floor
    text = (
        "baseline,2024-01-01,pet-fdg,L1,liver,target,false,30,,,,4.3,present,\n"
        "baseline,2024-01-01,pet-fdg,liver-reference,liver,,,,,,,1.2,,0.1\n"
        "f,2024-03-01,pet-fdg,L1,liver,target,false,30,,,,5.0,present,\n"
        "f,2024-03-01,pet-fdg,liver-reference,liver,,,,,,,1.2,,0.1\n"
    )
    series = make_series(text, extra="sul_sd")
    assert assess_percist(series, build_ledger(series)).timepoints[1].overall_response is R.SMD


def test_percist_liver_reference_must_be_comparable(
    make_series: Callable[..., PatientSeries],
) -> None:
    series = make_series(pet("10", "7", liver_follow="2.5"), extra="sul_sd")
    result = assess_percist(series, build_ledger(series))
    assert result.timepoints[1].overall_response is R.NE
    assert "not comparable" in " ".join(result.timepoints[1].notes)


def test_percist_measurability_threshold(make_series: Callable[..., PatientSeries]) -> None:
    # 1.5 x 2.0 + 2 x 0.2 = 3.4: a hottest lesion of 3.3 is not measurable
    series = make_series(pet("3.3", "2.0"), extra="sul_sd")
    result = assess_percist(series, build_ledger(series))
    assert result.timepoints[1].overall_response is R.NE
    assert "below the measurability threshold" in result.notes[0]


def test_percist_new_lesion_is_progression(make_series: Callable[..., PatientSeries]) -> None:
    new = "f,2024-03-01,pet-fdg,X1,bone,new,false,,,,,6,present,\n"
    series = make_series(pet("10", "7", extra=new), extra="sul_sd")
    result = assess_percist(series, build_ledger(series))
    assert result.timepoints[1].overall_response is R.PMD
    assert result.timepoints[1].response_vs_nadir is R.PMD


def test_percist_tlg_rule(make_series: Callable[..., PatientSeries]) -> None:
    text = (
        "baseline,2024-01-01,pet-fdg,L1,liver,target,false,30,,,,10,present,,100\n"
        "baseline,2024-01-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2,\n"
        "f,2024-03-01,pet-fdg,L1,liver,target,false,30,,,,10,present,,176\n"
        "f,2024-03-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2,\n"
    )
    series = make_series(text, extra="sul_sd,tlg_g")
    assert assess_percist(series, build_ledger(series)).timepoints[1].overall_response is R.PMD


# PET-only lesions: a pet-* row with sul_peak and no diameter.
_PET_ONLY_HEADER = "sul_sd"


def _pet_only_scans() -> str:
    """Baseline hottest P1 (10.0); at follow-up P1 has cooled and P3, never listed, is hottest."""
    return (
        "baseline,2024-01-01,pet-fdg,P1,liver,target,false,,,,,10.0,present,\n"
        "baseline,2024-01-01,pet-fdg,P2,bone,target,false,,,,,6.0,present,\n"
        "baseline,2024-01-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n"
        "f1,2024-03-01,pet-fdg,P3,lymph node,target,false,,,,,13.5,present,\n"
        "f1,2024-03-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n"
        "f2,2024-05-01,pet-fdg,P3,lymph node,target,false,,,,,6.5,present,\n"
        "f2,2024-05-01,pet-fdg,P1,liver,target,false,,,,,4.0,present,\n"
        "f2,2024-05-01,pet-fdg,liver-reference,liver,,,,,,,2.1,,0.2\n"
    )


def test_pet_only_target_without_diameter_is_accepted_and_percist_uses_it(
    make_series: Callable[..., PatientSeries],
) -> None:
    series = make_series(_pet_only_scans(), extra=_PET_ONLY_HEADER)
    result = assess_percist(series, build_ledger(series))
    sul = [t.sul_peak for t in result.timepoints]
    # the hottest lesion of each scan: P1, then P3 (a different id), then P3
    assert sul == [Decimal("10.0"), Decimal("13.5"), Decimal("6.5")]
    # +35 % and +3.5 SUL over the baseline hottest lesion -> PMD
    assert result.timepoints[1].overall_response is R.PMD
    # -35 % and -3.5 SUL below the baseline -> PMR; vs the nadir (10.0) as well
    assert result.timepoints[2].overall_response is R.PMR
    assert result.timepoints[2].response_vs_nadir is R.PMR
    assert result.timepoints[2].change_from_baseline_pct == Decimal(-35)


def test_pet_only_lesions_make_size_criteria_ne_without_failing(
    make_series: Callable[..., PatientSeries],
) -> None:
    series = make_series(_pet_only_scans(), extra=_PET_ONLY_HEADER)
    results = {a.criteria.value: a for a in assess_patient(series)}
    assert [t.overall_response for t in results["percist"].timepoints[1:]] == [R.PMD, R.PMR]
    for name in ("recist1.1", "mrecist", "choi", "irecist"):
        assessment = results[name]
        assert all(t.overall_response is R.NE for t in assessment.timepoints[1:]), name
        assert assessment.timepoints[0].target_sum_mm is None
        assert any("read on PET only" in note for note in assessment.notes), name
    assert not any("read on PET only" in n for n in results["percist"].notes)


def test_pet_only_targets_beside_ct_targets(make_series: Callable[..., PatientSeries]) -> None:
    # five CT targets plus two PET-only targets: counted apart, RECIST sums the CT ones only
    ct = "".join(
        f"{tp},{date},ct,T{k},organ{k},target,false,{size},,,,,present,\n"
        for tp, date, size in (("baseline", "2024-01-01", 20), ("f", "2024-03-01", 13))
        for k in range(5)
    )
    text = ct + (
        "baseline,2024-01-01,pet-fdg,P1,liver,target,false,,,,,9.0,present,\n"
        "baseline,2024-01-01,pet-fdg,P2,liver,target,false,,,,,5.0,present,\n"
        "baseline,2024-01-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n"
        "f,2024-03-01,pet-fdg,P1,liver,target,false,,,,,5.0,present,\n"
        "f,2024-03-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n"
    )
    series = make_series(text, extra=_PET_ONLY_HEADER)
    results = {a.criteria.value: a for a in assess_patient(series, ["recist1.1", "percist"])}
    recist = results["recist1.1"].timepoints
    assert recist[0].target_sum_mm == Decimal(100)
    assert recist[1].target_sum_mm == Decimal(65)
    assert recist[1].overall_response is R.PR
    percist = results["percist"].timepoints[1]
    assert percist.sul_peak == Decimal("5.0")
    assert percist.overall_response is R.PMR  # 9.0 -> 5.0: -44 %, -4.0 SUL


def test_pet_only_reading_of_a_ct_target_is_ne_for_recist(
    make_series: Callable[..., PatientSeries],
) -> None:
    # the follow-up is a PET scan only: the CT target has a PET row without diameter
    text = (
        "baseline,2024-01-01,ct,L1,liver,target,false,40,,,,8.0,present,\n"
        "baseline,2024-01-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n"
        "f,2024-03-01,pet-fdg,L1,liver,target,false,,,,,4.0,present,\n"
        "f,2024-03-01,pet-fdg,liver-reference,liver,,,,,,,2.0,,0.2\n"
    )
    series = make_series(text, extra=_PET_ONLY_HEADER)
    recist, percist = assess_patient(series, ["recist1.1", "percist"])
    assert recist.timepoints[1].overall_response is R.NE
    assert percist.timepoints[1].overall_response is R.PMR


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (  # a present PET-only target needs its SULpeak
            "baseline,2024-01-01,pet-fdg,P1,liver,target,false,,,,,,present\n",
            "row 2: rule 'PET-only targets are measured by their SULpeak'",
        ),
        (  # six PET-only targets on one scan
            "".join(
                f"baseline,2024-01-01,pet-fdg,P{k},organ{k},target,false,,,,,5,present\n"
                for k in range(6)
            ),
            "row 7: rule 'at most 5 PET target lesions per scan (PERCIST)'",
        ),
        (  # three PET-only targets in one organ
            "".join(
                f"baseline,2024-01-01,pet-fdg,P{k},liver,target,false,,,,,5,present\n"
                for k in range(3)
            ),
            "row 4: rule 'at most 2 PET target lesions per scan (PERCIST) per organ'",
        ),
        (  # a CT target that is not at baseline is still an error
            "baseline,2024-01-01,pet-fdg,P1,liver,target,false,,,,,5,present\n"
            "f,2024-03-01,ct,L9,liver,target,false,30,,,,,present\n",
            "row 3: target lesion 'L9' at 'f' is not at baseline",
        ),
        (  # a PET-only target of one scan cannot turn into a new lesion later
            "baseline,2024-01-01,pet-fdg,P1,liver,target,false,,,,,5,present\n"
            "f,2024-03-01,pet-fdg,P2,liver,target,false,,,,,5,present\n"
            "g,2024-05-01,pet-fdg,P2,liver,new,false,,,,,5,present\n",
            "row 4: lesion 'P2' was a PET-only target at an earlier scan",
        ),
    ],
)
def test_pet_only_rules(make_series: Callable[..., PatientSeries], rows: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        make_series(rows)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_hottest_lesion_per_scan_as_records() -> None:
    """The recipe for PET pipelines: one PET-only target per scan (its hottest lesion).

    The hottest lesion's id differs between the scans (lesions are not matched);
    PERCIST compares the two SULpeaks, and the size criteria report NE.
    """
    import datetime as dt

    from tumorboard.criteria.records import (
        LIVER_REFERENCE_ID,
        LesionMeasurement,
        LesionRole,
        LesionStatus,
        Timepoint,
    )

    def scan(label: str, day: dt.date, hottest: str, sul: str) -> Timepoint:
        lesion = LesionMeasurement(
            lesion_id=hottest,
            organ="liver",
            role=LesionRole.TARGET,
            is_node=False,
            status=LesionStatus.PRESENT,
            modality="pet-fdg",
            sul_peak=Decimal(sul),
        )
        liver = LesionMeasurement(
            lesion_id=LIVER_REFERENCE_ID,
            organ="liver",
            role=LesionRole.NON_TARGET,
            is_node=False,
            status=LesionStatus.PRESENT,
            modality="pet-fdg",
            sul_peak=Decimal("2.0"),
            sul_sd=Decimal("0.25"),
        )
        return Timepoint(label=label, date=day, measurements=(lesion, liver))

    series = PatientSeries(
        patient_id="x",
        timepoints=(
            scan("baseline", dt.date(2024, 1, 1), "L3", "12.0"),
            scan("follow-up", dt.date(2024, 3, 1), "L7", "7.5"),
        ),
    )
    percist, recist = assess_patient(series, ["percist", "recist1.1"])
    assert percist.timepoints[1].overall_response is R.PMR  # 12.0 -> 7.5: -37.5 %, -4.5 SUL
    assert percist.timepoints[1].sul_peak == Decimal("7.5")
    assert recist.timepoints[1].overall_response is R.NE
