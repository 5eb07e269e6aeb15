"""Stable identity of exported objects: UIDs derived from content, fixed dates.

Exporting the same record twice must give byte-identical files, so that a
viewer or PACS sees the same object (same SOPInstanceUID) and not a copy.
Every UID an export writes is :func:`stable_uid` of what the object is made
of (the analysis, the source series, the kind of object), and the dates and
times highdicom would take from the clock (InstanceCreationDate/Time,
ContentDate/Time) and the DimensionOrganizationUID it would draw at random
are set by :func:`stabilise` from the record instead.
"""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

__all__ = ["MANUFACTURER", "quiet", "stabilise", "stable_uid"]

#: Manufacturer written into every exported object.
MANUFACTURER = "tumorboard"


def stable_uid(*parts: str) -> str:
    """A UID derived from ``parts`` (SHA-512 entropy), the same for the same parts.

    It reveals none of the parts (they may be patient ids or source UIDs).

    Parameters
    ----------
    *parts : str
        What the object is (e.g. ``"seg"``, an analysis digest, a source series UID).

    Returns
    -------
    str
        A UID under pydicom's root, at most 64 characters.

    Examples
    --------
    >>> stable_uid("seg", "abc") == stable_uid("seg", "abc")
    True
    >>> stable_uid("seg", "abc") == stable_uid("pm", "abc")
    False
    >>> len(stable_uid("x")) <= 64
    True
    """
    return str(generate_uid(entropy_srcs=["tumorboard-export", *parts]))


def stabilise(dataset: Dataset, when: dt.datetime) -> Dataset:
    """Replace the clock- and random-derived attributes of a highdicom object.

    Sets InstanceCreationDate/Time, ContentDate/Time and the
    ContributionDateTime of highdicom's contributing-equipment entry to
    ``when``, and every DimensionOrganizationUID to a UID derived from the
    SOPInstanceUID.

    Parameters
    ----------
    dataset : pydicom Dataset
        A highdicom SEG, parametric map, SR or other object (changed in place).
    when : datetime
        The moment of the record the object shows (e.g. when its analysis finished).

    Returns
    -------
    pydicom Dataset
        ``dataset``.

    Examples
    --------
    >>> ds = Dataset()
    >>> ds.SOPInstanceUID = "1.2.3"
    >>> ds.InstanceCreationDate = "20990101"
    >>> stabilise(ds, dt.datetime(2024, 1, 8, 9, 30)).InstanceCreationDate
    '20240108'
    """
    date, time = when.strftime("%Y%m%d"), when.strftime("%H%M%S")
    dataset.InstanceCreationDate, dataset.InstanceCreationTime = date, time
    if "ContentDate" in dataset:
        dataset.ContentDate, dataset.ContentTime = date, time
    for item in dataset.get("ContributingEquipmentSequence", []):
        if "ContributionDateTime" in item:  # highdicom's own entry: the time of this run
            item.ContributionDateTime = f"{date}{time}"
    dimension_uid = stable_uid("dimension-organization", str(dataset.SOPInstanceUID))
    for keyword in ("DimensionOrganizationSequence", "DimensionIndexSequence"):
        for item in dataset.get(keyword, []):
            if "DimensionOrganizationUID" in item:
                item.DimensionOrganizationUID = dimension_uid
    return dataset


@contextmanager
def quiet() -> Iterator[None]:
    """Silence highdicom's log and warnings: they may quote header values (names).

    Examples
    --------
    >>> with quiet():
    ...     logging.getLogger("highdicom").warning("Doe^Jane")
    """
    logger = logging.getLogger("highdicom")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)
