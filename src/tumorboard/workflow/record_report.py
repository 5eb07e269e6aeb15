"""``tumorboard report``: the case-report form and the board report, drawn from the record.

The form (``crf.json``, ``crf.html``, ``crf.pdf``, ``response.csv``,
``sdtm/``) is written by the same code as ``tumorboard assess``
(:func:`tumorboard.report.crf.write_assessment_outputs`), from the lesion
reads of the record, the patient's current therapy line and the WB-DWI
analyses that ``tumorboard run`` stored. ``report.html`` is one
self-contained page (figures embedded as PNG data) with the patient's
timeline, the WB-DWI exams with their coronal MIPs, and the PET lesions.
Every number is the one stored by the analysis that computed it; nothing is
recomputed here.
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tumorboard.criteria.engine import assess_patient
from tumorboard.criteria.measurements_csv import parse_measurement_rows
from tumorboard.criteria.selection import DrugClass, PatientInfo, choose_criteria
from tumorboard.errors import InputError
from tumorboard.report.crf import Disclosure, PatientCase, write_assessment_outputs

__all__ = ["RecordReport", "dwi_form_rows", "dwi_mip_png", "write_record_report"]


@dataclass(frozen=True)
class RecordReport:
    """What :func:`write_record_report` wrote.

    Attributes
    ----------
    files : tuple of str
        Names of the files written into the output folder.
    dwi_exams, pet_series, read_exams : int
        How many of each the report shows.
    """

    files: tuple[str, ...]
    dwi_exams: int
    pet_series: int
    read_exams: int


def dwi_form_rows(summaries: Sequence[Mapping[str, Any]]) -> list[dict[str, object]]:
    """The form's WB-DWI rows: the exams that share the latest exam's reference.

    The form's WB-DWI table names one reference exam; the rows are the
    reference exam itself and every exam assessed against it, with the
    changes each stored analysis computed.

    Parameters
    ----------
    summaries : sequence of mapping
        WB-DWI ``summary.json`` contents, in date order.

    Returns
    -------
    list of dict
        Rows with the keys of :data:`tumorboard.report.wbdwi_table.WBDWI_COLUMNS`.

    Examples
    --------
    >>> first = {"exam": {"label": "", "date": "2024-01-08"}, "total_diffusion_volume_ml": 12.0,
    ...          "adc_um2_per_s": {"mean": 900, "median": 880, "p95": 1300, "kurtosis": 3.0}}
    >>> second = dict(first, exam={"label": "", "date": "2024-04-01"}, tdv_change_pct=-50.0,
    ...               reference={"label": "", "date": "2024-01-08"}, total_diffusion_volume_ml=6.0)
    >>> [(r["exam"], r["tdv_change_vs_first_pct"]) for r in dwi_form_rows([first, second])]
    [('2024-01-08', None), ('2024-04-01', -50.0)]
    """
    if not summaries:
        return []

    def reference_date(summary: Mapping[str, Any]) -> str | None:
        block = summary.get("reference") or summary.get("exam") or {}
        return block.get("date")

    latest = reference_date(summaries[-1])
    rows = []
    for summary in summaries:
        if reference_date(summary) != latest:
            continue
        exam = summary.get("exam") or {}
        adc = summary.get("adc_um2_per_s") or {}
        flags = summary.get("plausibility_flags") or []
        rows.append(
            {
                "exam": exam.get("label") or exam.get("date") or "",
                "exam_date": exam.get("date") if exam.get("label") else "",
                "reference_exam": latest or "",
                "total_diffusion_volume_ml": summary.get("total_diffusion_volume_ml"),
                "tdv_change_vs_first_pct": summary.get("tdv_change_pct"),
                "adc_mean_um2_per_s": adc.get("mean"),
                "adc_median_um2_per_s": adc.get("median"),
                "adc_median_change_vs_first_pct": summary.get("adc_median_change_pct"),
                "adc_p95_um2_per_s": adc.get("p95"),
                "adc_kurtosis": adc.get("kurtosis"),
                "plausibility_flags": "; ".join(str(f) for f in flags),
            }
        )
    return rows


def _patient_info(patient: Any, line: Any | None, deidentify: bool) -> PatientInfo:
    drug_class = None
    if line is not None and line.drug_class:
        try:
            drug_class = DrugClass(line.drug_class)
        except ValueError:
            raise InputError(
                f"report: therapy line {line.line_number}: drug class {line.drug_class!r} is "
                f"not one of {', '.join(c.value for c in DrugClass)}"
            ) from None
    return PatientInfo(
        study_id=patient.patient_key,
        drug_class=drug_class,
        drug=(line.drug or "") if line is not None else "",
        patient_name="" if deidentify else (patient.name or ""),
        birth_date=""
        if deidentify or patient.birth_date is None
        else patient.birth_date.isoformat(),
    )


def write_record_report(
    workspace: Any,
    patient_key: str,
    staging: Path,
    *,
    deidentify: bool = False,
    salt: str | None = None,
) -> RecordReport:
    """Write the form and ``report.html`` of one patient into ``staging``.

    Parameters
    ----------
    workspace : Workspace
    patient_key : str
    staging : Path
        A staging folder of :func:`tumorboard.outputs.output_directory`.
    deidentify : bool
        De-identify every output (one de-identifier, as ``assess --deidentify``).
    salt : str, optional
        Salt of the pseudonyms.

    Returns
    -------
    RecordReport

    Raises
    ------
    InputError
        Unknown patient, or a patient with neither reads nor analyses.
    """
    from tumorboard.store.models import Analysis, AnalysisOutput, Patient, TherapyLine
    from tumorboard.workflow.case_facts import latest_case_facts
    from tumorboard.workflow.lesion_reads import measurement_rows
    from tumorboard.workflow.timeline import patient_timeline

    with workspace.session() as session:
        patient = session.scalars(
            select(Patient).where(Patient.patient_key == patient_key)
        ).one_or_none()
        if patient is None:
            raise InputError(f"report: no patient with that id in workspace {workspace.root}")
        line = session.scalars(
            select(TherapyLine)
            .where(TherapyLine.patient_id == patient.id)
            .order_by(TherapyLine.line_number.desc())
        ).first()
        info = _patient_info(patient, line, deidentify)
        rows, fields = measurement_rows(session, patient)
        facts = latest_case_facts(session, patient.id)
        analyses = list(
            session.execute(
                select(Analysis.id, Analysis.kind, Analysis.result)
                .where(Analysis.patient_id == patient.id, Analysis.status == "done")
                .order_by(Analysis.finished_at, Analysis.id)
            )
        )
        outputs: dict[int, dict[str, str]] = {}
        for analysis_id, name, sha in session.execute(
            select(AnalysisOutput.analysis_id, AnalysisOutput.name, AnalysisOutput.object_sha256)
            .join(Analysis, Analysis.id == AnalysisOutput.analysis_id)
            .where(Analysis.patient_id == patient.id)
        ):
            outputs.setdefault(analysis_id, {})[name] = sha
    # the newest finished analysis of each exam date, in date order
    dwi_by_date: dict[str, tuple[int, dict[str, Any]]] = {}
    pet_by_id: list[tuple[int, dict[str, Any]]] = []
    for analysis_id, kind, result in analyses:
        if not isinstance(result, dict):
            continue
        if kind == "wbdwi":
            dwi_by_date[str((result.get("exam") or {}).get("date"))] = (analysis_id, result)
        elif kind == "pet_suv":
            pet_by_id.append((analysis_id, result))
    dwi = [dwi_by_date[date] for date in sorted(dwi_by_date)]
    pet = [result for _, result in pet_by_id]
    if not rows and not dwi and not pet:
        raise InputError(
            "report: the patient has no lesion reads and no analyses (run 'tumorboard lesion "
            "import' or 'tumorboard run' first)"
        )
    guide = None
    if facts is not None:  # the reading guide of the newest case facts joins the form
        from tumorboard.workflow.criteria_runs import guide_result

        guide = guide_result(facts)
    cohort = parse_measurement_rows(rows, fields) if rows else []
    criteria = choose_criteria(cohort, info.drug_class)
    cases = [PatientCase(series, assess_patient(series, criteria)) for series in cohort]
    wbdwi_rows = dwi_form_rows([summary for _, summary in dwi]) or None
    disclosure = Disclosure(deidentify=deidentify, salt=salt)
    write_assessment_outputs(
        staging, cases, info, criteria, disclosure, guide=guide, wbdwi_rows=wbdwi_rows
    )
    timeline = patient_timeline(workspace, patient_key)
    if deidentify:  # the same de-identifier as the form's (and every export's)
        from tumorboard.privacy import Deidentifier, Identity

        deidentifier = Deidentifier(salt=salt)
        identity = Identity(patient_key, (patient.name,) if patient.name else ())
        timeline = deidentifier.record(timeline, identity)
        dwi = [(number, deidentifier.record(summary, identity)) for number, summary in dwi]
        pet_by_id = [(n, deidentifier.record(summary, identity)) for n, summary in pet_by_id]
        pet = [summary for _, summary in pet_by_id]
    figures = _dwi_figures(workspace, dwi, outputs)
    pet_figures = _pet_figures(workspace, pet_by_id, outputs)
    page = _report_html(timeline, dwi, figures, pet_by_id, pet_figures, deidentify=deidentify)
    (staging / "report.html").write_text(page, encoding="utf-8")
    return RecordReport(
        files=tuple(sorted(p.name for p in staging.iterdir())),
        dwi_exams=len(dwi),
        pet_series=len(pet),
        read_exams=len({row["date"] for row in rows}),
    )


def _dwi_figures(
    workspace: Any,
    dwi: Sequence[tuple[int, dict[str, Any]]],
    outputs: Mapping[int, Mapping[str, str]],
) -> dict[int, str]:
    """Coronal MIP of each exam (computed high-b image with the class overlay), base64 PNG."""
    figures: dict[int, str] = {}
    with tempfile.TemporaryDirectory() as folder:
        for analysis_id, summary in dwi:
            png = Path(folder) / f"{analysis_id}.png"
            if dwi_mip_png(workspace, summary, outputs.get(analysis_id, {}), png):
                figures[analysis_id] = base64.b64encode(png.read_bytes()).decode("ascii")
    return figures


def dwi_mip_png(
    workspace: Any, summary: Mapping[str, Any], stored: Mapping[str, str], png: Path
) -> bool:
    """Draw a WB-DWI exam's coronal MIP as in ``report.html``, as the PNG file ``png``.

    The inverted-grey MIP of the stored computed high-b image with the class
    overlay, the kept components numbered, the plausibility flags and the
    exam's title; ``tumorboard export --what sc`` sends the same picture.

    Parameters
    ----------
    workspace : Workspace
    summary : mapping
        The WB-DWI analysis's stored result (``summary.json``).
    stored : mapping of str to str
        The analysis's stored outputs (file name -> object SHA-256).
    png : Path
        The file to write.

    Returns
    -------
    bool
        False (nothing written) when the analysis stored no computed b image or class map.

    Examples
    --------
    >>> dwi_mip_png(None, {}, {"classes.nii.gz": "0" * 64}, Path("never-written.png"))
    False
    """
    from tumorboard.imaging.nifti import read_nifti
    from tumorboard.report.dwi_figures import mip_figure, summary_subtitle

    if "computed_b.nii.gz" not in stored or "classes.nii.gz" not in stored:
        return False
    with tempfile.TemporaryDirectory() as folder:
        image = read_nifti(_named_copy(workspace, stored, "computed_b.nii.gz", folder))
        classes = read_nifti(_named_copy(workspace, stored, "classes.nii.gz", folder))
        exam = summary.get("exam") or {}
        reference = summary.get("reference") or exam
        mip_figure(
            image,
            classes,
            png,
            title=f"Exam {exam.get('date')}",
            subtitle=summary_subtitle(summary, str(reference.get("date") or "")),
            yellow_lower_um2_per_s=summary.get("yellow_lower_um2_per_s"),
            warnings=[str(flag) for flag in summary.get("plausibility_flags") or []],
            annotations=[
                (
                    f"#{row['component_id']}",
                    (row["centroid_x_mm"], row["centroid_y_mm"], row["centroid_z_mm"]),
                )
                for row in summary.get("components") or []
                if row.get("kept")
            ],
        )
    return True


def _pet_figures(
    workspace: Any,
    pet: Sequence[tuple[int, Mapping[str, Any]]],
    outputs: Mapping[int, Mapping[str, str]],
) -> dict[int, str]:
    """Coronal SUVbw MIP of each PET series with its lesions named, base64 PNG."""
    import numpy as np

    from tumorboard.imaging.nifti import read_nifti
    from tumorboard.report.dwi_figures import mip_figure

    figures: dict[int, str] = {}
    with tempfile.TemporaryDirectory() as folder:
        for analysis_id, summary in pet:
            stored = outputs.get(analysis_id, {})
            if "suvbw.nii.gz" not in stored:
                continue
            suvbw = read_nifti(_named_copy(workspace, stored, "suvbw.nii.gz", folder))
            annotations = []
            if "lesions.nii.gz" in stored:
                labels = read_nifti(_named_copy(workspace, stored, "lesions.nii.gz", folder))
                values = np.asarray(labels.array)
                for lesion in summary.get("lesions") or []:
                    voxels = np.argwhere(values == int(lesion["label"]))
                    if len(voxels):
                        centre = suvbw.index_to_lps(voxels.mean(axis=0))
                        name = f"{lesion.get('name', lesion['label'])}"
                        annotations.append((name, tuple(float(v) for v in centre)))
            png = Path(folder) / f"pet-{analysis_id}.png"
            mip_figure(
                suvbw,
                None,
                png,
                title=str(summary.get("series") or "PET"),
                subtitle="SUVbw, lesions named from the study's segmentation",
                annotations=annotations,
            )
            figures[analysis_id] = base64.b64encode(png.read_bytes()).decode("ascii")
    return figures


def _named_copy(workspace: Any, stored: Mapping[str, str], name: str, folder: str) -> Path:
    """A link to a stored object under its file name (readers go by the suffix)."""
    target = Path(folder) / f"{stored[name][:16]}-{name}"
    if not target.exists():
        try:
            os.link(workspace.objects.path(stored[name]), target)
        except OSError:
            shutil.copyfile(workspace.objects.path(stored[name]), target)
    return target


def _cell(value: object, digits: int = 1) -> str:
    if isinstance(value, bool) or value is None:
        return ""
    if isinstance(value, int | float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #111; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #999; padding: 0.25em 0.5em; text-align: left; }
th { background: #eee; }
figure { break-inside: avoid; page-break-inside: avoid; margin: 1em 0; }
figure img { width: 100%; max-width: 900px; }
figcaption { font-size: 0.9em; }
.flag { color: #a00; }
@media print { body { margin: 0; } h2 { break-after: avoid; } }
"""


def _report_html(
    timeline: Mapping[str, Any],
    dwi: Sequence[tuple[int, dict[str, Any]]],
    figures: Mapping[int, str],
    pet_by_id: Sequence[tuple[int, Mapping[str, Any]]],
    pet_figures: Mapping[int, str],
    *,
    deidentify: bool,
) -> str:
    title = "Patient report" if deidentify else f"Patient {timeline['patient_id']}"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Drawn from the tumorboard record on {dt.date.today().isoformat()}; every number "
        "is the one stored by the analysis or read that produced it.</p>",
        "<h2>Timeline</h2><table><tr><th>date</th><th>modalities</th>",
    ]
    criteria = list(timeline["responses"])
    parts.extend(f"<th>{html.escape(name)} vs baseline / nadir</th>" for name in criteria)
    parts.append("</tr>")
    by_date: dict[str, dict[str, str]] = {}
    for name, points in timeline["responses"].items():
        for point in points:
            by_date.setdefault(point["date"], {})[name] = (
                f"{point['vs_baseline'] or '-'} / {point['vs_nadir'] or '-'}"
            )
    for exam in timeline["exams"]:
        cells = by_date.get(exam["date"], {})
        parts.append(
            f"<tr><td>{html.escape(exam['date'])}</td>"
            f"<td>{html.escape(', '.join(exam['modalities']))}</td>"
            + "".join(f"<td>{html.escape(cells.get(name, ''))}</td>" for name in criteria)
            + "</tr>"
        )
    parts.append("</table>")
    measured = [(e["date"], v) for e in timeline["exams"] for v in e.get("lesion_values", [])]
    if measured:  # every lesion value with its source; the one the criteria use is marked
        parts.append(
            "<h2>Lesion measurements</h2><table><tr><th>exam</th><th>lesion</th>"
            "<th>quantity</th><th>value</th><th>source</th><th>used by the criteria</th></tr>"
        )
        for date, value in measured:
            parts.append(
                f"<tr><td>{html.escape(date)}</td><td>{_cell(value['lesion'])}</td>"
                f"<td>{_cell(value['quantity'])}</td><td>{_cell(value['value'], 2)} "
                f"{_cell(value['unit'])}</td><td>{_cell(value['source'])}</td>"
                f"<td>{'yes' if value['used'] else 'no (kept)'}</td></tr>"
            )
        parts.append("</table>")
    if timeline.get("therapy_lines"):
        parts.append(
            "<h2>Therapy lines</h2><table><tr><th>line</th><th>drug</th><th>start</th>"
            "<th>baseline exam</th></tr>"
        )
        for line in timeline["therapy_lines"]:
            parts.append(
                f"<tr><td>{line['line']}</td><td>{_cell(line.get('drug'))}</td>"
                f"<td>{_cell(line.get('start_date'))}</td>"
                f"<td>{_cell(line.get('baseline_exam_date'))}</td></tr>"
            )
        parts.append("</table>")
    if dwi:
        parts.append(
            "<h2>Whole-body diffusion MRI tumour load</h2><table><tr><th>exam</th>"
            "<th>reference exam</th><th>total diffusion volume (ml)</th>"
            "<th>Δ volume vs reference (%)</th><th>median ADC (µm²/s)</th>"
            "<th>red / yellow / green (ml)</th><th>check</th></tr>"
        )
        for _, summary in dwi:
            exam = summary.get("exam") or {}
            reference = summary.get("reference") or exam
            classes = summary.get("classes_ml") or {}
            flags = "; ".join(str(f) for f in summary.get("plausibility_flags") or [])
            parts.append(
                f"<tr><td>{_cell(exam.get('date'))}</td><td>{_cell(reference.get('date'))}</td>"
                f"<td>{_cell(summary.get('total_diffusion_volume_ml'))}</td>"
                f"<td>{_cell(summary.get('tdv_change_pct'))}</td>"
                f"<td>{_cell((summary.get('adc_um2_per_s') or {}).get('median'), 0)}</td>"
                f"<td>{' / '.join(_cell(classes.get(k)) for k in ('red', 'yellow', 'green'))}"
                f"</td><td class='flag'>{html.escape(flags)}</td></tr>"
            )
        parts.append("</table>")
        for analysis_id, summary in dwi:
            if analysis_id in figures:
                exam = summary.get("exam") or {}
                reference = summary.get("reference") or exam
                parts.append(
                    f"<figure><img alt='coronal MIP of exam {_cell(exam.get('date'))}' "
                    f"src='data:image/png;base64,{figures[analysis_id]}'>"
                    f"<figcaption>Exam {_cell(exam.get('date'))}: coronal maximum-intensity "
                    "projection of the computed high-b image, tumour voxels coloured by "
                    f"response class against the exam of {_cell(reference.get('date'))}."
                    "</figcaption></figure>"
                )
    if pet_by_id:
        parts.append(
            "<h2>PET lesions</h2><table><tr><th>series</th><th>lesion</th><th>SUVbw max</th>"
            "<th>SULpeak</th><th>volume (ml)</th></tr>"
        )
        for _, pet_summary in pet_by_id:
            lesions = pet_summary.get("lesions") or []
            if not lesions:
                parts.append(
                    f"<tr><td>{_cell(pet_summary.get('series'))}</td>"
                    "<td colspan='4'>no lesion segmentation in the study</td></tr>"
                )
            for lesion in lesions:
                parts.append(
                    f"<tr><td>{_cell(pet_summary.get('series'))}</td>"
                    f"<td>{_cell(lesion.get('name', lesion.get('label')))}</td>"
                    f"<td>{_cell(lesion.get('suvbw_max'), 2)}</td>"
                    f"<td>{_cell(lesion.get('sul_peak'), 2)}</td>"
                    f"<td>{_cell(lesion.get('volume_ml'), 2)}</td></tr>"
                )
        parts.append("</table>")
        for analysis_id, pet_summary in pet_by_id:
            if analysis_id in pet_figures:
                series = _cell(pet_summary.get("series"))
                parts.append(
                    f"<figure><img alt='coronal PET MIP of {series}' "
                    f"src='data:image/png;base64,{pet_figures[analysis_id]}'>"
                    f"<figcaption>{series}: coronal maximum-intensity projection of SUVbw, "
                    "each lesion of the study's segmentation named at its centre."
                    "</figcaption></figure>"
                )
    parts.append("</body></html>\n")
    return "".join(parts)
