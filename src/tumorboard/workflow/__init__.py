"""Orchestration of the record: import studies, choose what to compute, run it once.

The one place that decides what to compute for a patient and with which
reference; the command line, the web app and the cohort runner all call it.
"""

from typing import TYPE_CHECKING, Any

from tumorboard.workflow.series_kind import SeriesFacts, SeriesKind, classify_series

if TYPE_CHECKING:
    from tumorboard.workflow.dicom_import import ImportSummary, import_paths

__all__ = ["ImportSummary", "SeriesFacts", "SeriesKind", "classify_series", "import_paths"]


def __getattr__(name: str) -> Any:
    """Load the importer (pydicom and the DICOM readers) only when it is asked for."""
    if name in ("ImportSummary", "import_paths"):
        from tumorboard.workflow import dicom_import

        return getattr(dicom_import, name)
    raise AttributeError(f"module 'tumorboard.workflow' has no attribute {name!r}")
