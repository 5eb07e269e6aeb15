"""Demo section: the six WB-DWI exams of the reference patient.

Each exam is read from its multi-station DICOM, assessed with the settings a
reader would use (computed b1000, threshold 100, organ exclusion of brain,
cord, spleen, kidneys and bowel), written with the full ``dwi assess``
outputs, and compared with the phantom's truth. As in the published case,
first-line exams and the relapse are read against exam 1 and the second-line
exams against the relapse (exam 4): their written outputs (summary, MIP,
histogram) use that reference; the table also gives every exam against exam 1.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from tumorboard.dwi.response_classes import ClassBounds, ResponseClass, classify_response
from tumorboard.imaging.diffusion_dicom import read_diffusion_series
from tumorboard.imaging.nifti import read_nifti
from tumorboard.phantoms.patients import BREAST_PATIENT
from tumorboard.phantoms.torso import BRIGHT_NORMAL_STRUCTURES
from tumorboard.pipeline.demo_section import DemoContext, DemoSection
from tumorboard.pipeline.dwi_assess import (
    ExamAssessment,
    ExamName,
    ReferenceExam,
    assess_exam,
    write_assessment,
)
from tumorboard.report.dwi_figures import histogram_figure
from tumorboard.segment.tumour_load import exclusion_from_labels

EXAMS = range(1, 7)
#: Second-line exams are also read against the relapse exam.
SECOND_LINE_REFERENCE_EXAM = 4
#: Truth tolerances of the issue: volume 3 %, class volumes 5 %.
VOLUME_TOLERANCE = 0.03
CLASS_TOLERANCE = 0.05


@dataclass(frozen=True)
class _ExamRow:
    exam: int
    date: str
    line: str
    summary: dict[str, Any]
    truth: dict[str, Any]
    classes_vs_first: dict[str, float]
    classes_vs_second_line: dict[str, float] | None


def run_section(context: DemoContext) -> DemoSection:
    """Assess the six exams and build the report section."""
    out = context.out_dir / "dwi"
    out.mkdir(parents=True, exist_ok=True)
    organs = read_nifti(context.phantom_dir / "anatomy" / "organs.nii.gz", what="organ map")
    exclusion = exclusion_from_labels(
        [np.asarray(organs.array)], [int(t) for t in BRIGHT_NORMAL_STRUCTURES]
    )
    rows: list[_ExamRow] = []
    assessments: dict[int, ExamAssessment] = {}
    names: dict[int, ExamName] = {}
    for exam in EXAMS:
        exam_dir = context.phantom_dir / "wbdwi" / f"exam{exam}"
        truth = json.loads((exam_dir / "truth" / "truth.json").read_text())
        reference_exam = int(truth["reference_exam"])
        names[exam] = ExamName(f"exam {exam}", truth["date"])
        reference = (
            ReferenceExam.from_assessment(assessments[reference_exam], names[reference_exam])
            if reference_exam != exam
            else None
        )
        series = read_diffusion_series(exam_dir / "dicom")
        assessment = assess_exam(series.images, exclusion=exclusion, reference=reference)
        assessments[exam] = assessment
        target = out / f"exam{exam}"
        target.mkdir(exist_ok=True)
        summary = write_assessment(
            assessment,
            target,
            title=f"Exam {exam} ({truth['date']}, {truth['line']})",
            reference_label=f"exam {reference_exam}",
            exam=names[exam],
        )
        vs_first = (
            summary["classes_ml"]
            if reference_exam == 1
            else _class_volumes(assessment, assessments[1])
        )
        vs_second_line = (
            summary["classes_ml"] if reference_exam == SECOND_LINE_REFERENCE_EXAM else None
        )
        rows.append(
            _ExamRow(exam, truth["date"], truth["line"], summary, truth, vs_first, vs_second_line)
        )
    # one overlay per reference exam, shaded against it, as the exams' MIPs are
    for reference_exam, members in _by_reference(rows).items():
        histogram_figure(
            {f"exam {e}": assessments[e].histogram for e in members},
            out / f"histograms_vs_exam{reference_exam}.png",
            yellow_lower_um2_per_s=assessments[reference_exam].statistics.p95,
            title=f"Tumour ADC histograms (classes shaded against {names[reference_exam].text})",
        )
    checks = _truth_checks(rows)
    return DemoSection(
        slug="dwi",
        title="Whole-body diffusion MRI tumour load",
        html=_html(rows, checks),
        checks=checks,
        patient=BREAST_PATIENT.heading(),
    )


def _by_reference(rows: list[_ExamRow]) -> dict[int, list[int]]:
    """Exams grouped by the reference exam of their classes (the reference first)."""
    groups: dict[int, list[int]] = {}
    for row in rows:
        reference = int(row.truth["reference_exam"])
        groups.setdefault(reference, [reference] if reference != row.exam else [])
        groups[reference].append(row.exam)
    return groups


def _class_volumes(assessment: ExamAssessment, reference: ExamAssessment) -> dict[str, float]:
    bounds = ClassBounds(yellow_lower_um2_per_s=reference.statistics.p95)
    classes = classify_response(assessment.adc.array, assessment.segmentation.mask, bounds)
    counts = np.bincount(classes.ravel(), minlength=4) * assessment.grid.voxel_volume_ml
    return {
        "green": float(counts[ResponseClass.GREEN]),
        "yellow": float(counts[ResponseClass.YELLOW]),
        "red": float(counts[ResponseClass.RED]),
    }


def _class_ok(measured: float, truth: float) -> bool:
    return abs(measured - truth) <= CLASS_TOLERANCE * truth


def _truth_checks(rows: list[_ExamRow]) -> dict[str, bool]:
    checks: dict[str, bool] = {}
    for row in rows:
        truth_volume = row.truth["total_diffusion_volume_ml"]
        measured = row.summary["total_diffusion_volume_ml"]
        checks[f"exam {row.exam}: volume within 3 % of truth"] = (
            abs(measured - truth_volume) <= VOLUME_TOLERANCE * truth_volume
        )
        # summary.json classes are against the truth's own reference exam
        classes = row.summary["classes_ml"]
        checks[f"exam {row.exam}: class volumes within 5 % of truth"] = all(
            _class_ok(classes[name], row.truth["classes_ml"][name])
            for name in ("green", "yellow", "red")
        )
    return checks


def _fmt(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _html(rows: list[_ExamRow], checks: dict[str, bool]) -> str:
    head = (
        "<tr><th>exam</th><th>date</th><th>therapy</th><th>volume (ml)</th>"
        "<th>truth (ml)</th><th>&Delta; vol vs the exam's reference (as its MIP)</th>"
        "<th>mean ADC</th><th>median</th>"
        "<th>SD</th><th>p95</th><th>kurtosis</th>"
        "<th>green / yellow / red (ml) vs exam 1</th>"
        "<th>green / yellow / red (ml) vs exam 4</th><th>largest red cluster</th></tr>"
    )
    body = []
    for row in rows:
        s = row.summary
        adc = s["adc_um2_per_s"]
        classes = row.classes_vs_first
        vs4 = row.classes_vs_second_line
        cluster = s["largest_red_cluster"]
        cluster_text = (
            f"{_fmt(cluster['volume_ml'], 1)} ml at z {_fmt(cluster['centroid_lps_mm'][2])} mm"
            if cluster
            else "none"
        )
        change = s.get("tdv_change_pct")
        change_text = (
            "" if change is None else f"{change:+.1f} % vs {html.escape(s['reference_exam'])}"
        )
        body.append(
            "<tr>"
            f"<td>{row.exam}</td><td>{html.escape(row.date)}</td><td>{html.escape(row.line)}</td>"
            f"<td>{_fmt(s['total_diffusion_volume_ml'], 1)}</td>"
            f"<td>{_fmt(row.truth['total_diffusion_volume_ml'], 1)}</td>"
            f"<td>{change_text}</td>"
            f"<td>{_fmt(adc['mean'])}</td><td>{_fmt(adc['median'])}</td><td>{_fmt(adc['sd'])}</td>"
            f"<td>{_fmt(adc['p95'])}</td><td>{adc['kurtosis']:.2f}</td>"
            f"<td>{_classes_cell(classes)}</td>"
            f"<td>{_classes_cell(vs4) if vs4 else ''}</td>"
            f"<td>{cluster_text}</td>"
            "</tr>"
        )
    mips = "".join(
        f'<figure><img src="dwi/exam{row.exam}/mip.png" alt="MIP exam {row.exam}">'
        f"<figcaption>exam {row.exam}</figcaption></figure>"
        for row in rows
    )
    failed = [name for name, ok in checks.items() if not ok]
    verdict = (
        "All truth checks passed."
        if not failed
        else "Failed truth checks: " + html.escape("; ".join(failed))
    )
    return (
        "<p>Six WB-DWI exams (b50, b600, b900; four stations) read from DICOM. "
        "Tumour: computed b1000 &ge; 100 a.u., brain, cord, spleen, kidneys and bowel removed "
        "by the organ map, components &ge; 0.5 ml. Classes: green ADC &ge; 1500 &micro;m&sup2;/s, "
        "yellow from the reference exam's 95th-centile ADC, red below. ADC in &micro;m&sup2;/s.</p>"
        f'<table class="data">{head}{"".join(body)}</table>'
        f'<p class="checks">{verdict}</p>'
        f'<div class="mips">{mips}</div>'
        + "".join(
            f'<figure><img src="dwi/histograms_vs_exam{reference}.png" alt="ADC histograms">'
            f"<figcaption>Relative-frequency ADC histograms of exams "
            f"{', '.join(str(e) for e in members)}, classes shaded against exam {reference}"
            "</figcaption></figure>"
            for reference, members in _by_reference(rows).items()
        )
    )


def _classes_cell(classes: dict[str, float]) -> str:
    return (
        f'<span class="green">{_fmt(classes["green"], 1)}</span> / '
        f'<span class="yellow">{_fmt(classes["yellow"], 1)}</span> / '
        f'<span class="red">{_fmt(classes["red"], 1)}</span>'
    )
