from __future__ import annotations

from collections.abc import Callable

import pytest

from tumorboard.criteria.new_baseline import build_ledger
from tumorboard.criteria.percist import assess_percist
from tumorboard.criteria.records import PatientSeries, Response

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
        ("10", "1.9", R.CMR),  # at or below the liver mean
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
