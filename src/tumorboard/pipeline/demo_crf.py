"""Demo section: response criteria and the standardized case-report form.

Runs every criteria on the reference patient's measurement table
(:mod:`tumorboard.phantoms.reference_measurements`) through the same library
calls as ``tumorboard assess``, writes ``crf/`` (response.csv, crf.html,
crf.pdf, crf.json, sdtm/) and shows the form inline. The checks compare the
engine's responses with the story's expected ones, and the lesion sizes
measured (as ``tumorboard measure`` does) on a synthetic CT of two timepoints
with the table's values.
"""

from __future__ import annotations

import html
import math

import numpy as np

from tumorboard.criteria.engine import assess_patient
from tumorboard.criteria.selection import choose_criteria
from tumorboard.guide import parse_facts, run_guide
from tumorboard.lesions.diameters import measure_lesion_intensity, measure_lesion_sizes
from tumorboard.phantoms import reference_measurements as reference
from tumorboard.phantoms.patients import NET_PATIENT
from tumorboard.phantoms.reference_facts import REFERENCE_NET_FACTS
from tumorboard.pipeline import demo_reference
from tumorboard.pipeline.demo_section import DemoContext, DemoSection
from tumorboard.pipeline.dwi_compare import comparison_rows, read_assessed_exam
from tumorboard.report.crf import (
    PatientCase,
    render_crf_html,
    write_assessment_outputs,
)

SLUG = "crf"
#: Timepoints whose synthetic CT is measured and compared with the table.
MEASURED_TIMEPOINTS = ("baseline", "week-36")
#: Mean HU of a lesion must match the table within this (noise 4 HU over >= 300 voxels).
HU_TOLERANCE = 1.5
SEED = 20261121


def _measurement_check(checks: dict[str, bool]) -> str:
    """Measure the synthetic CT of some timepoints and compare with the table."""
    series = demo_reference.reference_series()
    by_label = {tp.label: tp for tp in series.timepoints}
    rng = np.random.default_rng(SEED)
    dz, dy, dx = reference.CT_SPACING_MM
    tolerance_mm = math.hypot(dy, dx)  # corner-based Feret: within one pixel diagonal
    rows = []
    for label in MEASURED_TIMEPOINTS:
        image, labels, names = reference.synthetic_ct(label, rng)
        ok = True
        for size in measure_lesion_sizes(labels):
            lesion_id = names[size.label]
            truth = by_label[label].by_id[lesion_id]
            mean_hu = measure_lesion_intensity(image, labels, size.label).mean
            pairs = []
            if truth.longest_diameter_mm is not None:
                pairs.append(abs(size.longest_diameter_mm - float(truth.longest_diameter_mm)))
            if truth.is_node and truth.short_axis_mm is not None:
                pairs.append(abs(size.short_axis_mm - float(truth.short_axis_mm)))
            good = all(error <= tolerance_mm for error in pairs)
            if truth.mean_hu is not None:
                good = good and abs(mean_hu - float(truth.mean_hu)) <= HU_TOLERANCE
            ok = ok and good
            rows.append(
                f"<tr><td>{html.escape(label)}</td><td>{html.escape(lesion_id)}</td>"
                f"<td>{truth.longest_diameter_mm or ''}</td><td>{size.longest_diameter_mm:.1f}</td>"
                f"<td>{truth.short_axis_mm or ''}</td><td>{size.short_axis_mm:.1f}</td>"
                f"<td>{truth.mean_hu or ''}</td><td>{mean_hu:.1f}</td>"
                f"<td>{size.volume_ml:.2f}</td><td>{'ok' if good else 'OFF'}</td></tr>"
            )
        checks[
            f"{label}: lesion diameters from the synthetic CT within "
            f"{tolerance_mm:.2f} mm and HU within {HU_TOLERANCE} of the table"
        ] = ok
    return (
        "<h3>Lesion measurement from the synthetic CT</h3><table><tr><th>Timepoint</th>"
        "<th>Lesion</th><th>Table LD</th><th>Measured LD</th><th>Table SA</th>"
        "<th>Measured SA</th><th>Table HU</th><th>Measured HU</th><th>Volume (ml)</th>"
        "<th></th></tr>" + "".join(rows) + "</table>"
    )


def run_section(context: DemoContext) -> DemoSection:
    """Assess the reference patient under all criteria and render its CRF."""
    out = context.out_dir / SLUG
    out.mkdir(parents=True, exist_ok=True)
    series = demo_reference.reference_series()
    info = demo_reference.reference_patient_info()
    (out / "measurements.csv").write_text(reference.reference_measurements_csv(), encoding="utf-8")
    criteria = choose_criteria([series], None)
    assessments = assess_patient(series, criteria)
    case = PatientCase(series, assessments)
    guide = run_guide(parse_facts(REFERENCE_NET_FACTS, source="reference facts")).as_dict()
    document = write_assessment_outputs(
        out, [case], info, criteria, guide=guide, wbdwi_rows=_wbdwi_rows(context)
    )

    checks: dict[str, bool] = {}
    by_criteria = {a.criteria.value: a for a in assessments}
    for name, expected in reference.EXPECTED.items():
        got = tuple(
            t.overall_response.value if t.overall_response else ""
            for t in by_criteria[name].timepoints[1:]
        )
        checks[f"{name}: responses {' '.join(expected)}"] = got == expected
    recist = by_criteria["recist1.1"]
    week24 = recist.timepoints[2]
    checks["week-24: DOTATATE lesion X1 is a new baseline lesion (strict reading PD)"] = (
        week24.overall_response is not None
        and week24.overall_response.value == "PR"
        and week24.strict_response is not None
        and week24.strict_response.value == reference.EXPECTED_STRICT_WEEK_24
        and week24.new_baseline_lesions == ("X1",)
    )
    week36 = {name: a.timepoints[3].overall_response for name, a in by_criteria.items()}
    checks["week-36: necrotic growth is RECIST PD but Choi PR"] = (
        str(week36["recist1.1"]) == "PD" and str(week36["choi"]) == "PR"
    )
    files = (
        "crf.html",
        "crf.pdf",
        "crf.json",
        "response.csv",
        "sdtm/tu.csv",
        "sdtm/tr.csv",
        "sdtm/rs.csv",
        "measurements.csv",
    )
    checks["CRF outputs written (HTML, PDF, JSON, SDTM)"] = all(
        (out / name).is_file() and (out / name).stat().st_size > 0 for name in files
    )
    checks["crf.pdf is a PDF"] = (out / "crf.pdf").read_bytes()[:5] == b"%PDF-"
    measured = _measurement_check(checks)
    links = " &middot; ".join(
        f'<a href="{SLUG}/{html.escape(name)}">{html.escape(name)}</a>' for name in files
    )
    body = render_crf_html(document, fragment=True)
    fragment = (
        "<p>Every criteria applied to the reference patient's measurement table "
        f"(targeted agent: Choi recommended, RECIST 1.1 as reference). Files: {links}</p>"
        + body
        + measured
    )
    return DemoSection(
        slug=SLUG,
        title="Response criteria and case-report form",
        html=fragment,
        checks=checks,
        patient=NET_PATIENT.heading(*(f"ct-{label}" for label, _ in reference.TIMEPOINTS)),
    )


def _wbdwi_rows(context: DemoContext) -> list[dict[str, object]] | None:
    """The WB-DWI exams the demo assessed before this section, for the form."""
    exams = []
    for exam in range(1, 7):
        folder = context.out_dir / "dwi" / f"exam{exam}"
        if (folder / "summary.json").is_file():
            exams.append(read_assessed_exam(f"WB-DWI exam {exam}", folder))
    return comparison_rows(exams) if len(exams) >= 2 else None
