"""Typed reads of single PET header attributes from pydicom datasets.

One concept: get one attribute's value as the SUV rules need it (text,
finite number, enum member, date-time), treating empty values as absent and
raising :class:`~tumorboard.errors.DicomError` with the series name, the
attribute and the rule broken. Used by :mod:`tumorboard.pet.decay_rules` and
:mod:`tumorboard.pet.suv_header`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from pydicom.dataset import Dataset
from pydicom.tag import BaseTag

from tumorboard.errors import DicomError
from tumorboard.pet.dicom_time import parse_da, parse_dt, parse_tm

E = TypeVar("E", bound=Enum)


def header_value(ds: Dataset, key: str | BaseTag) -> Any:
    """The value of an attribute, or None when absent or empty (bytes decoded as ASCII)."""
    element = ds.get(key)
    if element is None:
        return None
    value = element.value if hasattr(element, "value") else element
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace").strip("\x00 ")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return value


def header_float(ds: Dataset, key: str | BaseTag, where: str) -> float | None:
    """A numeric attribute as a finite float, or None when absent.

    Raises
    ------
    DicomError
        If the value is not a finite number.
    """
    value = header_value(ds, key)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DicomError(f"{where}: {key} is not a number: {value!r}") from None
    if not math.isfinite(number):
        raise DicomError(f"{where}: {key} is not finite: {value!r}")
    return number


def header_enum(enum: type[E], value: Any, keyword: str, where: str) -> E:
    """The member of ``enum`` whose value is ``value`` (case-insensitive).

    Raises
    ------
    DicomError
        If ``value`` is None ("missing") or not one of the members ("not supported").
    """
    if value is None:
        raise DicomError(f"{where}: {keyword} is missing")
    text = str(value).strip().upper()
    for member in enum:
        if member.value == text:
            return member
    names = ", ".join(str(m.value) for m in enum)
    raise DicomError(f"{where}: {keyword} {text!r} is not supported (expected one of {names})")


def same_value(datasets: Sequence[Dataset], keyword: str, where: str) -> Any:
    """The value of ``keyword``, which must be the same in every dataset.

    Raises
    ------
    DicomError
        If the slices disagree (the values are listed; use only for coded
        attributes, never for patient attributes).
    """
    values = {str(header_value(ds, keyword)).strip().upper() for ds in datasets}
    if len(values) > 1:
        raise DicomError(f"{where}: {keyword} differs between slices: {sorted(values)}")
    return header_value(datasets[0], keyword)


def header_datetime(ds: Dataset, date_key: str, time_key: str, where: str) -> datetime | None:
    """Combine a DA and a TM attribute; None when either is absent."""
    day = header_value(ds, date_key)
    clock = header_value(ds, time_key)
    if day is None or clock is None:
        return None
    return datetime.combine(
        parse_da(day, f"{where}: {date_key}"), parse_tm(clock, f"{where}: {time_key}")
    )


def acquisition_datetime(ds: Dataset, where: str) -> datetime | None:
    """AcquisitionDateTime, else AcquisitionTime on the AcquisitionDate (or SeriesDate)."""
    value = header_value(ds, "AcquisitionDateTime")
    if value is not None:
        return parse_dt(value, f"{where}: AcquisitionDateTime")
    clock = header_value(ds, "AcquisitionTime")
    if clock is None:
        return None
    day = header_value(ds, "AcquisitionDate") or header_value(ds, "SeriesDate")
    if day is None:
        return None
    return datetime.combine(
        parse_da(day, f"{where}: AcquisitionDate"), parse_tm(clock, f"{where}: AcquisitionTime")
    )


def frame_duration_s(ds: Dataset, where: str) -> float | None:
    """ActualFrameDuration (0018,1242) in seconds (the header gives milliseconds)."""
    duration_ms = header_float(ds, "ActualFrameDuration", where)
    return None if duration_ms is None else duration_ms / 1000.0


__all__ = [
    "acquisition_datetime",
    "frame_duration_s",
    "header_datetime",
    "header_enum",
    "header_float",
    "header_value",
    "same_value",
]
