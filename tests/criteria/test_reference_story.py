from __future__ import annotations

from tumorboard.criteria.engine import assess_patient
from tumorboard.phantoms import reference_measurements as reference
from tumorboard.pipeline import demo_reference


def test_reference_patient_story() -> None:
    series = demo_reference.reference_series()
    assert series.pre_baseline is not None
    assert [tp.label for tp in series.timepoints][0] == "baseline"
    results = {a.criteria.value: a for a in assess_patient(series)}
    for name, expected in reference.EXPECTED.items():
        got = tuple(str(t.overall_response) for t in results[name].timepoints[1:])
        assert got == expected, name
    recist = results["recist1.1"]
    assert str(recist.timepoints[2].strict_response) == reference.EXPECTED_STRICT_WEEK_24
    assert recist.timepoints[2].new_baseline_lesions == ("X1",)
    # Choi PR at week 36 comes from density (-33 %) despite +37.5 % size over the nadir
    choi = results["choi"].timepoints[3]
    assert choi.change_in_hu_pct is not None and choi.change_in_hu_pct <= -15
    assert choi.change_from_nadir_pct is not None and choi.change_from_nadir_pct >= 20


def test_reference_table_is_deterministic() -> None:
    assert reference.reference_measurements_csv() == reference.reference_measurements_csv()
    assert reference.reference_measurements_csv().startswith("patient_id,timepoint,date")
