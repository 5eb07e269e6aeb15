"""The reference NET patient's measurement table as criteria records.

The phantom (:mod:`tumorboard.phantoms.reference_measurements`) writes plain
CSV rows and a plain treatment context; this module parses them with the same
reader as ``tumorboard assess`` so the phantom never depends on the criteria
engine it is used to check.
"""

from __future__ import annotations

from tumorboard.criteria.measurements_csv import parse_measurement_rows
from tumorboard.criteria.records import PatientSeries
from tumorboard.criteria.selection import DrugClass, PatientInfo, PreviousTreatment
from tumorboard.phantoms import reference_measurements


def reference_series() -> PatientSeries:
    """The reference patient's :class:`PatientSeries` (pre-baseline scan attached).

    Examples
    --------
    >>> series = reference_series()
    >>> [tp.label for tp in series.timepoints][:2]
    ['baseline', 'week-12']
    """
    (series,) = parse_measurement_rows(
        reference_measurements.reference_measurement_rows(), reference_measurements.COLUMNS
    )
    return series


def reference_patient_info() -> PatientInfo:
    """Treatment context of the reference patient.

    Examples
    --------
    >>> reference_patient_info().drug
    'everolimus'
    """
    context = reference_measurements.PATIENT_CONTEXT
    previous = context["previous_treatments"]
    assert isinstance(previous, tuple)
    return PatientInfo(
        study_id=str(context["study_id"]),
        drug_class=DrugClass(str(context["drug_class"])),
        drug=str(context["drug"]),
        tumour=str(context["tumour"]),
        previous_treatments=tuple(PreviousTreatment(str(p)) for p in previous),
    )


__all__ = ["reference_patient_info", "reference_series"]
