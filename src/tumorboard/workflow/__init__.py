"""Orchestration of the record: import studies, choose what to compute, run it once.

The one place that decides what to compute for a patient and with which
reference; the command line, the web app and the cohort runner all call it.
"""

from tumorboard.workflow.dicom_import import ImportSummary, import_paths
from tumorboard.workflow.series_kind import SeriesFacts, SeriesKind, classify_series

__all__ = ["ImportSummary", "SeriesFacts", "SeriesKind", "classify_series", "import_paths"]
