from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from tumorboard.criteria.irecist import assess_irecist
from tumorboard.criteria.new_baseline import build_ledger
from tumorboard.criteria.records import PatientSeries, Response

R = Response


def table(sums: list[str], extra_rows: str = "", weeks: int = 6) -> str:
    rows = []
    for t, value in enumerate(sums):
        date = dt.date(2024, 1, 1) + dt.timedelta(weeks=weeks * t)
        rows.append(f"tp{t},{date},ct,L1,liver,target,false,{value},,,,,present")
        rows.append(f"tp{t},{date},ct,B1,bone,non-target,false,,,,,,present")
    return "\n".join(rows) + "\n" + extra_rows


def date(t: int, weeks: int = 6) -> str:
    return str(dt.date(2024, 1, 1) + dt.timedelta(weeks=weeks * t))


def irecist(series: PatientSeries) -> list[Response | None]:
    return [t.overall_response for t in assess_irecist(series, build_ledger(series)).timepoints]


@pytest.mark.parametrize(
    ("sums", "expected"),
    [
        # iUPD confirmed by a further >= 5 mm
        (["50", "40", "50", "55"], [None, R.ISD, R.IUPD, R.ICPD]),
        # further growth below 5 mm: remains iUPD
        (["50", "40", "50", "54"], [None, R.ISD, R.IUPD, R.IUPD]),
        # pseudo-progression: shrinks back, bar resets, a later PD is a new iUPD
        (["50", "40", "50", "35", "45", "51"], [None, R.ISD, R.IUPD, R.IPR, R.IUPD, R.ICPD]),
        # iCPD is final
        (["50", "40", "50", "56", "20"], [None, R.ISD, R.IUPD, R.ICPD, R.ICPD]),
    ],
)
def test_irecist_target_sequences(
    make_series: Callable[..., PatientSeries], sums: list[str], expected: list[Response | None]
) -> None:
    assert irecist(make_series(table(sums))) == expected


def test_new_lesions_kept_apart_and_further_new_lesion_confirms(
    make_series: Callable[..., PatientSeries],
) -> None:
    rows = (
        f"tp1,{date(1)},ct,X1,lung,new,false,12,,,,,present\n"
        f"tp2,{date(2)},ct,X1,lung,new,false,13,,,,,present\n"
        f"tp2,{date(2)},ct,X2,lung,new,false,6,,,,,present\n"
    )
    series = make_series(table(["50", "50", "50"], rows))
    result = assess_irecist(series, build_ledger(series))
    assert [t.overall_response for t in result.timepoints] == [None, R.IUPD, R.ICPD]
    assert result.timepoints[1].target_sum_mm == 50  # new lesions not added to the sum
    assert "further new lesion(s) X2" in " ".join(result.timepoints[2].notes)


def test_new_lesion_target_sum_growth_confirms(make_series: Callable[..., PatientSeries]) -> None:
    rows = (
        f"tp1,{date(1)},ct,X1,lung,new,false,12,,,,,present\n"
        f"tp2,{date(2)},ct,X1,lung,new,false,16,,,,,present\n"
        f"tp3,{date(3)},ct,X1,lung,new,false,17,,,,,present\n"
    )
    series = make_series(table(["50", "50", "50", "50"], rows))
    # 12 -> 16 mm is +4 mm: remains iUPD; 17 mm is +5 mm over the iUPD assessment
    assert irecist(series) == [None, R.IUPD, R.IUPD, R.ICPD]


def test_new_lesion_that_resolves_resets(make_series: Callable[..., PatientSeries]) -> None:
    rows = (
        f"tp1,{date(1)},ct,X1,lung,new,false,12,,,,,present\n"
        f"tp2,{date(2)},ct,X1,lung,new,false,,,,,,absent\n"
    )
    series = make_series(table(["50", "50", "40"], rows))
    assert irecist(series) == [None, R.IUPD, R.ISD]


def test_non_target_progression_confirms(make_series: Callable[..., PatientSeries]) -> None:
    text = (
        table(["50", "50", "50"])
        .replace(
            f"tp2,{date(2)},ct,B1,bone,non-target,false,,,,,,present",
            f"tp2,{date(2)},ct,B1,bone,non-target,false,,,,,,unequivocal-progression",
        )
        .replace(
            f"tp1,{date(1)},ct,B1,bone,non-target,false,,,,,,present",
            f"tp1,{date(1)},ct,B1,bone,non-target,false,,,,,,unequivocal-progression",
        )
    )
    assert irecist(make_series(text)) == [None, R.IUPD, R.ICPD]


def test_confirmation_outside_window_is_noted(make_series: Callable[..., PatientSeries]) -> None:
    series = make_series(table(["50", "40", "50", "56"], weeks=12))
    result = assess_irecist(series, build_ledger(series))
    assert result.timepoints[3].overall_response is R.ICPD
    assert "outside the 28-56 day window" in " ".join(result.timepoints[3].notes)
    assert result.best_response is R.ISD  # iBOR
