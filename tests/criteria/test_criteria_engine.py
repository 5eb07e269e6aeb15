from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from tumorboard.criteria.engine import assess_cohort, assess_patient, parse_criteria
from tumorboard.criteria.records import (
    Criteria,
    LesionMeasurement,
    LesionRole,
    LesionStatus,
    PatientSeries,
    Timepoint,
)
from tumorboard.criteria.transport import decode, encode
from tumorboard.errors import InputError


def cohort(rng: np.random.Generator, patients: int) -> list[PatientSeries]:
    result = []
    for p in range(patients):
        sizes = rng.uniform(15, 50, size=3)
        timepoints = []
        for t in range(4):
            rows = tuple(
                LesionMeasurement(
                    lesion_id=f"L{k}",
                    organ=f"organ{k}",
                    role=LesionRole.TARGET,
                    is_node=False,
                    status=LesionStatus.PRESENT,
                    longest_diameter_mm=Decimal(f"{sizes[k] * rng.uniform(0.6, 1.4):.1f}"),
                    mean_hu=Decimal(f"{rng.uniform(40, 90):.1f}"),
                )
                for k in range(3)
            )
            timepoints.append(
                Timepoint(f"t{t}", dt.date(2024, 1, 1) + dt.timedelta(days=50 * t), rows)
            )
        result.append(PatientSeries(f"P{p}", tuple(timepoints)))
    return result


def test_cohort_matches_single_patients_and_transport_is_lossless(
    rng: np.random.Generator,
) -> None:
    patients = cohort(rng, 12)
    together = assess_cohort(patients)
    assert together == [assess_patient(p) for p in patients]
    assert decode(encode(together)) == together


def test_parallel_workers_give_the_same_result(rng: np.random.Generator) -> None:
    patients = cohort(rng, 8)
    assert assess_cohort(patients, ["recist1.1", "choi"], workers=2) == assess_cohort(
        patients, ["recist1.1", "choi"]
    )


def test_parse_criteria() -> None:
    assert parse_criteria(["RECIST1.1", "percist", "recist1.1"]) == (
        Criteria.RECIST11,
        Criteria.PERCIST,
    )
    with pytest.raises(InputError, match="unknown criteria 'recist'"):
        parse_criteria(["recist"])
    with pytest.raises(InputError, match="no criteria"):
        parse_criteria([])
