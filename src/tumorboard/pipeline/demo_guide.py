"""Demo section: the reading guide for the reference patients and a radiomics table.

Runs the guide on the reference NET patient's and the pituitary case's facts
(:mod:`tumorboard.phantoms.reference_facts`), writes ``guide/net/guide.json``
and ``guide/pituitary/guide.json`` (plus HTML pages), and computes IBSI
features (preset ``pet``) for the target lesions of the NET patient on its
baseline 68Ga-DOTATATE SUV image (:mod:`tumorboard.phantoms.pet_case`), written
as ``guide/radiomics_features.csv``. Checks: the guide reaches the expected
conclusions; lesion mesh volumes rank as the true sphere volumes, and the
lesions of radius >= 15 mm are within 10 % of them (smaller spheres lose more
to the coarse PET grid); lesion SUV peaks rank as the truth uptakes do.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

from tumorboard.guide import parse_facts, run_guide
from tumorboard.json_output import write_json
from tumorboard.phantoms import pet_case
from tumorboard.phantoms.patients import NET_PATIENT, PITUITARY_PATIENT
from tumorboard.phantoms.reference_facts import (
    EXPECTED,
    REFERENCE_NET_FACTS,
    REFERENCE_PITUITARY_FACTS,
)
from tumorboard.pipeline.demo_section import DemoContext, DemoSection
from tumorboard.radiomics import (
    AcquisitionParameters,
    LesionFeatures,
    extract_lesion_features,
    write_feature_table,
)
from tumorboard.report.guide_html import render_guide_fragment, render_guide_page

SLUG = "guide"
#: Families computed for the demo table (the full IBSI set takes longer).
DEMO_FAMILIES = ("morphology", "local_intensity", "statistics", "cooccurrence_matrix")
#: Mesh volume vs the analytic sphere volume, for lesions of at least
#: ``LARGE_RADIUS_MM`` (partial-volume loss on the PET grid grows as lesions shrink).
VOLUME_TOLERANCE = 0.10
LARGE_RADIUS_MM = 15.0
#: Columns of the HTML table: (IBSI tag, aggregation, heading, format).
TABLE_FEATURES = (
    ("morph.vol", "", "volume (ml)", 1e-3),
    ("morph.sphericity", "", "sphericity", 1.0),
    ("loc.peak.local", "", "SUVpeak (IBSI local, 4 mm grid)", 1.0),
    ("stat.max", "", "SUVmax (4 mm grid)", 1.0),
    ("stat.mean", "", "SUVmean (4 mm grid)", 1.0),
    ("stat.skew", "", "skewness", 1.0),
    ("cm.joint.entr", "3D, averaged", "GLCM joint entropy", 1.0),
)


def run_section(context: DemoContext) -> DemoSection:
    """Guide for both reference cases and the radiomics table of the NET patient."""
    out = context.out_dir / SLUG
    checks: dict[str, bool] = {}
    parts = []
    for case, facts in (("net", REFERENCE_NET_FACTS), ("pituitary", REFERENCE_PITUITARY_FACTS)):
        result = run_guide(parse_facts(facts))
        payload = result.as_dict()
        folder = out / case
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "guide.json", payload)
        (folder / "guide.html").write_text(render_guide_page(payload), encoding="utf-8")
        checks.update(_guide_checks(case, payload))
        title = "NET patient" if case == "net" else "Pituitary case"
        parts.append(f"<h3>{title}</h3>\n{render_guide_fragment(payload)}")
    phantom = pet_case.build_pet_case()
    image = phantom.suv["dotatate_baseline"]
    lesions = extract_lesion_features(
        image, phantom.lesions, "pet", families=DEMO_FAMILIES, workers=2
    )
    dz, dy, dx = image.spacing_mm
    acquisition = AcquisitionParameters(
        modality="PT",
        spacing_z_mm=dz,
        spacing_y_mm=dy,
        spacing_x_mm=dx,
        radiopharmaceutical="68Ga-DOTATATE",
        unit="SUVbw",
        source="phantom",
    )
    write_feature_table(
        out / "radiomics_features.csv",
        lesions,
        "pet",
        acquisition,
        {t.label: t.name for t in pet_case.LESIONS},
    )
    checks.update(_radiomics_checks(lesions))
    parts.append(_radiomics_table(lesions))
    return DemoSection(
        slug=SLUG,
        title="Reading guide and radiomics",
        html="\n".join(parts),
        checks=checks,
        patient=(
            f"{NET_PATIENT.heading('pet-dotatate-pre-prrt', 'pet-fdg-pre-prrt')} "
            f"(guide and radiomics); {PITUITARY_PATIENT.heading()} (guide)"
        ),
    )


def _guide_checks(case: str, payload: dict[str, object]) -> dict[str, bool]:
    want = EXPECTED[case]
    if case == "pituitary":
        pituitary = payload["pituitary"]
        got = pituitary.get("refractoriness") if isinstance(pituitary, dict) else None
        return {"pituitary case: refractoriness as expected": got == want["refractoriness"]}
    imaging = payload["recommended_imaging"]
    prrt = payload["prrt"]
    first = imaging[0] if isinstance(imaging, list) and imaging else ""
    return {
        "NET patient: WHO grade G2": payload["who_grade"] == want["who_grade"],
        "NET patient: foregut, SSTR PET first": payload["embryology"] == want["embryology"]
        and str(first).startswith(want["first_imaging_prefix"]),
        "NET patient: higher risk": payload["risk"] == want["risk"],
        "NET patient: RECIST 1.1, Choi, PERCIST for targeted therapy": (
            payload["response_criteria"] == want["response_criteria"]
        ),
        "NET patient: PRRT not eligible (Krenning 2 bone lesion)": isinstance(prrt, dict)
        and prrt.get("status") == want["prrt"],
    }


def _radiomics_checks(lesions: tuple[LesionFeatures, ...]) -> dict[str, bool]:
    by_label = {lesion.label: lesion for lesion in lesions}
    volume_ok = all(
        abs(by_label[t.label].value("morph.vol") / (4.0 / 3.0 * math.pi * t.radius_mm**3) - 1.0)
        <= VOLUME_TOLERANCE
        for t in pet_case.LESIONS
        if t.radius_mm >= LARGE_RADIUS_MM
    )
    by_size = sorted(pet_case.LESIONS, key=lambda t: t.radius_mm)
    volumes = [by_label[t.label].value("morph.vol") for t in by_size]
    truth_order = sorted(pet_case.LESIONS, key=lambda t: t.suv["dotatate_baseline"])
    peaks = [by_label[t.label].value("loc.peak.local") for t in truth_order]
    return {
        "radiomics: one feature set per lesion": sorted(by_label)
        == sorted(t.label for t in pet_case.LESIONS),
        "radiomics: mesh volumes rank as the sphere volumes": volumes == sorted(volumes),
        "radiomics: lesions >= 15 mm radius within 10 % of the sphere volume": volume_ok,
        "radiomics: SUVpeak ranks as the truth uptake": peaks == sorted(peaks),
    }


def _radiomics_table(lesions: tuple[LesionFeatures, ...]) -> str:
    names = {t.label: t.name for t in pet_case.LESIONS}
    head = "".join(
        f"<th>{html.escape(h)}<br><small>{html.escape(t)}</small></th>"
        for t, _, h, _ in TABLE_FEATURES
    )
    rows = []
    for lesion in lesions:
        cells = "".join(
            f"<td>{lesion.value(tag, aggregation) * scale:.3g}</td>"
            for tag, aggregation, _, scale in TABLE_FEATURES
        )
        rows.append(
            f"<tr><td>{lesion.label}</td><td>{html.escape(names.get(lesion.label, ''))}</td>"
            f"{cells}</tr>"
        )
    csv_link = Path(SLUG) / "radiomics_features.csv"
    return (
        "<h3>Radiomics of the target lesions (baseline 68Ga-DOTATATE, preset pet)</h3>\n"
        "<p>IBSI features through mirp on the preset's grid resampled to 4 mm (the SUV "
        "values of the PET section are on the acquired voxels); column headings give the "
        "IBSI abbreviation. "
        f'All values with IBSI codes and acquisition parameters: <a href="{csv_link}">'
        "radiomics_features.csv</a>.</p>\n"
        f'<table class="data"><tr><th>label</th><th>site</th>{head}</tr>\n'
        + "\n".join(rows)
        + "\n</table>"
    )
