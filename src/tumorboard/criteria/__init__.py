"""Longitudinal response criteria on measurement records (no images, no files).

Records in, assessments out: :class:`PatientSeries` (timepoints of
:class:`LesionMeasurement` s) is assessed by :func:`assess_patient` under
RECIST 1.1, iRECIST, Choi, mRECIST and PERCIST 1.0, with the new-baseline-lesion
rule, response against baseline and nadir, and best overall response. Sizes
are exact decimals. :func:`read_measurements_csv` parses the CSV contract of
``tumorboard assess``; hyperprogression and prolactinoma rules are in their
own modules.
"""

from tumorboard.criteria.engine import assess_cohort, assess_patient, parse_criteria
from tumorboard.criteria.measurements_csv import read_measurements_csv
from tumorboard.criteria.options import AssessmentOptions, ProgressionReference
from tumorboard.criteria.records import (
    Criteria,
    LesionMeasurement,
    LesionRole,
    LesionStatus,
    NewLesionFinding,
    PatientAssessment,
    PatientSeries,
    Response,
    Timepoint,
    TimepointAssessment,
)

__all__ = [
    "AssessmentOptions",
    "Criteria",
    "LesionMeasurement",
    "LesionRole",
    "LesionStatus",
    "NewLesionFinding",
    "PatientAssessment",
    "PatientSeries",
    "ProgressionReference",
    "Response",
    "Timepoint",
    "TimepointAssessment",
    "assess_cohort",
    "assess_patient",
    "parse_criteria",
    "read_measurements_csv",
]
