"""Build patient series from compact measurement tables for the criteria tests."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest

from tumorboard.criteria.measurements_csv import REQUIRED_COLUMNS, parse_measurement_rows
from tumorboard.criteria.records import PatientSeries

_SHORT = (
    "timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,short_axis_mm,"
    "mean_hu,viable_diameter_mm,sul_peak,status"
)


def table_to_series(text: str, extra: str = "") -> list[PatientSeries]:
    """Parse rows written without ``patient_id`` (one patient, ``P1``).

    ``extra`` names optional columns appended to every row after ``status``.
    """
    header = "patient_id," + _SHORT + ("," + extra if extra else "")
    lines = [header] + ["P1," + line.strip() for line in text.strip().splitlines() if line.strip()]
    reader = csv.DictReader(io.StringIO("\n".join(lines)))
    assert reader.fieldnames is not None
    assert set(REQUIRED_COLUMNS) <= set(reader.fieldnames)
    return parse_measurement_rows(list(reader), reader.fieldnames)


@pytest.fixture
def make_series() -> Callable[..., PatientSeries]:
    """Return a function turning a compact table into the single patient's series."""

    def build(text: str, extra: str = "") -> PatientSeries:
        (series,) = table_to_series(text, extra)
        return series

    return build
