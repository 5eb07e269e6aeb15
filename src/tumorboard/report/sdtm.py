"""CDISC SDTM tumour domains: TU (identification), TR (results), RS (response).

Variable names and test codes follow the SDTM Oncology domains and CDISC
controlled terminology:

* TU: ``TUTESTCD = TUMIDENT``; ``TUORRES`` TARGET / NON-TARGET / NEW; one
  record per lesion when it is first identified.
* TR: ``LDIAM`` (longest diameter), ``SAXIS`` (short axis, nodes),
  ``TUMSTATE`` (state of non-target and new lesions: PRESENT, ABSENT,
  UNEQUIVOCAL PROGRESSION, EQUIVOCAL, NOT EVALUABLE), and per visit
  ``SUMDIAM`` (sum of diameters), ``PCBSD`` / ``PCNSD`` (% change from
  baseline / nadir sum), linked by ``TRGRPID`` to the criteria.
* RS: ``TRGRESP``, ``NTRGRESP``, ``NEWLPROG`` (Y / N / EQUIVOCAL),
  ``OVRLRESP`` per visit and ``BESTRESP`` per subject, with ``RSCAT`` the
  criteria (RECIST 1.1, iRECIST, ...) and ``RSORRES`` the criteria's own
  codes (CR ... PD, iCR ... iCPD, CMR ... PMD).

With de-identification the ``--DTC`` dates are left empty and ``--DY`` study
days are given instead (baseline = day 1); ``USUBJID`` is the patient's
pseudonym and ``STUDYID`` the study's, and every other value is scrubbed of
identifier variants and dates (:class:`tumorboard.privacy.Deidentifier`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from pathlib import Path

from tumorboard.criteria.decimal_math import display
from tumorboard.criteria.records import (
    Criteria,
    LesionMeasurement,
    LesionRole,
    LesionStatus,
    PatientAssessment,
)
from tumorboard.criteria.selection import PatientInfo
from tumorboard.privacy import write_csv
from tumorboard.report.crf_deid import Disclosure, study_day
from tumorboard.report.crf_model import PatientCase

TU_COLUMNS = (
    "STUDYID",
    "DOMAIN",
    "USUBJID",
    "TUSEQ",
    "TULNKID",
    "TUTESTCD",
    "TUTEST",
    "TUORRES",
    "TUSTRESC",
    "TULOC",
    "TUMETHOD",
    "VISITNUM",
    "VISIT",
    "TUDTC",
    "TUDY",
)
TR_COLUMNS = (
    "STUDYID",
    "DOMAIN",
    "USUBJID",
    "TRSEQ",
    "TRGRPID",
    "TRLNKID",
    "TRTESTCD",
    "TRTEST",
    "TRORRES",
    "TRORRESU",
    "TRSTRESC",
    "TRSTRESN",
    "TRSTRESU",
    "TRMETHOD",
    "VISITNUM",
    "VISIT",
    "TRDTC",
    "TRDY",
)
RS_COLUMNS = (
    "STUDYID",
    "DOMAIN",
    "USUBJID",
    "RSSEQ",
    "RSTESTCD",
    "RSTEST",
    "RSCAT",
    "RSORRES",
    "RSSTRESC",
    "VISITNUM",
    "VISIT",
    "RSDTC",
    "RSDY",
)

_METHODS = {"ct": "CT SCAN", "mr": "MRI", "mri": "MRI"}
_TU_RESULT = {
    LesionRole.TARGET: "TARGET",
    LesionRole.NON_TARGET: "NON-TARGET",
    LesionRole.NEW: "NEW",
}
_STATE = {
    LesionStatus.PRESENT: "PRESENT",
    LesionStatus.ABSENT: "ABSENT",
    LesionStatus.TOO_SMALL: "TOO SMALL TO MEASURE",
    LesionStatus.NOT_EVALUATED: "NOT EVALUABLE",
    LesionStatus.UNEQUIVOCAL_PROGRESSION: "UNEQUIVOCAL PROGRESSION",
    LesionStatus.EQUIVOCAL: "EQUIVOCAL",
}
_NEW_FLAG = {"yes": "Y", "no": "N", "equivocal": "EQUIVOCAL"}


def method_of(modality: str) -> str:
    """SDTM method term of a modality (``pet-fdg`` -> ``PET/CT SCAN``)."""
    text = modality.lower()
    if text in _METHODS:
        return _METHODS[text]
    if text.startswith("pet"):
        return "PET/CT SCAN"
    if text.startswith(("mr", "mri")):
        return "MRI"
    if text.startswith("ct"):
        return "CT SCAN"
    return text.upper()


def sdtm_tables(
    cases: Sequence[PatientCase], info: PatientInfo, disclosure: Disclosure | None = None
) -> dict[str, list[dict[str, str]]]:
    """Build the TU, TR and RS records.

    Parameters
    ----------
    cases : sequence of PatientCase
        Series with their assessments.
    info : PatientInfo
        Supplies ``STUDYID``.
    disclosure : Disclosure, optional
        De-identification settings.

    Returns
    -------
    dict
        ``{"tu": [...], "tr": [...], "rs": [...]}``; values are text.
    """
    disclosure = disclosure or Disclosure()
    tables: dict[str, list[dict[str, str]]] = {"tu": [], "tr": [], "rs": []}
    for case in cases:
        counts = {name: len(rows) for name, rows in tables.items()}
        for name, rows in sdtm_patient(case, info, disclosure, counts).items():
            tables[name].extend(rows)
    return tables


def sdtm_patient(
    case: PatientCase,
    info: PatientInfo,
    disclosure: Disclosure | None = None,
    start: dict[str, int] | None = None,
) -> dict[str, list[dict[str, str]]]:
    """The TU, TR and RS records of one patient (a cohort is written one patient at a time).

    Parameters
    ----------
    case : PatientCase
        The patient's series and assessments.
    info : PatientInfo
        Supplies ``STUDYID``.
    disclosure : Disclosure, optional
        De-identification settings.
    start : dict, optional
        Records already written per table (``{"tu": n, ...}``): the ``--SEQ``
        numbers continue from them, as in :func:`sdtm_tables`.

    Returns
    -------
    dict
        ``{"tu": [...], "tr": [...], "rs": [...]}`` of this patient.

    Examples
    --------
    >>> from tumorboard.criteria.engine import assess_patient
    >>> from tumorboard.pipeline.demo_reference import reference_series
    >>> series = reference_series()
    >>> case = PatientCase(series, assess_patient(series, ["recist1.1"]))
    >>> rows = sdtm_patient(case, PatientInfo(study_id="S"), start={"tu": 10, "tr": 0, "rs": 0})
    >>> rows["tu"][0]["TUSEQ"], rows["tu"][0]["USUBJID"], rows["rs"][-1]["RSTESTCD"]
    ('11', 'TB-REF-0001', 'BESTRESP')
    """
    disclosure = disclosure or Disclosure()
    offset = {"tu": 0, "tr": 0, "rs": 0, **(start or {})}
    tu: list[dict[str, str]] = []
    tr: list[dict[str, str]] = []
    rs: list[dict[str, str]] = []
    series = case.series
    subject = disclosure.patient(series.patient_id)
    baseline_date = series.baseline.date
    common = {"STUDYID": disclosure.study(info.study_id), "USUBJID": subject}
    identified: set[str] = set()
    visit_numbers = {tp.label: index + 1 for index, tp in enumerate(series.timepoints)}

    def timing(
        prefix: str,
        label: str,
        date_value: dt.date,
        visits: dict[str, int] = visit_numbers,
        base: dt.date = baseline_date,
    ) -> dict[str, str]:
        return {
            "VISITNUM": str(visits[label]),
            "VISIT": label.upper(),
            f"{prefix}DTC": "" if disclosure.deidentify else date_value.isoformat(),
            f"{prefix}DY": str(study_day(date_value, base)),
        }

    for tp in series.timepoints:
        for m in tp.measurements:
            if m.lesion_id not in identified and m.status is not LesionStatus.NOT_EVALUATED:
                if m.role is LesionRole.NEW and m.status is LesionStatus.ABSENT:
                    continue
                identified.add(m.lesion_id)
                tu.append(
                    {
                        **common,
                        "DOMAIN": "TU",
                        "TUSEQ": str(offset["tu"] + len(tu) + 1),
                        "TULNKID": m.lesion_id,
                        "TUTESTCD": "TUMIDENT",
                        "TUTEST": "Tumor Identification",
                        "TUORRES": _TU_RESULT[m.role],
                        "TUSTRESC": _TU_RESULT[m.role],
                        "TULOC": m.organ.upper(),
                        "TUMETHOD": method_of(m.modality),
                        **timing("TU", tp.label, tp.date),
                    }
                )
            tr.extend(
                _lesion_results(m, common, timing("TR", tp.label, tp.date), offset["tr"] + len(tr))
            )
    for assessment in case.assessments:
        group = assessment.criteria.display_name
        for item in assessment.timepoints:
            when_tr = timing("TR", item.timepoint, item.date)
            for code, name, value, unit in (
                ("SUMDIAM", "Sum of Diameter", item.target_sum_mm, "mm"),
                (
                    "PCBSD",
                    "Percent Change From Baseline in Sum of Diameter",
                    item.change_from_baseline_pct,
                    "%",
                ),
                (
                    "PCNSD",
                    "Percent Change From Nadir in Sum of Diameter",
                    item.change_from_nadir_pct,
                    "%",
                ),
            ):
                if value is None or assessment.criteria is Criteria.PERCIST:
                    continue
                text = display(value)
                tr.append(
                    {
                        **common,
                        "DOMAIN": "TR",
                        "TRSEQ": str(offset["tr"] + len(tr) + 1),
                        "TRGRPID": group,
                        "TRLNKID": "",
                        "TRTESTCD": code,
                        "TRTEST": name,
                        "TRORRES": text,
                        "TRORRESU": unit,
                        "TRSTRESC": text,
                        "TRSTRESN": text,
                        "TRSTRESU": unit,
                        "TRMETHOD": "",
                        **when_tr,
                    }
                )
            when_rs = timing("RS", item.timepoint, item.date)
            for code, name, response in (
                ("TRGRESP", "Target Response", item.target_response),
                ("NTRGRESP", "Non-target Response", item.non_target_response),
                ("OVRLRESP", "Overall Response", item.overall_response),
            ):
                if response is None:
                    continue
                rs.append(
                    _rs(common, offset["rs"] + len(rs), code, name, group, response.value, when_rs)
                )
            if item.new_lesions is not None:
                rs.append(
                    _rs(
                        common,
                        offset["rs"] + len(rs),
                        "NEWLPROG",
                        "New Lesion Progression",
                        group,
                        _NEW_FLAG[item.new_lesions.value],
                        when_rs,
                    )
                )
        if assessment.best_response is not None:
            rs.append(_best(common, offset["rs"] + len(rs), group, assessment))
    if disclosure.deidentify:  # this patient's rows only, each distinct text scrubbed once
        scrubbed: dict[str, str] = {}
        for table in (tu, tr, rs):
            for row in table:
                for key, cell in row.items():
                    if cell not in scrubbed:
                        scrubbed[cell] = disclosure.text(cell, series.patient_id)
                    row[key] = scrubbed[cell]
    return {"tu": tu, "tr": tr, "rs": rs}


def _rs(
    common: dict[str, str],
    count: int,
    code: str,
    name: str,
    group: str,
    value: str,
    when: dict[str, str],
) -> dict[str, str]:
    return {
        **common,
        "DOMAIN": "RS",
        "RSSEQ": str(count + 1),
        "RSTESTCD": code,
        "RSTEST": name,
        "RSCAT": group,
        "RSORRES": value,
        "RSSTRESC": value,
        **when,
    }


def _best(
    common: dict[str, str], count: int, group: str, assessment: PatientAssessment
) -> dict[str, str]:
    value = assessment.best_response.value if assessment.best_response else ""
    return {
        **common,
        "DOMAIN": "RS",
        "RSSEQ": str(count + 1),
        "RSTESTCD": "BESTRESP",
        "RSTEST": "Best Overall Response",
        "RSCAT": group,
        "RSORRES": value,
        "RSSTRESC": value,
        "VISITNUM": "",
        "VISIT": "",
        "RSDTC": "",
        "RSDY": "",
    }


def _lesion_results(
    m: LesionMeasurement, common: dict[str, str], when: dict[str, str], count: int
) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    method = method_of(m.modality)

    def add(code: str, name: str, value: str, unit: str) -> None:
        rows.append(
            {
                **common,
                "DOMAIN": "TR",
                "TRSEQ": str(count + len(rows) + 1),
                "TRGRPID": "",
                "TRLNKID": m.lesion_id,
                "TRTESTCD": code,
                "TRTEST": name,
                "TRORRES": value,
                "TRORRESU": unit,
                "TRSTRESC": value,
                "TRSTRESN": value if unit else "",
                "TRSTRESU": unit,
                "TRMETHOD": method,
                **when,
            }
        )

    if m.role is LesionRole.TARGET and m.status is LesionStatus.PRESENT:
        if m.is_node and m.short_axis_mm is not None:
            add("SAXIS", "Short Axis", str(m.short_axis_mm), "mm")
        elif m.longest_diameter_mm is not None:
            add("LDIAM", "Longest Diameter", str(m.longest_diameter_mm), "mm")
    elif m.role is LesionRole.TARGET and m.status is LesionStatus.ABSENT:
        add("LDIAM", "Longest Diameter", "0", "mm")
    elif m.role is LesionRole.TARGET and m.status is LesionStatus.TOO_SMALL:
        add("LDIAM", "Longest Diameter", "5", "mm")
    else:
        add("TUMSTATE", "Tumor State", _STATE[m.status], "")
    return rows


def write_sdtm(tables: dict[str, list[dict[str, str]]], folder: str | os.PathLike[str]) -> None:
    """Write ``tu.csv``, ``tr.csv`` and ``rs.csv`` into ``folder`` (created if needed).

    Cells go through :func:`tumorboard.privacy.write_csv`: a value starting
    with ``=``, ``+``, ``-``, ``@``, tab or CR (other than a negative number)
    gets a leading single quote, so no spreadsheet runs it as a formula.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, columns in (("tu", TU_COLUMNS), ("tr", TR_COLUMNS), ("rs", RS_COLUMNS)):
        write_csv(folder / f"{name}.csv", columns, tables[name])
