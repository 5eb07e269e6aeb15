"""Dates as DICOM (``YYYYMMDD``) and the measurement table (``YYYY-MM-DD``) write them."""

from __future__ import annotations

import datetime as dt

__all__ = ["parse_dicom_date", "parse_iso_date"]


def parse_dicom_date(text: str | None) -> dt.date | None:
    """A DICOM DA value (``YYYYMMDD``) as a date; None when absent or malformed.

    Examples
    --------
    >>> parse_dicom_date("20240108")
    datetime.date(2024, 1, 8)
    >>> parse_dicom_date("2024-01-08") is None, parse_dicom_date("20241399") is None
    (True, True)
    """
    if not text or len(text) != 8 or not text.isdigit():
        return None
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def parse_iso_date(text: str | None) -> dt.date | None:
    """An ISO date (``YYYY-MM-DD``) as a date; None when absent or malformed.

    Examples
    --------
    >>> parse_iso_date("2024-01-08")
    datetime.date(2024, 1, 8)
    >>> parse_iso_date("20240108") is None, parse_iso_date("2024-02-30") is None
    (True, True)
    """
    if not text or len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None
