"""Stable identity of exported objects: UIDs derived from content, fixed dates.

Exporting the same record twice must give byte-identical files, so that a
viewer or PACS sees the same object (same SOPInstanceUID) and not a copy.
Every UID an export writes is :func:`stable_uid` of what the object is made
of (the analysis, the source series, the kind of object), and the dates and
times highdicom would take from the clock (InstanceCreationDate/Time,
ContentDate/Time) and the DimensionOrganizationUID it would draw at random
are set by :func:`stabilise` from the record instead.

A result that changed (a new analysis of the exam, a re-signed form) is a new
*version* of its object: the caller numbers the versions from the record
(1, 2, ...), :func:`versioned_key` makes every version after the first a
different object (new SeriesInstanceUID and SOPInstanceUID) and
:func:`versioned_description` says so in the SeriesDescription
(``"... v2, replaces v1"``). The first version keeps the UIDs and the
description of an unversioned export, so objects already in a PACS stay the
same objects.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydicom.dataset import Dataset
from pydicom.uid import generate_uid

__all__ = [
    "MANUFACTURER",
    "copy_deidentification",
    "quiet",
    "stabilise",
    "stable_uid",
    "versioned_description",
    "versioned_key",
]

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


#: Attributes recording a de-identification (PS3.15), carried from source to derived object.
_DEIDENTIFICATION = (
    "PatientIdentityRemoved",
    "DeidentificationMethod",
    "DeidentificationMethodCodeSequence",
)


def copy_deidentification(source: Dataset, target: Dataset) -> Dataset:
    """Copy the record of a de-identification (PatientIdentityRemoved, method) to ``target``.

    Examples
    --------
    >>> source, target = Dataset(), Dataset()
    >>> source.PatientIdentityRemoved = "YES"
    >>> str(copy_deidentification(source, target).PatientIdentityRemoved)
    'YES'
    """
    for keyword in _DEIDENTIFICATION:
        if keyword in source:
            target[keyword] = source[keyword]
    return target


def _check_version(version: int) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"object version must be an integer >= 1, got {version!r}")


def versioned_key(key: str, version: int) -> str:
    """The identity of version ``version`` of the object ``key`` (its UIDs derive from it).

    Examples
    --------
    >>> versioned_key("seg/abc", 1), versioned_key("seg/abc", 2)
    ('seg/abc', 'seg/abc/v2')
    """
    _check_version(version)
    return key if version == 1 else f"{key}/v{version}"


def versioned_description(description: str, version: int) -> str:
    """The SeriesDescription of version ``version`` (at most 64 characters).

    Examples
    --------
    >>> versioned_description("tumorboard PET lesions", 1)
    'tumorboard PET lesions'
    >>> versioned_description("tumorboard PET lesions", 3)
    'tumorboard PET lesions v3, replaces v2'
    >>> len(versioned_description("x" * 80, 12))
    64
    """
    _check_version(version)
    if version == 1:
        return description[:64]
    suffix = f" v{version}, replaces v{version - 1}"
    return description[: 64 - len(suffix)].rstrip() + suffix


@contextmanager
def quiet() -> Iterator[None]:
    """Silence highdicom's log and warnings: they may quote header values (names).

    Also makes highdicom's IOD look-ups fast (:func:`_memoise_iod_lookups`).

    Examples
    --------
    >>> with quiet():
    ...     logging.getLogger("highdicom").warning("Doe^Jane")
    """
    _memoise_iod_lookups()
    logger = logging.getLogger("highdicom")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _memoise_iod_lookups() -> None:
    """Remember highdicom's answers to "is this attribute in that IOD?".

    highdicom 0.28 asks it for every source image of a SEG or Parametric Map
    (is it an image? is it multi-frame?) and each answer walks the standard's
    module tables again: two thirds of the time of a whole-body export with a
    few hundred source images. The answer depends only on the attribute, the
    SOP class and the excluded path elements, so it is kept.
    """
    try:  # a private helper of highdicom: where a release renames it, export just runs slower
        import highdicom._standard_utils as standard

        lookup = standard.is_attribute_in_iod
    except (ImportError, AttributeError):
        return
    if getattr(lookup, "tumorboard_memoised", False):
        return
    remembered = functools.lru_cache(maxsize=4096)(
        lambda attribute, sop_class_uid, excluded: lookup(
            attribute, sop_class_uid, None if excluded is None else list(excluded)
        )
    )

    def memoised(attribute: str, sop_class_uid: str, exclude_path_elements: Any = None) -> bool:
        excluded = None if exclude_path_elements is None else tuple(exclude_path_elements)
        return bool(remembered(attribute, str(sop_class_uid), excluded))

    memoised.tumorboard_memoised = True  # type: ignore[attr-defined]
    standard.is_attribute_in_iod = memoised
