from __future__ import annotations

from collections.abc import Callable

from tumorboard.criteria.engine import assess_patient
from tumorboard.criteria.options import AssessmentOptions
from tumorboard.criteria.records import NewLesionFinding, PatientSeries, Response

TABLE = """
baseline,2024-01-01,ct,L1,liver,target,false,40,,,,,present
c,2024-04-01,ct,L1,liver,target,false,38,,,,,present
c,2024-04-01,pet-dotatate,X1,bone,new,false,,,,,,present
d,2024-07-01,ct,L1,liver,target,false,38,,,,,present
d,2024-07-01,pet-dotatate,X1,bone,new,false,,,,,,present
d,2024-07-01,pet-dotatate,X2,bone,new,false,,,,,,present
"""


def test_lesion_on_new_tracer_is_a_new_baseline_lesion(
    make_series: Callable[..., PatientSeries],
) -> None:
    (recist,) = assess_patient(make_series(TABLE), ["recist1.1"])
    second = recist.timepoints[1]
    assert second.overall_response is Response.SD
    assert second.strict_response is Response.PD
    assert second.new_lesions is NewLesionFinding.NO
    assert second.new_baseline_lesions == ("X1",)
    assert "not used at baseline" in " ".join(second.notes)
    # a later lesion on the tracer, now in use, is new disease
    third = recist.timepoints[2]
    assert third.overall_response is Response.PD
    assert third.new_baseline_lesions == ("X1",)


def test_rule_can_be_switched_off(make_series: Callable[..., PatientSeries]) -> None:
    (recist,) = assess_patient(
        make_series(TABLE), ["recist1.1"], AssessmentOptions(new_baseline_rule=False)
    )
    assert recist.timepoints[1].overall_response is Response.PD
    assert recist.timepoints[1].new_baseline_lesions == ()


def test_rule_applies_to_every_criteria(make_series: Callable[..., PatientSeries]) -> None:
    results = assess_patient(make_series(TABLE), ["recist1.1", "irecist", "choi"])
    assert [r.timepoints[1].overall_response for r in results] == [
        Response.SD,
        Response.ISD,
        Response.SD,
    ]
    assert [r.timepoints[1].strict_response for r in results] == [
        Response.PD,
        Response.IUPD,
        Response.PD,
    ]
