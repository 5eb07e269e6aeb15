"""Domain model of longitudinal response assessment: plain records, no pixels.

A :class:`PatientSeries` holds the patient's ordered :class:`Timepoint` s (the
first is the baseline); each timepoint holds one :class:`LesionMeasurement`
per lesion. Lesion ids are stable across timepoints. Every size is an exact
:class:`~decimal.Decimal` (see :mod:`tumorboard.criteria.decimal_math`).

The records validate themselves when built, so an object that exists is
valid; errors name the source row (``row`` counts the CSV header as row 1)
and the rule, never the patient.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from tumorboard.errors import InputError

#: The lesion id of a PERCIST liver-reference row.
LIVER_REFERENCE_ID = "liver-reference"
#: Timepoint label of an optional pre-treatment scan (used for growth rates only).
PRE_BASELINE_LABEL = "pre-baseline"


class Criteria(StrEnum):
    """Response criteria the engine implements (values are the CLI names)."""

    RECIST11 = "recist1.1"
    IRECIST = "irecist"
    CHOI = "choi"
    MRECIST = "mrecist"
    PERCIST = "percist"

    @property
    def display_name(self) -> str:
        """Name as printed on the form and in SDTM ``RSCAT``."""
        return _CRITERIA_DISPLAY[self]


_CRITERIA_DISPLAY = {
    Criteria.RECIST11: "RECIST 1.1",
    Criteria.IRECIST: "iRECIST",
    Criteria.CHOI: "CHOI",
    Criteria.MRECIST: "mRECIST",
    Criteria.PERCIST: "PERCIST 1.0",
}


class LesionRole(StrEnum):
    """Role of a lesion, fixed when it is first recorded."""

    TARGET = "target"
    NON_TARGET = "non-target"
    NEW = "new"


class LesionStatus(StrEnum):
    """What the reader saw of a lesion at one timepoint."""

    PRESENT = "present"
    ABSENT = "absent"
    TOO_SMALL = "too-small"
    NOT_EVALUATED = "not-evaluated"
    UNEQUIVOCAL_PROGRESSION = "unequivocal-progression"
    EQUIVOCAL = "equivocal"


class Response(StrEnum):
    """Response categories of all criteria (values are the contract codes)."""

    CR = "CR"
    PR = "PR"
    SD = "SD"
    PD = "PD"
    NE = "NE"
    NON_CR_NON_PD = "NON-CR/NON-PD"
    ICR = "iCR"
    IPR = "iPR"
    ISD = "iSD"
    IUPD = "iUPD"
    ICPD = "iCPD"
    CMR = "CMR"
    PMR = "PMR"
    SMD = "SMD"
    PMD = "PMD"


class NewLesionFinding(StrEnum):
    """New-lesion column of an assessment."""

    NO = "no"
    YES = "yes"
    EQUIVOCAL = "equivocal"


def _enum(kind: type[StrEnum], value: object, name: str, row: int | None) -> StrEnum:
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise InputError(f"{_where(row)}{name} must be one of {allowed}; got {value!r}") from None


def _where(row: int | None) -> str:
    return "" if row is None else f"row {row}: "


@dataclass(frozen=True, slots=True)
class LesionMeasurement:
    """One lesion read at one timepoint.

    Parameters
    ----------
    lesion_id : str
        Stable identifier of the lesion across timepoints.
    organ : str
        Organ or site (``"liver"``, ``"lymph node"``); counts toward the
        two-targets-per-organ rule.
    role : LesionRole or str
        ``target``, ``non-target`` or ``new``.
    is_node : bool
        Lymph node: measured by its short axis.
    status : LesionStatus or str
        What was seen (present, absent, too-small, ...).
    modality : str
        Imaging procedure of this reading, lower case (``"ct"``, ``"mr"``,
        ``"pet-fdg"``, ``"pet-dotatate"``).
        A row whose modality is PET (``pet-*``) and that has neither a
        longest diameter nor a short axis is a PET-only reading
        (:attr:`is_pet_only`): PERCIST uses it, the size-based criteria do not.
    longest_diameter_mm, short_axis_mm : Decimal, optional
        In-plane longest diameter and perpendicular short axis.
    mean_hu : Decimal, optional
        Mean attenuation (Choi density).
    viable_diameter_mm : Decimal, optional
        Longest diameter of the enhancing (viable) part (mRECIST).
    sul_peak : Decimal, optional
        PET SULpeak (for the liver-reference row: liver SUL mean).
    sul_sd : Decimal, optional
        Liver-reference SUL standard deviation.
    slice_thickness_mm : Decimal, optional
        Reconstructed slice thickness; thicker than 5 mm raises the
        measurability limit to twice the thickness.
    part_of : str, optional
        Split lesions: each fragment names its parent lesion (fragments are
        summed). Merged lesions: an absorbed lesion names the lesion that
        absorbed it and counts 0 mm.
    intratumoral_nodule : bool
        A new or growing intratumoral nodule (Choi progression).
    tlg_g : Decimal, optional
        Total lesion glycolysis (PERCIST secondary progression rule).
    row : int, optional
        Source row (CSV header = row 1), used in error messages.
    blood_pool_sul : Decimal, optional
        On the liver-reference row: the blood-pool SUL mean of the same scan
        (descending aorta); PERCIST complete metabolic response needs every
        lesion at or below it.
    suv_max : Decimal, optional
        PET SUVmax of the lesion (shown on the case-report form beside
        SULpeak; no criteria uses it).

    Raises
    ------
    InputError
        On a negative size or an unknown role/status.
    """

    lesion_id: str
    organ: str
    role: LesionRole
    is_node: bool
    status: LesionStatus
    modality: str = "ct"
    longest_diameter_mm: Decimal | None = None
    short_axis_mm: Decimal | None = None
    mean_hu: Decimal | None = None
    viable_diameter_mm: Decimal | None = None
    sul_peak: Decimal | None = None
    sul_sd: Decimal | None = None
    slice_thickness_mm: Decimal | None = None
    part_of: str | None = None
    intratumoral_nodule: bool = False
    tlg_g: Decimal | None = None
    row: int | None = None
    blood_pool_sul: Decimal | None = None
    suv_max: Decimal | None = None

    def __post_init__(self) -> None:
        if self.role.__class__ is not LesionRole:
            object.__setattr__(self, "role", _enum(LesionRole, self.role, "role", self.row))
        if self.status.__class__ is not LesionStatus:
            object.__setattr__(self, "status", _enum(LesionStatus, self.status, "status", self.row))
        if not self.lesion_id:
            raise InputError(f"{_where(self.row)}lesion_id must not be empty")
        for name in (
            "longest_diameter_mm",
            "short_axis_mm",
            "viable_diameter_mm",
            "sul_peak",
            "sul_sd",
            "slice_thickness_mm",
            "tlg_g",
            "blood_pool_sul",
            "suv_max",
        ):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise InputError(
                    f"{_where(self.row)}{name} must not be negative (sizes are >= 0); got {value}"
                )
        if self.blood_pool_sul is not None and not self.is_liver_reference:
            raise InputError(
                f"{_where(self.row)}blood_pool_sul belongs on the {LIVER_REFERENCE_ID!r} row; "
                f"lesion {self.lesion_id!r} has one"
            )
        if self.slice_thickness_mm is not None and self.slice_thickness_mm == 0:
            raise InputError(f"{_where(self.row)}slice_thickness_mm must be > 0; got 0")

    @property
    def is_liver_reference(self) -> bool:
        """Whether this is the PERCIST liver-reference row."""
        return self.lesion_id == LIVER_REFERENCE_ID

    @property
    def is_pet_only(self) -> bool:
        """A PET reading without an anatomical size (no longest diameter, no short axis).

        Such a lesion is measured by its SULpeak for PERCIST; the size-based
        criteria (RECIST 1.1, iRECIST, Choi, mRECIST) cannot measure it.
        """
        return (
            self.longest_diameter_mm is None
            and self.short_axis_mm is None
            and self.modality.lower().startswith("pet")
        )


@dataclass(frozen=True, slots=True)
class Timepoint:
    """One imaging timepoint of a patient.

    Parameters
    ----------
    label : str
        Visit label (``"baseline"``, ``"week-12"``); unique within the patient.
    date : datetime.date
        Exam date.
    measurements : tuple of LesionMeasurement
        Lesion readings; the liver-reference row, if any, is kept separately.
    modalities : frozenset of str, optional
        Imaging procedures used; defaults to those of the measurements.
    liver_reference : LesionMeasurement, optional
        PERCIST liver reference; taken from the measurements when one has the
        id ``liver-reference``.

    Attributes
    ----------
    by_id : dict of str to LesionMeasurement
        Lesion readings by lesion id (derived).
    fragments : dict of str to tuple of LesionMeasurement
        Readings whose ``part_of`` names a lesion, keyed by that lesion (derived).

    Raises
    ------
    InputError
        If a lesion id occurs twice at this timepoint.
    """

    label: str
    date: dt.date
    measurements: tuple[LesionMeasurement, ...]
    modalities: frozenset[str] = frozenset()
    liver_reference: LesionMeasurement | None = field(default=None)
    by_id: dict[str, LesionMeasurement] = field(
        init=False, default_factory=dict, compare=False, repr=False
    )
    fragments: dict[str, tuple[LesionMeasurement, ...]] = field(
        init=False, default_factory=dict, compare=False, repr=False
    )

    def __post_init__(self) -> None:
        by_id: dict[str, LesionMeasurement] = {}
        fragments: dict[str, list[LesionMeasurement]] = {}
        lesions: list[LesionMeasurement] = []
        liver = self.liver_reference
        for item in self.measurements:
            if item.lesion_id in by_id or (
                item.is_liver_reference and liver is not None and liver is not item
            ):
                raise InputError(
                    f"{_where(item.row)}duplicate lesion id {item.lesion_id!r} at timepoint "
                    f"{self.label!r} (one row per lesion per timepoint)"
                )
            if item.is_liver_reference:
                liver = item
                continue
            by_id[item.lesion_id] = item
            lesions.append(item)
            if item.part_of is not None:
                fragments.setdefault(item.part_of, []).append(item)
        modalities = self.modalities or frozenset(m.modality for m in self.measurements)
        object.__setattr__(self, "measurements", tuple(lesions))
        object.__setattr__(self, "liver_reference", liver)
        object.__setattr__(self, "modalities", frozenset(modalities))
        object.__setattr__(self, "by_id", by_id)
        object.__setattr__(
            self, "fragments", {key: tuple(value) for key, value in fragments.items()}
        )


@dataclass(frozen=True, slots=True)
class PatientSeries:
    """All timepoints of one patient, baseline first.

    Parameters
    ----------
    patient_id : str
        Identifier (never printed in errors or logs).
    timepoints : tuple of Timepoint
        In acquisition order; the first is the baseline. Dates must increase.
    pre_baseline : Timepoint, optional
        A pre-treatment scan, used only for tumour growth rates.

    Raises
    ------
    InputError
        If there is no baseline lesion, dates are out of order, or the baseline
        breaks the target-lesion rules (see :mod:`tumorboard.criteria.baseline_rules`).
    """

    patient_id: str
    timepoints: tuple[Timepoint, ...]
    pre_baseline: Timepoint | None = None

    def __post_init__(self) -> None:
        from tumorboard.criteria.baseline_rules import check_series

        object.__setattr__(self, "timepoints", tuple(self.timepoints))
        check_series(self)

    @property
    def baseline(self) -> Timepoint:
        """The baseline timepoint."""
        return self.timepoints[0]


@dataclass(frozen=True, slots=True)
class TimepointAssessment:
    """The response of one patient at one timepoint under one criteria.

    At the baseline only the sums are filled; responses are ``None``.
    ``overall_response`` applies the new-baseline-lesion rule (a lesion first
    seen on a modality not used at baseline is a new baseline lesion);
    ``strict_response`` is the literal reading where such a lesion is new
    disease. Both are equal when the rule did not apply.
    """

    timepoint: str
    date: dt.date
    criteria: Criteria
    target_sum_mm: Decimal | None
    change_from_baseline_pct: Decimal | None
    change_from_nadir_pct: Decimal | None
    target_response: Response | None
    non_target_response: Response | None
    new_lesions: NewLesionFinding | None
    overall_response: Response | None
    response_vs_baseline: Response | None
    response_vs_nadir: Response | None
    strict_response: Response | None = None
    mean_hu: Decimal | None = None
    change_in_hu_pct: Decimal | None = None
    sul_peak: Decimal | None = None
    new_baseline_lesions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @classmethod
    def at_baseline(
        cls,
        timepoint: Timepoint,
        criteria: Criteria,
        target_sum_mm: Decimal | None,
        *,
        mean_hu: Decimal | None = None,
        sul_peak: Decimal | None = None,
    ) -> TimepointAssessment:
        """The baseline row of a criteria: the reference values, no responses."""
        return cls(
            timepoint=timepoint.label,
            date=timepoint.date,
            criteria=criteria,
            target_sum_mm=target_sum_mm,
            change_from_baseline_pct=None,
            change_from_nadir_pct=None,
            target_response=None,
            non_target_response=None,
            new_lesions=None,
            overall_response=None,
            response_vs_baseline=None,
            response_vs_nadir=None,
            mean_hu=mean_hu,
            sul_peak=sul_peak,
        )

    def __reduce__(self) -> tuple[type[TimepointAssessment], tuple[object, ...]]:
        """Pickle as constructor arguments (compact and fast across processes)."""
        return (TimepointAssessment, tuple(getattr(self, name) for name in _ASSESSMENT_FIELDS))


@dataclass(frozen=True, slots=True)
class PatientAssessment:
    """Every timepoint of one patient under one criteria, with the best response."""

    patient_id: str
    criteria: Criteria
    timepoints: tuple[TimepointAssessment, ...]
    best_response: Response | None
    best_response_timepoint: str | None
    notes: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[type[PatientAssessment], tuple[object, ...]]:
        """Pickle as constructor arguments."""
        return (
            PatientAssessment,
            (
                self.patient_id,
                self.criteria,
                self.timepoints,
                self.best_response,
                self.best_response_timepoint,
                self.notes,
            ),
        )


_ASSESSMENT_FIELDS = tuple(TimepointAssessment.__dataclass_fields__)
