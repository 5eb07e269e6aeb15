"""The reference patient's lesion measurements across its contrast-CT timepoints.

A deterministic NET story (pancreatic NET G2, liver metastases and nodes,
on a targeted agent after surgery and a somatostatin analogue):

* ``pre-baseline`` -- a scan three months before treatment (growth rates);
* ``baseline`` -- contrast CT with FDG PET/CT: liver targets L1, L2, nodal
  target N1; non-targets B1 (bone) and N2 (node);
* ``week-12`` -- partial response (sum -31 %);
* ``week-24`` -- nadir; a first 68Ga-DOTATATE PET shows a bone lesion X1
  that no earlier examination could show: a **new baseline lesion** for that
  tracer, not progression (the strict RECIST reading would call it PD);
* ``week-36`` -- L1 grows while it necroses (mean HU 95 -> 40): RECIST 1.1 PD
  (+37.5 % over the nadir), Choi PR (density -33 %), mRECIST PR (its viable
  rim shrinks), iRECIST iUPD;
* ``week-48`` -- a new liver lesion X2 on CT and further target growth:
  progression under every criteria (iRECIST iCPD).

:data:`EXPECTED` lists the responses the engine must give; the demo checks them.
The table is plain CSV rows (no import of the criteria engine, which is the
code under test): :mod:`tumorboard.pipeline.demo_reference` parses them.
Timepoint dates come from the NET patient's timeline
(:data:`tumorboard.phantoms.patients.NET_PATIENT`).
:func:`synthetic_ct` draws a contrast CT of any timepoint whose lesions have the
table's sizes and densities, so ``tumorboard measure`` can be checked against it.
"""

from __future__ import annotations

import csv
import io

import numpy as np

from tumorboard.errors import InputError
from tumorboard.imaging.volume import Volume
from tumorboard.phantoms.patients import NET_PATIENT

PATIENT_ID = NET_PATIENT.patient_id
COLUMNS = (
    "patient_id",
    "timepoint",
    "date",
    "modality",
    "lesion_id",
    "organ",
    "role",
    "is_node",
    "longest_diameter_mm",
    "short_axis_mm",
    "mean_hu",
    "viable_diameter_mm",
    "sul_peak",
    "status",
    "sul_sd",
)
TIMEPOINTS = tuple(
    (label, NET_PATIENT.date_of(f"ct-{label}").isoformat())
    for label in ("pre-baseline", "baseline", "week-12", "week-24", "week-36", "week-48")
)
# lesion: (organ, role, is_node, per timepoint: (LD, SA, HU, viable, SULpeak, status) or None)
_LESIONS: dict[str, tuple[str, str, bool, tuple[tuple[str, ...] | None, ...]]] = {
    "L1": (
        "liver segment VIII",
        "target",
        False,
        (
            ("36.0", "", "", "", "", "present"),
            ("42.0", "", "95", "38.0", "7.8", "present"),
            ("30.0", "", "82", "24.0", "5.0", "present"),
            ("28.0", "", "75", "20.0", "4.1", "present"),
            ("47.0", "", "40", "18.0", "3.2", "present"),
            ("48.0", "", "42", "22.0", "3.9", "present"),
        ),
    ),
    "L2": (
        "liver segment II",
        "target",
        False,
        (
            ("24.0", "", "", "", "", "present"),
            ("28.0", "", "90", "24.0", "5.6", "present"),
            ("19.0", "", "78", "15.0", "3.9", "present"),
            ("17.0", "", "70", "12.0", "3.4", "present"),
            ("19.0", "", "70", "13.0", "3.0", "present"),
            ("22.0", "", "72", "16.0", "3.6", "present"),
        ),
    ),
    "N1": (
        "lymph node peripancreatic",
        "target",
        True,
        (
            ("22.0", "16.0", "", "", "", "present"),
            ("25.0", "18.0", "60", "", "4.2", "present"),
            ("18.0", "12.0", "58", "", "3.0", "present"),
            ("16.0", "11.0", "56", "", "2.8", "present"),
            ("16.0", "11.0", "55", "", "2.7", "present"),
            ("18.0", "13.0", "58", "", "2.9", "present"),
        ),
    ),
    "B1": (
        "bone T11",
        "non-target",
        False,
        (
            None,
            ("", "", "", "", "", "present"),
            ("", "", "", "", "", "present"),
            ("", "", "", "", "", "present"),
            ("", "", "", "", "", "present"),
            ("", "", "", "", "", "present"),
        ),
    ),
    "N2": (
        "lymph node para-aortic",
        "non-target",
        True,
        (
            None,
            ("", "12.0", "", "", "", "present"),
            ("", "11.0", "", "", "", "present"),
            ("", "9.0", "", "", "", "present"),
            ("", "9.0", "", "", "", "present"),
            ("", "10.0", "", "", "", "present"),
        ),
    ),
}
_LIVER_SUL = (
    None,
    ("2.10", "0.25"),
    ("2.05", "0.24"),
    ("2.15", "0.26"),
    ("2.08", "0.25"),
    ("2.12", "0.25"),
)
# new lesions: (id, organ, first timepoint index, modality, rows from then on)
_NEW = (
    ("X1", "bone L2 (DOTATATE-avid)", 3, "pet-dotatate", (("", "", "", "", "", "present"),) * 3),
    ("X2", "liver segment VI", 5, "ct", (("14.0", "", "85", "14.0", "5.5", "present"),)),
)

#: Responses the engine must give at each follow-up (criteria -> overall responses).
EXPECTED = {
    "recist1.1": ("PR", "PR", "PD", "PD"),
    "irecist": ("iPR", "iPR", "iUPD", "iCPD"),
    "choi": ("PR", "PR", "PR", "PD"),
    "mrecist": ("PR", "PR", "PR", "PD"),
    "percist": ("PMR", "PMR", "PMR", "PMD"),
}
#: The strict reading at week 24, where X1 would count as new disease.
EXPECTED_STRICT_WEEK_24 = "PD"


def reference_measurement_rows() -> list[dict[str, str]]:
    """The measurement table as CSV rows (dicts keyed by :data:`COLUMNS`)."""
    rows: list[dict[str, str]] = []
    for index, (label, date) in enumerate(TIMEPOINTS):
        base = {"patient_id": PATIENT_ID, "timepoint": label, "date": date}
        for lesion_id, (organ, role, is_node, readings) in _LESIONS.items():
            reading = readings[index]
            if reading is None:
                continue
            ld, sa, hu, viable, sul, status = reading
            rows.append(
                {
                    **base,
                    "modality": "ct",
                    "lesion_id": lesion_id,
                    "organ": organ,
                    "role": role,
                    "is_node": "true" if is_node else "false",
                    "longest_diameter_mm": ld,
                    "short_axis_mm": sa,
                    "mean_hu": hu,
                    "viable_diameter_mm": viable,
                    "sul_peak": sul,
                    "status": status,
                    "sul_sd": "",
                }
            )
        for lesion_id, organ, first, modality, new_rows in _NEW:
            if index < first:
                continue
            ld, sa, hu, viable, sul, status = new_rows[index - first]
            rows.append(
                {
                    **base,
                    "modality": modality,
                    "lesion_id": lesion_id,
                    "organ": organ,
                    "role": "new",
                    "is_node": "false",
                    "longest_diameter_mm": ld,
                    "short_axis_mm": sa,
                    "mean_hu": hu,
                    "viable_diameter_mm": viable,
                    "sul_peak": sul,
                    "status": status,
                    "sul_sd": "",
                }
            )
        liver = _LIVER_SUL[index]
        if liver is not None:
            rows.append(
                {
                    **base,
                    "modality": "pet-fdg",
                    "lesion_id": "liver-reference",
                    "organ": "liver",
                    "role": "",
                    "is_node": "",
                    "longest_diameter_mm": "",
                    "short_axis_mm": "",
                    "mean_hu": "",
                    "viable_diameter_mm": "",
                    "sul_peak": liver[0],
                    "status": "",
                    "sul_sd": liver[1],
                }
            )
    return rows


def reference_measurements_csv() -> str:
    """The measurement table as CSV text (the ``tumorboard assess`` input)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(reference_measurement_rows())
    return buffer.getvalue()


#: Treatment context of the reference patient, as plain values (the case-report
#: form's ``PatientInfo`` fields; drug class and previous treatments by their codes).
PATIENT_CONTEXT: dict[str, object] = {
    "study_id": "TUMORBOARD-DEMO",
    "drug_class": "targeted",
    "drug": "everolimus",
    "tumour": "pancreatic NET G2, liver and nodal metastases",
    "previous_treatments": ("surgery", "somatostatin-analogue"),
}


# ------------------------------------------------------------ synthetic CT
#: Grid of the synthetic contrast-CT timepoints: (z, y, x) spacing and shape.
CT_SPACING_MM = (2.5, 0.8, 0.8)
CT_SHAPE = (24, 192, 192)
CT_BACKGROUND_HU = 45.0
CT_NOISE_HU = 4.0
# lesion id -> (centre x, centre y in mm, in-plane angle of the long axis in degrees)
_CT_PLACES = {
    "L1": (40.0, 42.0, 20.0),
    "L2": (112.0, 45.0, -35.0),
    "N1": (50.0, 116.0, 60.0),
    "N2": (116.0, 116.0, 0.0),
}
#: Short-to-long axis ratio of the non-nodal lesions in the synthetic CT.
CT_LIVER_AXIS_RATIO = 0.75


def synthetic_ct(timepoint: str, rng: np.random.Generator) -> tuple[Volume, Volume, dict[int, str]]:
    """A contrast CT of ``timepoint`` whose lesions have the table's sizes and HU.

    Each lesion is an ellipsoid: long axis = the table's longest diameter,
    short axis = the table's short axis (nodes) or 0.75 x the long axis,
    rotated in plane, filled with the table's mean HU (or the background
    value when the table has none) plus seeded Gaussian noise.

    Parameters
    ----------
    timepoint : str
        A label of :data:`TIMEPOINTS`.
    rng : numpy.random.Generator
        Seeded generator for the noise.

    Returns
    -------
    (Volume, Volume, dict)
        The image (HU), the label map, and label -> lesion id.
    """
    labels_by_tp = [label for label, _ in TIMEPOINTS]
    if timepoint not in labels_by_tp:
        raise InputError(f"unknown timepoint {timepoint!r}; expected one of {labels_by_tp}")
    index = labels_by_tp.index(timepoint)
    dz, dy, dx = CT_SPACING_MM
    z, y, x = np.indices(CT_SHAPE, dtype=float)
    pz, py, px = z * dz, y * dy, x * dx
    centre_z = (CT_SHAPE[0] - 1) * dz / 2
    image = np.full(CT_SHAPE, CT_BACKGROUND_HU)
    labels = np.zeros(CT_SHAPE, dtype=np.uint16)
    names: dict[int, str] = {}
    for label, (lesion_id, (cx, cy, angle_deg)) in enumerate(_CT_PLACES.items(), start=1):
        organ, role, is_node, readings = _LESIONS[lesion_id]
        reading = readings[index]
        if reading is None:
            continue
        ld, sa, hu = reading[0], reading[1], reading[2]
        if is_node:
            short = float(sa)
            long = float(ld) if ld else short
        else:
            long = float(ld)
            short = CT_LIVER_AXIS_RATIO * long
        angle = np.radians(angle_deg)
        u = (px - cx) * np.cos(angle) + (py - cy) * np.sin(angle)
        v = -(px - cx) * np.sin(angle) + (py - cy) * np.cos(angle)
        height = min(long, 20.0)
        inside = (u / (long / 2)) ** 2 + (v / (short / 2)) ** 2 + (
            (pz - centre_z) / (height / 2)
        ) ** 2 <= 1.0
        labels[inside] = label
        image[inside] = float(hu) if hu else CT_BACKGROUND_HU
        names[label] = lesion_id
    image += rng.normal(0.0, CT_NOISE_HU, size=CT_SHAPE)
    return (
        Volume(image.astype(np.float32), CT_SPACING_MM, unit="HU"),
        Volume(labels, CT_SPACING_MM, unit="label"),
        names,
    )
