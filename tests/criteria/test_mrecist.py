from __future__ import annotations

from collections.abc import Callable

from tumorboard.criteria.engine import assess_patient
from tumorboard.criteria.records import PatientSeries, Response


def test_mrecist_uses_viable_diameters(make_series: Callable[..., PatientSeries]) -> None:
    series = make_series(
        "baseline,2024-01-01,ct,L1,liver,target,false,50,,,40,,present\n"
        "c,2024-03-01,ct,L1,liver,target,false,52,,,20,,present\n"
        "d,2024-05-01,ct,L1,liver,target,false,52,,,0,,present\n"
    )
    recist, mrecist = assess_patient(series, ["recist1.1", "mrecist"])
    assert [t.overall_response for t in recist.timepoints[1:]] == [Response.SD, Response.SD]
    assert [t.overall_response for t in mrecist.timepoints[1:]] == [Response.PR, Response.CR]
    assert mrecist.timepoints[0].target_sum_mm == 40


def test_mrecist_without_viable_diameters_is_not_evaluable(
    make_series: Callable[..., PatientSeries],
) -> None:
    series = make_series(
        "baseline,2024-01-01,ct,L1,liver,target,false,50,,,,,present\n"
        "c,2024-03-01,ct,L1,liver,target,false,52,,,,,present\n"
    )
    (mrecist,) = assess_patient(series, ["mrecist"])
    assert mrecist.timepoints[1].overall_response is Response.NE
    assert mrecist.best_response is Response.NE
