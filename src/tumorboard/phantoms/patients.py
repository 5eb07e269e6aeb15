"""The reference patients and their single timelines.

The embedded reference data hold three synthetic patients. They share the
analytic torso (:mod:`tumorboard.phantoms.torso`) but nothing else: each has
its own identifier, diagnosis and one dated timeline that every modality's
phantom takes its dates from, so the case-report form, the PET, the DCE and the
WB-DWI of one patient never contradict each other.

* **NET patient** (``TB-REF-0001``): pancreatic NET G2 after surgery and a
  somatostatin analogue. Everolimus from January 2024 (the case-report form:
  contrast CT with an FDG PET/CT at every visit; the first 68Ga-DOTATATE PET at
  week 24), progression at week 48 (December 2024), then the PRRT work-up
  (dual-tracer DOTATATE and FDG PET, liver DCE-MRI), PRRT from January 2025,
  liver DCE two months after the first cycle and PET four months after it.
* **Breast patient** (``TB-REF-0002``): metastatic breast cancer followed by
  whole-body DWI over two lines of hormonal therapy (2025-2026).
* **Pituitary patient** (``TB-REF-0003``): somatotroph adenoma with a
  remnant, sellar MRI and 11C-methionine PET (April 2025).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class TimelineEvent:
    """One dated event of a patient.

    Attributes
    ----------
    key : str
        Stable identifier (``"pet-dotatate-pre-prrt"``).
    date : datetime.date
    what : str
        Plain-language description.
    tracers : tuple of str
        PET tracers used that day (``"fdg"``, ``"dotatate"``, ``"methionine"``).
    """

    key: str
    date: dt.date
    what: str
    tracers: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReferencePatient:
    """A synthetic reference patient and its timeline.

    Attributes
    ----------
    key : str
        Short name used by the demo (``"net"``).
    patient_id : str
        Synthetic identifier written in its DICOM headers and tables.
    label : str
        What the demo report calls the patient.
    diagnosis : str
    events : tuple of TimelineEvent
        In date order.
    """

    key: str
    patient_id: str
    label: str
    diagnosis: str
    events: tuple[TimelineEvent, ...]

    def __post_init__(self) -> None:
        dates = [event.date for event in self.events]
        if dates != sorted(dates):
            raise ValueError(f"{self.key}: timeline events are not in date order")
        keys = [event.key for event in self.events]
        if len(set(keys)) != len(keys):
            raise ValueError(f"{self.key}: repeated timeline event key")

    def date_of(self, key: str) -> dt.date:
        """Date of the event ``key``.

        Examples
        --------
        >>> NET_PATIENT.date_of("ct-baseline").isoformat()
        '2024-01-08'
        """
        for event in self.events:
            if event.key == key:
                return event.date
        raise KeyError(f"{self.key}: no timeline event {key!r}")

    def first_use(self, tracer: str) -> dt.date | None:
        """Date of the first PET with ``tracer`` (None if never used).

        Examples
        --------
        >>> NET_PATIENT.first_use("dotatate").isoformat()
        '2024-06-24'
        """
        dates = [event.date for event in self.events if tracer in event.tracers]
        return min(dates) if dates else None

    def period(self, *keys: str) -> str:
        """``first date to last date`` of the named events (all events when none given).

        Examples
        --------
        >>> PITUITARY_PATIENT.period()
        '2025-04-02'
        """
        chosen = [e for e in self.events if not keys or e.key in keys]
        first, last = min(e.date for e in chosen), max(e.date for e in chosen)
        return first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"

    def heading(self, *keys: str) -> str:
        """The line the demo report shows above a section of this patient.

        Examples
        --------
        >>> PITUITARY_PATIENT.heading()
        'Pituitary patient (TB-REF-0003, somatotroph pituitary adenoma with a remnant), 2025-04-02'
        """
        return f"{self.label} ({self.patient_id}, {self.diagnosis}), {self.period(*keys)}"


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


NET_PATIENT = ReferencePatient(
    key="net",
    patient_id="TB-REF-0001",
    label="NET patient",
    diagnosis="pancreatic NET G2 with liver, nodal and bone metastases",
    events=(
        TimelineEvent("ct-pre-baseline", _d("2023-10-02"), "contrast CT three months before"),
        TimelineEvent(
            "ct-baseline",
            _d("2024-01-08"),
            "contrast CT and FDG PET/CT; everolimus starts",
            ("fdg",),
        ),
        TimelineEvent("ct-week-12", _d("2024-04-01"), "contrast CT and FDG PET/CT", ("fdg",)),
        TimelineEvent(
            "ct-week-24",
            _d("2024-06-24"),
            "contrast CT, FDG PET/CT and the first 68Ga-DOTATATE PET",
            ("fdg", "dotatate"),
        ),
        TimelineEvent(
            "ct-week-36",
            _d("2024-09-16"),
            "contrast CT, FDG PET/CT and 68Ga-DOTATATE PET",
            ("fdg", "dotatate"),
        ),
        TimelineEvent(
            "ct-week-48",
            _d("2024-12-09"),
            "contrast CT, FDG PET/CT and 68Ga-DOTATATE PET: progression",
            ("fdg", "dotatate"),
        ),
        TimelineEvent(
            "pet-dotatate-pre-prrt",
            _d("2025-01-13"),
            "68Ga-DOTATATE PET before PRRT",
            ("dotatate",),
        ),
        TimelineEvent("pet-fdg-pre-prrt", _d("2025-01-15"), "FDG PET before PRRT", ("fdg",)),
        TimelineEvent("dce-pre-prrt", _d("2025-01-20"), "liver DCE-MRI before PRRT"),
        TimelineEvent("prrt-cycle-1", _d("2025-01-27"), "177Lu-DOTATATE, first cycle"),
        TimelineEvent("dce-post-prrt", _d("2025-03-24"), "liver DCE-MRI two months after PRRT"),
        TimelineEvent(
            "pet-dotatate-post-prrt",
            _d("2025-05-13"),
            "68Ga-DOTATATE PET four months after PRRT",
            ("dotatate",),
        ),
        TimelineEvent(
            "pet-fdg-post-prrt", _d("2025-05-14"), "FDG PET four months after PRRT", ("fdg",)
        ),
    ),
)

BREAST_PATIENT = ReferencePatient(
    key="breast",
    patient_id="TB-REF-0002",
    label="Breast patient",
    diagnosis="metastatic breast cancer, bone-predominant",
    events=(
        TimelineEvent("wbdwi-exam1", _d("2025-01-15"), "WB-DWI before hormonal therapy"),
        TimelineEvent("wbdwi-exam2", _d("2025-04-16"), "WB-DWI on first-line therapy"),
        TimelineEvent("wbdwi-exam3", _d("2025-07-16"), "WB-DWI on first-line therapy"),
        TimelineEvent("wbdwi-exam4", _d("2025-10-15"), "WB-DWI at relapse"),
        TimelineEvent("wbdwi-exam5", _d("2026-01-14"), "WB-DWI on second-line therapy"),
        TimelineEvent("wbdwi-exam6", _d("2026-04-15"), "WB-DWI on second-line therapy"),
    ),
)

PITUITARY_PATIENT = ReferencePatient(
    key="pituitary",
    patient_id="TB-REF-0003",
    label="Pituitary patient",
    diagnosis="somatotroph pituitary adenoma with a remnant",
    events=(
        TimelineEvent(
            "pet-methionine", _d("2025-04-02"), "sellar MRI and 11C-methionine PET", ("methionine",)
        ),
    ),
)

#: Every reference patient, by key.
PATIENTS = {p.key: p for p in (NET_PATIENT, BREAST_PATIENT, PITUITARY_PATIENT)}
