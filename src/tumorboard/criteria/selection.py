"""Which criteria fit the drug, and the patient's treatment context on the form.

The NET reading guide: RECIST 1.1 for cytotoxic chemotherapy, Choi for
cytostatic targeted agents (and the other treatments that act by necrosis
and devascularisation: PRRT, somatostatin analogues, SIRT, embolization),
iRECIST for immunotherapy, PERCIST for every drug when PET is done. RECIST
1.1 is always reported as the reference reading. The choice can be
overridden by naming criteria explicitly.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from tumorboard.criteria.decimal_math import to_decimal
from tumorboard.criteria.pituitary import ProlactinomaReading
from tumorboard.criteria.records import Criteria, PatientSeries
from tumorboard.errors import InputError


class DrugClass(StrEnum):
    """Mechanism class of the current treatment."""

    CYTOTOXIC = "cytotoxic"
    TARGETED = "targeted"
    IMMUNOTHERAPY = "immunotherapy"
    SOMATOSTATIN_ANALOGUE = "somatostatin-analogue"
    PRRT = "prrt"
    LOCOREGIONAL = "locoregional"


class PreviousTreatment(StrEnum):
    """Previous treatments listed on the case-report form."""

    SURGERY = "surgery"
    THERMAL_ABLATION = "thermal-ablation"
    LIVER_EMBOLIZATION = "liver-embolization"
    SIRT = "sirt"
    PRRT = "prrt"
    CHEMOTHERAPY = "chemotherapy"
    TARGETED = "targeted"
    IMMUNOTHERAPY = "immunotherapy"
    SOMATOSTATIN_ANALOGUE = "somatostatin-analogue"


_BY_DRUG = {
    DrugClass.CYTOTOXIC: (Criteria.RECIST11,),
    DrugClass.TARGETED: (Criteria.RECIST11, Criteria.CHOI),
    DrugClass.IMMUNOTHERAPY: (Criteria.RECIST11, Criteria.IRECIST),
    DrugClass.SOMATOSTATIN_ANALOGUE: (Criteria.RECIST11, Criteria.CHOI),
    DrugClass.PRRT: (Criteria.RECIST11, Criteria.CHOI),
    DrugClass.LOCOREGIONAL: (Criteria.RECIST11, Criteria.MRECIST, Criteria.CHOI),
}


@dataclass(frozen=True, slots=True)
class PatientInfo:
    """Treatment context shown on the form (from ``--patient PATIENT.json``).

    Parameters
    ----------
    study_id : str
        Study identifier (SDTM ``STUDYID``).
    drug_class : DrugClass or str, optional
        Current treatment class; chooses the criteria.
    drug : str
        Drug name, as free text.
    tumour : str
        Diagnosis, e.g. ``"pancreatic NET G2"``.
    previous_treatments : tuple of PreviousTreatment or str
        Treatments before the current one.
    prolactinoma : ProlactinomaReading, optional
        Prolactin and tumour volumes of a pituitary prolactinoma.
    previous_treatments_known : bool, optional
        Whether the previous treatments were stated (an unticked box then
        means "not given"); default: known when any is listed.
    patient_name, birth_date : str
        Identity for the identified form only (``birth_date`` ISO
        ``YYYY-MM-DD``); never logged, left out of ``repr``.
    """

    study_id: str = "TUMORBOARD"
    drug_class: DrugClass | None = None
    drug: str = ""
    tumour: str = ""
    previous_treatments: tuple[PreviousTreatment, ...] = ()
    prolactinoma: ProlactinomaReading | None = None
    previous_treatments_known: bool | None = None
    patient_name: str = field(default="", repr=False)
    birth_date: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if self.drug_class is not None:
            try:
                object.__setattr__(self, "drug_class", DrugClass(self.drug_class))
            except ValueError:
                allowed = ", ".join(d.value for d in DrugClass)
                raise InputError(
                    f"drug_class must be one of {allowed}; got {self.drug_class!r}"
                ) from None
        treatments = []
        for item in self.previous_treatments:
            try:
                treatments.append(PreviousTreatment(item))
            except ValueError:
                allowed = ", ".join(t.value for t in PreviousTreatment)
                raise InputError(
                    f"previous_treatments: each must be one of {allowed}; got {item!r}"
                ) from None
        object.__setattr__(self, "previous_treatments", tuple(treatments))
        if self.previous_treatments_known is None:
            object.__setattr__(self, "previous_treatments_known", bool(treatments))
        if self.birth_date:
            try:
                dt.date.fromisoformat(self.birth_date)
            except ValueError:
                raise InputError("birth_date must be an ISO date YYYY-MM-DD") from None
        if not self.study_id.strip():
            raise InputError("study_id must not be empty")


def patient_info_from_mapping(data: Mapping[str, object], source: str = "patient") -> PatientInfo:
    """Build :class:`PatientInfo` from parsed JSON, naming ``source`` in errors.

    Unknown keys are errors (a misspelt key would silently change the criteria).
    """
    allowed = {"study_id", "drug_class", "drug", "tumour", "previous_treatments", "prolactinoma"}
    allowed |= {"patient_name", "birth_date"}
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InputError(f"{source}: unknown key(s) {', '.join(unknown)}")
    treatments = data.get("previous_treatments", [])
    if not isinstance(treatments, list):
        raise InputError(f"{source}: previous_treatments must be a list")
    texts = {}
    for key in ("study_id", "drug", "tumour", "patient_name", "birth_date"):
        value = data.get(key, "" if key != "study_id" else "TUMORBOARD")
        if not isinstance(value, str):
            raise InputError(f"{source}: {key} must be text; got {type(value).__name__}")
        texts[key] = value
    drug_class = data.get("drug_class")
    if drug_class is not None and not isinstance(drug_class, str):
        raise InputError(f"{source}: drug_class must be text")
    try:
        return PatientInfo(
            prolactinoma=_prolactinoma(data.get("prolactinoma")),
            study_id=texts["study_id"],
            drug_class=drug_class,  # type: ignore[arg-type]  # converted on construction
            drug=texts["drug"],
            tumour=texts["tumour"],
            previous_treatments=tuple(_treatment(t) for t in treatments),
            previous_treatments_known="previous_treatments" in data,
            patient_name=texts["patient_name"].strip(),
            birth_date=texts["birth_date"].strip(),
        )
    except InputError as exc:
        raise InputError(f"{source}: {exc}") from None


_PROLACTINOMA_KEYS = (
    "prolactin_ug_per_l",
    "upper_limit_normal_ug_per_l",
    "baseline_size_ml",
    "current_size_ml",
)


def _prolactinoma(value: object) -> ProlactinomaReading | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InputError("prolactinoma must be an object with " + ", ".join(_PROLACTINOMA_KEYS))
    missing = [k for k in _PROLACTINOMA_KEYS if k not in value]
    unknown = sorted(set(value) - set(_PROLACTINOMA_KEYS))
    if missing or unknown:
        raise InputError(
            f"prolactinoma: missing {', '.join(missing) or 'nothing'}, "
            f"unknown {', '.join(unknown) or 'nothing'}"
        )
    numbers = []
    for key in _PROLACTINOMA_KEYS:
        item = value[key]
        if isinstance(item, bool) or not isinstance(item, int | float | str):
            raise InputError(f"prolactinoma: {key} must be a number; got {item!r}")
        numbers.append(to_decimal(item, f"prolactinoma: {key}"))
    return ProlactinomaReading(*numbers)


def _treatment(value: object) -> PreviousTreatment:
    try:
        return PreviousTreatment(str(value))
    except ValueError:
        allowed = ", ".join(t.value for t in PreviousTreatment)
        raise InputError(
            f"previous_treatments: each must be one of {allowed}; got {value!r}"
        ) from None


def recommended_criteria(drug_class: DrugClass | str | None) -> tuple[Criteria, ...]:
    """Criteria the reading guide recommends for a drug class (PERCIST added when PET is used)."""
    if drug_class is None:
        return tuple(Criteria)
    return _BY_DRUG[DrugClass(drug_class)]


def choose_criteria(
    series: Sequence[PatientSeries], drug_class: DrugClass | str | None
) -> tuple[Criteria, ...]:
    """Criteria to apply when the user did not name them.

    With a drug class: the recommended criteria, plus PERCIST when any
    baseline has PET SULpeak readings. Without one: all five (criteria whose
    data are missing report NE with the reason, rather than disappearing).
    """
    if drug_class is None:
        return tuple(Criteria)
    has_pet = any(m.sul_peak is not None for s in series for m in s.baseline.measurements)
    chosen = list(recommended_criteria(drug_class))
    if has_pet and Criteria.PERCIST not in chosen:
        chosen.append(Criteria.PERCIST)
    return tuple(chosen)
