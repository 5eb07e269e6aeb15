"""What kind of acquisition a DICOM series is, from a few header facts.

The record files every series under one kind, and ``tumorboard run`` picks
its inputs by kind: multi-station whole-body diffusion (one series per
station, several b-values), PET with its tracer, a DCE dynamic, CT, other MR,
localisers, scanner-made ADC maps, and the result objects (SEG, RTSTRUCT, SR).
The rules are tumorboard's own, written to match what scanners put in the
standard attributes: ImageType (0008,0008), b-values, the number of
acquisitions at one slice position, and the SOP class.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["SeriesFacts", "SeriesKind", "classify_series"]

#: SOP Class UIDs of result objects (PS3.4 Annex B).
SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
SR_STORAGE_PREFIX = "1.2.840.10008.5.1.4.1.1.88."

#: ImageType values of maps a scanner derives from diffusion (not acquired images).
DERIVED_DIFFUSION_TYPES = frozenset({"ADC", "EADC", "FA", "CALC_BVALUE", "EXP", "TRACEW_CALC"})

#: Words of a SeriesDescription that name a localiser (tumorboard's own list).
LOCALISER_WORDS = ("localizer", "localiser", "scout", "survey", "topogram", "3-plane loc")


class SeriesKind(enum.StrEnum):
    """The kinds the record files series under."""

    WBDWI = "wbdwi"
    PET = "pet"
    DCE = "dce"
    CT = "ct"
    MR = "mr"
    LOCALISER = "localiser"
    ADC_MAP = "adc_map"
    SEG = "seg"
    RTSTRUCT = "rtstruct"
    SR = "sr"
    OTHER = "other"


@dataclass(frozen=True)
class SeriesFacts:
    """The header facts of one series that decide its kind.

    Attributes
    ----------
    modality : str
        Modality (0008,0060) of the series, e.g. ``"MR"``.
    sop_class_uid : str
        SOP Class UID of its instances.
    image_type : frozenset of str
        Upper-case values of ImageType (0008,0008) over its instances.
    description : str
        SeriesDescription (0008,103E).
    b_values_s_per_mm2 : frozenset of float
        Diffusion b-values found on its instances (empty when none).
    instances_per_position : int
        The largest number of instances at one slice position; above 1 for a
        dynamic (the same slice acquired again and again).
    temporal_positions : int
        NumberOfTemporalPositions (0020,0105) or the number of distinct
        TemporalPositionIdentifier values, 0 when absent.
    """

    modality: str
    sop_class_uid: str = ""
    image_type: frozenset[str] = field(default_factory=frozenset)
    description: str = ""
    b_values_s_per_mm2: frozenset[float] = field(default_factory=frozenset)
    instances_per_position: int = 1
    temporal_positions: int = 0

    @staticmethod
    def image_type_of(values: Iterable[str]) -> frozenset[str]:
        r"""Normalise ImageType values (``ORIGINAL\PRIMARY\ADC``) to a set.

        Examples
        --------
        >>> sorted(SeriesFacts.image_type_of(["derived\\primary\\ adc "]))
        ['ADC', 'DERIVED', 'PRIMARY']
        """
        found: set[str] = set()
        for value in values:
            found.update(part.strip().upper() for part in value.split("\\") if part.strip())
        return frozenset(found)


def classify_series(facts: SeriesFacts) -> SeriesKind:
    """Name the kind of a series.

    Parameters
    ----------
    facts : SeriesFacts
        The header facts of the series.

    Returns
    -------
    SeriesKind

    Notes
    -----
    Order of the rules: result objects by SOP class or modality; localisers
    (ImageType LOCALIZER or a localiser word in the description); scanner ADC
    and other derived diffusion maps; diffusion (at least two distinct
    b-values, or one b-value series of a multi-b acquisition); a dynamic MR
    (more than one temporal position, or the same position acquired more than
    twice) is DCE; PET; CT; other MR.

    Examples
    --------
    >>> classify_series(SeriesFacts("MR", b_values_s_per_mm2=frozenset({50.0, 900.0})))
    <SeriesKind.WBDWI: 'wbdwi'>
    >>> classify_series(SeriesFacts("MR", image_type=frozenset({"DERIVED", "ADC"}),
    ...                             b_values_s_per_mm2=frozenset({0.0, 900.0})))
    <SeriesKind.ADC_MAP: 'adc_map'>
    >>> classify_series(SeriesFacts("MR", description="3-plane LOC"))
    <SeriesKind.LOCALISER: 'localiser'>
    >>> classify_series(SeriesFacts("MR", temporal_positions=60))
    <SeriesKind.DCE: 'dce'>
    >>> classify_series(SeriesFacts("PT")), classify_series(SeriesFacts("SEG"))
    (<SeriesKind.PET: 'pet'>, <SeriesKind.SEG: 'seg'>)
    """
    modality = facts.modality.upper()
    if facts.sop_class_uid == SEGMENTATION_STORAGE or modality == "SEG":
        return SeriesKind.SEG
    if facts.sop_class_uid == RT_STRUCTURE_SET_STORAGE or modality == "RTSTRUCT":
        return SeriesKind.RTSTRUCT
    if facts.sop_class_uid.startswith(SR_STORAGE_PREFIX) or modality == "SR":
        return SeriesKind.SR
    description = facts.description.lower()
    if "LOCALIZER" in facts.image_type or any(word in description for word in LOCALISER_WORDS):
        return SeriesKind.LOCALISER
    if modality == "MR":
        if facts.image_type & DERIVED_DIFFUSION_TYPES:
            return SeriesKind.ADC_MAP
        if len(facts.b_values_s_per_mm2) >= 2 or (
            facts.b_values_s_per_mm2 and max(facts.b_values_s_per_mm2) > 0
        ):
            return SeriesKind.WBDWI
        if facts.temporal_positions > 1 or facts.instances_per_position > 2:
            return SeriesKind.DCE
        return SeriesKind.MR
    if modality == "PT":
        return SeriesKind.PET
    if modality == "CT":
        return SeriesKind.CT
    return SeriesKind.OTHER
