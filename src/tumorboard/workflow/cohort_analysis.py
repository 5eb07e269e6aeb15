"""``tumorboard cohort analyse``: cohort questions answered from the record.

Two questions, both read only what ``tumorboard run`` / ``cohort run`` and
``tumorboard lesion import`` stored:

``prrt-perfusion``
    Does a liver metastasis' baseline perfusion predict response (the DCE
    study of ``../shared/sources``)? One row per lesion with a ``dce``
    analysis at the baseline exam: the lesion medians (Ktrans, Fp, arterial
    fraction, ve, vp, IAUGC60) at baseline and at the chosen follow-up
    (:class:`FollowUp`: the first by default), the lesion's longest-diameter
    change, and the patient's RECIST 1.1 overall response at that follow-up
    (computed by
    :func:`tumorboard.criteria.engine.assess_patient` from the record's reads,
    through :func:`~tumorboard.workflow.lesion_reads.measurement_rows`). The
    outcome is "responder" = CR or PR. Baseline exam = the reads' baseline
    timepoint; a ``dce`` lesion row is matched to a read by its SEG segment
    label = the read's ``lesion_id``. Statistics
    (:mod:`tumorboard.statistics`): ROC AUC of each baseline parameter with a
    patient-level cluster bootstrap 95 % CI, the Youden cut-off of baseline
    Ktrans with its sensitivity and specificity, and a univariable logistic
    regression of response on baseline Ktrans (odds ratio per 0.1 /min).

``wbdwi-response``
    The WB-DWI total diffusion volume and median ADC change from each
    patient's first ``wbdwi`` exam to the chosen follow-up ``wbdwi`` exam, and
    the class fractions (volume share of each response class) there, by the
    patient's RECIST 1.1 response at the reads' follow-up chosen by the same
    rule (``unknown`` without reads).

Patients are written as ``P001``, ``P002`` ... (in record order), never by
their ids. Everything is written through
:func:`tumorboard.outputs.output_directory`: all files appear, or none.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tumorboard.errors import InputError
from tumorboard.store.models import Analysis, Exam, Patient
from tumorboard.store.workspace import Workspace

__all__ = [
    "PERFUSION_PARAMETERS",
    "QUESTIONS",
    "FollowUp",
    "analyse_cohort",
    "perfusion_rows",
    "perfusion_summary",
]

QUESTIONS = ("prrt-perfusion", "wbdwi-response")

#: Per-lesion perfusion quantities of a ``dce`` analysis, in table order.
PERFUSION_PARAMETERS = (
    "ktrans_per_min",
    "fp_ml_per_100ml_per_min",
    "arterial_fraction",
    "ve",
    "vp",
    "iaugc60_mM_s",
)

#: RECIST 1.1 responses counted as response.
RESPONDING = ("CR", "PR")

#: A lesion whose longest diameter falls by this much responds (RECIST's PR threshold).
LESION_RESPONSE_CHANGE_PCT = -30.0

#: Bootstrap resamples and seed (the analysis is deterministic).
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20120601


@dataclass(frozen=True)
class FollowUp:
    """Which follow-up exam a cohort question reads (``--follow-up``).

    Attributes
    ----------
    rule : {"first", "last", "days"}
    days : int or None
        For ``days``: the follow-up is the exam nearest this many days after
        baseline (the earlier of two equally near).

    Examples
    --------
    >>> import datetime as dt
    >>> base = dt.date(2024, 1, 8)
    >>> later = [dt.date(2024, 4, 1), dt.date(2024, 7, 1)]  # days 84 and 175
    >>> [FollowUp.parse(t).choose(base, later).isoformat() for t in ("first", "last", "150")]
    ['2024-04-01', '2024-07-01', '2024-07-01']
    >>> FollowUp.parse("first").choose(base, [base]) is None
    True
    >>> FollowUp.parse("soon")
    Traceback (most recent call last):
    ...
    tumorboard.errors.InputError: --follow-up must be first, last or a number of days \
after baseline (1-3650), got 'soon'
    """

    rule: str = "first"
    days: int | None = None

    @classmethod
    def parse(cls, text: str) -> FollowUp:
        """``first``, ``last`` or a whole number of days (1 to 3650)."""
        value = str(text).strip().lower()
        if value in ("first", "last"):
            return cls(value)
        if value.isdigit() and 1 <= int(value) <= 3650:
            return cls("days", int(value))
        raise InputError(
            "--follow-up must be first, last or a number of days after baseline (1-3650), "
            f"got {text!r}"
        )

    def choose(self, baseline: dt.date, dates: Sequence[dt.date]) -> dt.date | None:
        """The follow-up among ``dates`` (only dates after ``baseline`` count), or None."""
        later = sorted(d for d in set(dates) if d > baseline)
        if not later:
            return None
        if self.rule == "first":
            return later[0]
        if self.rule == "last":
            return later[-1]
        days = self.days or 0
        return min(later, key=lambda d: (abs((d - baseline).days - days), d))

    @property
    def text(self) -> str:
        """How ``summary.json`` names the rule."""
        if self.rule == "days":
            return f"the exam nearest {self.days} days after baseline"
        return f"the {self.rule} follow-up"


@dataclass
class _PatientReads:
    """What the reads of one patient say: exam dates, RECIST at follow-up, diameters."""

    baseline_date: Any = None
    follow_up_date: Any = None
    recist: str | None = None
    refused: bool = False
    diameters: dict[str, tuple[float | None, float | None]] = field(default_factory=dict)


def _reads(session: Session, patient: Patient, follow_up: FollowUp) -> _PatientReads:
    from tumorboard.criteria.engine import assess_patient
    from tumorboard.criteria.measurements_csv import parse_measurement_rows
    from tumorboard.criteria.records import Criteria
    from tumorboard.workflow.lesion_reads import measurement_rows

    rows, fields = measurement_rows(session, patient)
    if not rows:
        return _PatientReads()
    try:
        series = parse_measurement_rows(rows, fields)[0]
    except InputError:  # reads the criteria refuse: the patient is left out, and counted
        return _PatientReads(refused=True)
    baseline = series.timepoints[0]
    result = _PatientReads(baseline_date=baseline.date)
    chosen = follow_up.choose(baseline.date, [t.date for t in series.timepoints[1:]])
    index = next((i for i, t in enumerate(series.timepoints) if t.date == chosen), None)
    follow = None if index is None else series.timepoints[index]
    if follow is not None and index is not None:
        result.follow_up_date = follow.date
        recist = assess_patient(series, [Criteria.RECIST11])[0]
        response = recist.timepoints[index].overall_response
        result.recist = None if response is None else str(response.value)

    def diameter(timepoint: Any, lesion: str) -> float | None:
        for m in timepoint.measurements if timepoint is not None else ():
            if m.lesion_id == lesion and m.longest_diameter_mm is not None:
                return float(m.longest_diameter_mm)
        return None

    for m in baseline.measurements:
        result.diameters[m.lesion_id] = (
            diameter(baseline, m.lesion_id),
            diameter(follow, m.lesion_id),
        )
    return result


def _done_results(session: Session, patient: Patient, kind: str) -> dict[Any, dict[str, Any]]:
    """The newest finished result of ``kind`` per exam date."""
    found: dict[Any, dict[str, Any]] = {}
    query = (
        select(Exam.exam_date, Analysis.result)
        .join(Exam, Exam.id == Analysis.exam_id)
        .where(Analysis.patient_id == patient.id, Analysis.kind == kind, Analysis.status == "done")
        .order_by(Analysis.finished_at, Analysis.id)
    )
    for date, result in session.execute(query):
        if isinstance(result, dict):
            found[date] = result
    return found


def _patients(session: Session, keys: Sequence[str] | None) -> list[Patient]:
    query = select(Patient).order_by(Patient.id)
    patients = list(session.scalars(query))
    if keys is None:
        return patients
    by_key = {p.patient_key: p for p in patients}
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise InputError(f"cohort analyse: {len(missing)} listed patient(s) are not in the record")
    return [by_key[k] for k in keys]


def _change_pct(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before == 0:
        return None
    return 100.0 * (after - before) / before


def perfusion_rows(
    workspace: Workspace,
    patient_keys: Sequence[str] | None = None,
    follow_up: FollowUp | None = None,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """One row per lesion with baseline perfusion and a known response.

    ``follow_up`` chooses the reads' follow-up timepoint (default: the first).

    Returns
    -------
    rows : list of dict
        ``patient``, ``lesion``, ``recist_follow_up``, ``responder`` (0/1),
        diameters and their change, ``lesion_responder`` and, per parameter of
        :data:`PERFUSION_PARAMETERS`, ``baseline_*``, ``follow_up_*`` and
        ``change_pct_*``.
    excluded : dict of str to int
        Lesions or patients left out, by reason.
    """
    rows: list[dict[str, Any]] = []
    excluded: dict[str, int] = {}

    def skip(reason: str, n: int = 1) -> None:
        excluded[reason] = excluded.get(reason, 0) + n

    follow_up = follow_up or FollowUp()
    with workspace.session() as session:
        for number, patient in enumerate(_patients(session, patient_keys), start=1):
            reads = _reads(session, patient, follow_up)
            dce = _done_results(session, patient, "dce")
            if reads.refused:
                skip("patients whose reads RECIST 1.1 refuses")
                continue
            if reads.baseline_date is None:
                skip("patients without lesion reads")
                continue
            baseline = {
                row["name"]: row for row in dce.get(reads.baseline_date, {}).get("lesions", [])
            }
            follow = {
                row["name"]: row for row in dce.get(reads.follow_up_date, {}).get("lesions", [])
            }
            if not baseline:
                skip("patients without a dce analysis at the baseline exam")
                continue
            if reads.recist is None or reads.recist == "NE":
                skip("patients without an evaluable RECIST 1.1 follow-up")
                continue
            for lesion in sorted(baseline):
                before, after = reads.diameters.get(lesion, (None, None))
                change = _change_pct(before, after)
                row: dict[str, Any] = {
                    "patient": f"P{number:03d}",
                    "lesion": lesion,
                    "recist_follow_up": reads.recist,
                    "responder": int(reads.recist in RESPONDING),
                    "baseline_diameter_mm": before,
                    "follow_up_diameter_mm": after,
                    "diameter_change_pct": change,
                    "lesion_responder": None
                    if change is None
                    else int(change <= LESION_RESPONSE_CHANGE_PCT),
                }
                for parameter in PERFUSION_PARAMETERS:
                    b = baseline[lesion].get(parameter)
                    f = follow.get(lesion, {}).get(parameter)
                    row[f"baseline_{parameter}"] = b
                    row[f"follow_up_{parameter}"] = f
                    row[f"change_pct_{parameter}"] = _change_pct(b, f)
                if row["baseline_ktrans_per_min"] is None:
                    skip("lesions without a baseline Ktrans")
                    continue
                rows.append(row)
    return rows, excluded


def _auc_with_ci(
    scores: list[float], outcome: list[int], clusters: list[str]
) -> tuple[float, tuple[float, float], int]:
    from tumorboard.statistics import cluster_bootstrap_auc_ci, roc_auc

    auc = roc_auc(scores, outcome)
    interval = cluster_bootstrap_auc_ci(
        scores, outcome, clusters, n_resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED
    )
    return auc, (interval.low, interval.high), interval.n_skipped


def perfusion_summary(
    rows: Sequence[dict[str, Any]], follow_up: FollowUp | None = None
) -> dict[str, Any]:
    """The statistics of ``summary.json`` for the per-lesion rows.

    Raises
    ------
    InputError
        With fewer than 2 patients, or without both responders and non-responders.
    """
    from tumorboard.statistics import fit_logistic, youden_cutoff

    patients = sorted({row["patient"] for row in rows})
    outcome = [int(row["responder"]) for row in rows]
    if len(patients) < 2 or len(set(outcome)) < 2:
        raise InputError(
            f"cohort analyse: {len(patients)} patient(s) and {len(rows)} lesion(s) with "
            "baseline perfusion and a RECIST 1.1 follow-up; need at least 2 patients and both "
            "responders and non-responders"
        )
    clusters = [row["patient"] for row in rows]
    ktrans = [float(row["baseline_ktrans_per_min"]) for row in rows]
    auc, ci, skipped = _auc_with_ci(ktrans, outcome, clusters)
    cut = youden_cutoff(ktrans, outcome)
    logistic = fit_logistic(ktrans, outcome)
    per_parameter: dict[str, Any] = {}
    for parameter in PERFUSION_PARAMETERS:
        for prefix in ("baseline", "change_pct"):
            kept = [r for r in rows if r.get(f"{prefix}_{parameter}") is not None]
            y = [int(r["responder"]) for r in kept]
            key = f"{prefix}_{parameter}"
            if len({r["patient"] for r in kept}) < 2 or len(set(y)) < 2:
                per_parameter[key] = {"n_lesions": len(kept), "auc": None, "auc_ci95": None}
                continue
            try:
                p_auc, p_ci, _ = _auc_with_ci(
                    [float(r[key]) for r in kept], y, [r["patient"] for r in kept]
                )
            except InputError:
                per_parameter[key] = {"n_lesions": len(kept), "auc": None, "auc_ci95": None}
                continue
            per_parameter[key] = {"n_lesions": len(kept), "auc": p_auc, "auc_ci95": list(p_ci)}
    by_size = [r for r in rows if r["lesion_responder"] is not None]
    size_auc = None
    if len({r["lesion_responder"] for r in by_size}) == 2:
        from tumorboard.statistics import roc_auc

        size_auc = roc_auc(
            [float(r["baseline_ktrans_per_min"]) for r in by_size],
            [int(r["lesion_responder"]) for r in by_size],
        )
    return {
        "question": "prrt-perfusion",
        "outcome": "RECIST 1.1 overall response CR or PR at " + (follow_up or FollowUp()).text,
        "predictor": "baseline ktrans_per_min (lesion median, extended Tofts)",
        "n_patients": len(patients),
        "n_lesions": len(rows),
        "n_responding_lesions": sum(outcome),
        "auc": auc,
        "auc_ci95": list(ci),
        "auc_ci_method": (
            f"patient-level cluster bootstrap, percentile, {BOOTSTRAP_RESAMPLES} resamples "
            f"(seed {BOOTSTRAP_SEED}), {skipped} resamples with one outcome class skipped"
        ),
        "cutoff": cut.cutoff,
        "cutoff_rule": "Youden J; responder predicted when baseline Ktrans >= cutoff",
        "sensitivity": cut.sensitivity,
        "specificity": cut.specificity,
        "youden_j": cut.youden_j,
        "logistic_regression": {
            "predictor": "baseline ktrans_per_min",
            "separated": logistic.separated,
            "intercept": None if logistic.separated else logistic.intercept,
            "slope_per_min": None if logistic.separated else logistic.slope,
            "odds_ratio_per_0_1_per_min": None
            if logistic.odds_ratio is None
            else math.exp(0.1 * logistic.slope),
            "odds_ratio_per_0_1_per_min_ci95": None
            if logistic.odds_ratio_ci95 is None
            else [math.exp(0.1 * math.log(v)) for v in logistic.odds_ratio_ci95],
            "p_value": logistic.p_value,
            "note": "Wald statistics, lesions treated as independent",
        },
        "auc_lesion_size_response": size_auc,
        "parameters": per_parameter,
    }


def _write_perfusion(staging: Path, rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    from tumorboard.report.cohort_figures import write_box_plot, write_roc_figure
    from tumorboard.statistics import roc_curve

    curve = roc_curve([r["baseline_ktrans_per_min"] for r in rows], [r["responder"] for r in rows])
    write_roc_figure(
        staging / "roc_ktrans.png",
        curve.false_positive_rate.tolist(),
        curve.sensitivity.tolist(),
        title="Baseline Ktrans vs RECIST 1.1 response (per lesion)",
        auc=summary["auc"],
        auc_ci95=(summary["auc_ci95"][0], summary["auc_ci95"][1]),
        cutoff_point=(1.0 - summary["specificity"], summary["sensitivity"]),
    )
    for column, name, label in (
        ("baseline_ktrans_per_min", "box_ktrans_baseline.png", "baseline Ktrans (/min)"),
        ("change_pct_ktrans_per_min", "box_ktrans_change.png", "Ktrans change at follow-up (%)"),
        ("diameter_change_pct", "box_diameter_change.png", "longest diameter change (%)"),
    ):
        groups = {
            "responders": [r[column] for r in rows if r["responder"] and r[column] is not None],
            "non-responders": [
                r[column] for r in rows if not r["responder"] and r[column] is not None
            ],
        }
        write_box_plot(staging / name, groups, title=label + " by response", ylabel=label)


def _wbdwi_rows(
    workspace: Workspace, patient_keys: Sequence[str] | None, follow_up: FollowUp
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    rows: list[dict[str, Any]] = []
    excluded: dict[str, int] = {}
    with workspace.session() as session:
        for number, patient in enumerate(_patients(session, patient_keys), start=1):
            results = _done_results(session, patient, "wbdwi")
            if len(results) < 2:
                excluded["patients with fewer than 2 wbdwi exams"] = (
                    excluded.get("patients with fewer than 2 wbdwi exams", 0) + 1
                )
                continue
            first = min(results)
            second = follow_up.choose(first, list(results))
            assert second is not None  # two exam dates: one is after the first
            before, after = results[first], results[second]
            reads = _reads(session, patient, follow_up)
            row: dict[str, Any] = {
                "patient": f"P{number:03d}",
                "recist_follow_up": reads.recist or "unknown",
                "baseline_tdv_ml": before.get("total_diffusion_volume_ml"),
                "follow_up_tdv_ml": after.get("total_diffusion_volume_ml"),
                "baseline_adc_median_um2_per_s": (before.get("adc_um2_per_s") or {}).get("median"),
                "follow_up_adc_median_um2_per_s": (after.get("adc_um2_per_s") or {}).get("median"),
            }
            row["tdv_change_pct"] = _change_pct(row["baseline_tdv_ml"], row["follow_up_tdv_ml"])
            row["adc_median_change_pct"] = _change_pct(
                row["baseline_adc_median_um2_per_s"], row["follow_up_adc_median_um2_per_s"]
            )
            classes = after.get("classes_ml") or {}
            total = sum(float(v) for v in classes.values())
            for name, volume in sorted(classes.items()):
                row[f"fraction_{name}"] = float(volume) / total if total > 0 else None
            rows.append(row)
    return rows, excluded


def _distribution(values: Sequence[float]) -> dict[str, float | int | None]:
    import numpy as np

    if not values:
        return {"n": 0, "median": None, "p25": None, "p75": None}
    p25, median, p75 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return {"n": len(values), "median": float(median), "p25": float(p25), "p75": float(p75)}


def wbdwi_summary(
    rows: Sequence[dict[str, Any]], follow_up: FollowUp | None = None
) -> dict[str, Any]:
    """Distributions of TDV and ADC change and mean class fractions, by RECIST response."""
    if not rows:
        raise InputError("cohort analyse: no patient has two wbdwi analyses in the record")
    quantities: list[str] = []
    for row in rows:
        quantities.extend(
            k
            for k in row
            if (k.endswith("_change_pct") or k.startswith("fraction_")) and k not in quantities
        )
    groups: dict[str, Any] = {}
    for response in sorted({r["recist_follow_up"] for r in rows}):
        members = [r for r in rows if r["recist_follow_up"] == response]
        groups[response] = {
            q: _distribution([float(r[q]) for r in members if r.get(q) is not None])
            for q in quantities
        }
    return {
        "question": "wbdwi-response",
        "follow_up": (follow_up or FollowUp()).text,
        "n_patients": len(rows),
        "by_recist_follow_up": groups,
    }


def _write_table(staging: Path, name: str, rows: list[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tumorboard.privacy.csv_safe import write_csv

    columns: list[str] = []
    for row in rows:
        columns.extend(c for c in row if c not in columns)
    write_csv(staging / f"{name}.csv", columns, rows, lineterminator="\n")
    table = pa.table({c: [row.get(c) for row in rows] for c in columns})
    pq.write_table(table, staging / f"{name}.parquet")


def analyse_cohort(
    workspace: Workspace,
    question: str,
    out: Path,
    *,
    patient_keys: Sequence[str] | None = None,
    follow_up: FollowUp | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Answer ``question`` for the record's cohort and write ``out`` atomically.

    Parameters
    ----------
    workspace : Workspace
    question : {"prrt-perfusion", "wbdwi-response"}
    out : Path
        The output folder (``summary.json``, the table as CSV and Parquet, figures).
    patient_keys : sequence of str, optional
        Only these patients.
    follow_up : FollowUp, optional
        Which follow-up exam (default: the first after baseline).
    force : bool
        Replace an existing ``out``.

    Returns
    -------
    dict
        The content of ``summary.json``.

    Raises
    ------
    InputError
        For an unknown question, or a cohort the question cannot be answered on.
    """
    from tumorboard.json_output import write_json
    from tumorboard.outputs import check_output_path, output_directory

    if question not in QUESTIONS:
        raise InputError(f"--question must be one of {', '.join(QUESTIONS)}, got {question!r}")
    # the workspace is an input: --out must never replace it or a folder around it
    inputs = [Path(workspace.root)]
    check_output_path(out, force, inputs=inputs, directory=True)
    follow_up = follow_up or FollowUp()
    if question == "prrt-perfusion":
        rows, excluded = perfusion_rows(workspace, patient_keys, follow_up)
        summary = perfusion_summary(rows, follow_up)
    else:
        rows, excluded = _wbdwi_rows(workspace, patient_keys, follow_up)
        summary = wbdwi_summary(rows, follow_up)
    summary["excluded"] = excluded
    with output_directory(out, force, inputs=inputs) as staging:
        write_json(staging / "summary.json", summary)
        if question == "prrt-perfusion":
            _write_table(staging, "lesions", rows)
            _write_perfusion(staging, rows, summary)
        else:
            _write_table(staging, "patients", rows)
            _write_wbdwi_figure(staging, rows)
    return summary


def _write_wbdwi_figure(staging: Path, rows: list[dict[str, Any]]) -> None:
    from tumorboard.report.cohort_figures import write_box_plot

    groups: dict[str, list[float]] = {}
    for row in rows:
        if row["tdv_change_pct"] is not None:
            groups.setdefault(row["recist_follow_up"], []).append(float(row["tdv_change_pct"]))
    write_box_plot(
        staging / "box_tdv_change.png",
        dict(sorted(groups.items())),
        title="WB-DWI total diffusion volume change by RECIST 1.1 response",
        ylabel="TDV change (%)",
    )
