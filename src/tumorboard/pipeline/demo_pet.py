"""Demo section: PET quantification, Krenning, NETPET, PERCIST and the pituitary fusion.

Reads the reference patient's PET timepoints (68Ga-DOTATATE in GE and Philips
header styles, FDG in Siemens style) from ``phantom_dir/pet`` when the cached
patient has them, otherwise writes them (and the sellar-region case) under
``out_dir/pet/phantom``. Everything the section computes goes through the same
library calls as ``tumorboard pet suv`` / ``pet register``.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from tumorboard.criteria.engine import assess_patient
from tumorboard.criteria.records import (
    LIVER_REFERENCE_ID,
    Criteria,
    LesionMeasurement,
    LesionRole,
    LesionStatus,
    PatientSeries,
    Timepoint,
)
from tumorboard.errors import TumorboardError
from tumorboard.imaging.dicom_volume import read_series_volume
from tumorboard.imaging.nifti import read_nifti
from tumorboard.json_output import write_json
from tumorboard.pet.krenning import equivalent_diameter_mm, krenning_score
from tumorboard.pet.lesion_table import LesionPetRecord, lesion_records
from tumorboard.pet.liver_reference import ReferenceKind, liver_reference, organ_reference
from tumorboard.pet.methionine import labels_to_pet, uptake_ratio
from tumorboard.pet.netpet import DualTracerLesion, netpet_grade
from tumorboard.pet.percist_inputs import PercistScan, compare_scans
from tumorboard.pet.prrt_eligibility import prrt_eligibility
from tumorboard.pet.registration import (
    RigidTransform,
    register_rigid,
    target_registration_error_mm,
)
from tumorboard.pet.series_io import read_pet_series
from tumorboard.phantoms import pet_case, pituitary_case
from tumorboard.phantoms.patients import NET_PATIENT, PITUITARY_PATIENT
from tumorboard.pipeline.demo_section import DemoContext, DemoSection
from tumorboard.report.fusion_figure import fused_figure

SLUG = "pet"
#: Largest SUV difference between the DICOM round trip and the phantom truth
#: (int16 storage with per-slice slopes quantises to < 1e-3 SUV here).
SUV_ROUND_TRIP_TOLERANCE = 2e-3
#: Registration must recover the known misalignment within this target error.
TRE_LIMIT_MM = 2.0
#: Column headings of the report tables.
TIMEPOINT_HEADERS = (
    "series|header style|scan time from|SUVbw scale (g/Bq)|SUL/SUVbw|liver SULmean|"
    "liver SUL SD|SUVbw max"
).split("|")
LESION_HEADERS = (
    "scan|lesion|SUVbw max|SUVbw mean|SULpeak|MTV (ml)|TLG (g)|tumour/liver|Krenning"
).split("|")
PERCIST_HEADERS = (
    "scan|lesions read|hottest lesion|SULpeak|liver SULmean|liver SUL SD|"
    "measurability threshold|uptake (min)"
).split("|")
#: PERCIST modality code of the FDG readings in the case-report form.
PERCIST_MODALITY = "pet-fdg"
#: The phantom's hottest FDG lesion rises 8.0 -> 9.5 SUVbw (+18.75 %): stable disease.
PERCIST_EXPECTED_CATEGORY = "SMD"
#: Sparser metric sampling for the demo (the command line samples 5 %).
DEMO_SHRINK_FACTORS = (4, 2, 1)
DEMO_SMOOTHING_SIGMAS = (2.0, 1.0, 0.0)
DEMO_ITERATIONS = 100
DEMO_SAMPLING_FRACTION = 0.02


def _phantom_folders(context: DemoContext, out: Path) -> tuple[Path, Path, pet_case.PetCase | None]:
    cached_pet = context.phantom_dir / "pet"
    cached_pit = context.phantom_dir / "pituitary"
    pet_dir = cached_pet if (cached_pet / "truth.json").is_file() else out / "phantom" / "pet"
    pit_dir = cached_pit if (cached_pit / "truth.json").is_file() else out / "phantom" / "pituitary"
    built = None
    if not (pet_dir / "truth.json").is_file():
        built = pet_case.build_pet_case()
        pet_case.write_pet_case(built, pet_dir)
    if not (pit_dir / "truth.json").is_file():
        pituitary_case.write_pituitary_case(pituitary_case.build_pituitary_case(), pit_dir)
    return pet_dir, pit_dir, built


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


@dataclass(frozen=True)
class PercistOutcome:
    """What the criteria engine made of the FDG scans (or why it refused them).

    Attributes
    ----------
    category : str or None
        PERCIST category of the follow-up (None when the engine refused the input).
    hottest_sul_peak : tuple of (Decimal or None)
        The engine's hottest-lesion SULpeak at baseline and follow-up.
    notes : tuple of str
        The engine's notes on the follow-up.
    error : str or None
        The engine's one-line error when it rejected the input.
    n_lesions : tuple of int
        Lesion readings passed per scan.
    """

    category: str | None
    hottest_sul_peak: tuple[Decimal | None, ...]
    notes: tuple[str, ...]
    error: str | None
    n_lesions: tuple[int, ...]


def _pet_timepoint(
    label: str,
    date: dt.date,
    records: list[LesionPetRecord],
    liver_sul_mean: float,
    liver_sul_sd: float,
    organs: dict[int, str],
) -> Timepoint:
    """One PET timepoint of the case-report form: every measured lesion plus the liver row.

    The lesions are PET-only PERCIST targets (SULpeak, no diameter): PERCIST
    compares the hottest lesion of each scan, so the engine accepts a
    different set at each scan.
    """
    measurements = [
        LesionMeasurement(
            lesion_id=f"L{record.label}",
            organ=organs.get(record.label, "unknown"),
            role=LesionRole.TARGET,
            is_node=organs.get(record.label) == "lymph node",
            status=LesionStatus.PRESENT,
            modality=PERCIST_MODALITY,
            sul_peak=Decimal(f"{record.sul_peak:.2f}"),
            tlg_g=Decimal(f"{record.tlg:.1f}"),
        )
        for record in records
        if record.sul_peak is not None
    ]
    measurements.append(
        LesionMeasurement(
            lesion_id=LIVER_REFERENCE_ID,
            organ="liver",
            role=LesionRole.NON_TARGET,
            is_node=False,
            status=LesionStatus.PRESENT,
            modality=PERCIST_MODALITY,
            sul_peak=Decimal(f"{liver_sul_mean:.2f}"),
            sul_sd=Decimal(f"{liver_sul_sd:.2f}"),
        )
    )
    return Timepoint(label=label, date=date, measurements=tuple(measurements))


def percist_outcome(timepoints: tuple[Timepoint, ...]) -> PercistOutcome:
    """Assess PERCIST with :mod:`tumorboard.criteria` on all measured lesions of each scan.

    PERCIST 1.0 compares the hottest lesion of each scan (not necessarily the
    same lesion), so every measured lesion is passed and the engine picks.
    An input the engine rejects is reported, never replaced by a default.

    Parameters
    ----------
    timepoints : tuple of Timepoint
        Baseline first.

    Returns
    -------
    PercistOutcome
    """
    counts = tuple(
        sum(1 for m in tp.measurements if m.lesion_id != LIVER_REFERENCE_ID) for tp in timepoints
    )
    try:
        series = PatientSeries(patient_id="reference-pet", timepoints=timepoints)
        assessment = assess_patient(series, [Criteria.PERCIST])[0]
    except (TumorboardError, ValueError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        return PercistOutcome(None, (None,) * len(timepoints), (), message, counts)
    last = assessment.timepoints[-1]
    response = last.overall_response
    return PercistOutcome(
        category=None if response is None else str(response.value),
        hottest_sul_peak=tuple(t.sul_peak for t in assessment.timepoints),
        notes=tuple(last.notes) + tuple(assessment.notes),
        error=None,
        n_lesions=counts,
    )


def _percist_part(
    records: dict[str, list[LesionPetRecord]],
    liver_sul: dict[str, tuple[float, float, float]],
    scans: dict[str, Any],
    truth_lesions: list[dict[str, Any]],
    checks: dict[str, bool],
) -> tuple[str, dict[str, Any]]:
    """PERCIST on the two FDG scans: inputs, comparability, the engine's category."""
    keys = ("fdg_baseline", "fdg_followup")
    percist_scans = []
    for key in keys:
        hottest = max(records[key], key=lambda r: r.sul_peak or 0.0)
        conversion, tp = scans[key]
        percist_scans.append(
            PercistScan(
                hottest_sul_peak=float(hottest.sul_peak or 0.0),
                hottest_label=hottest.label,
                liver_sul_mean=liver_sul[key][0],
                liver_sul_sd=liver_sul[key][1],
                uptake_time_s=(tp.scan_start - tp.injection).total_seconds(),
                injected_dose_bq=float(conversion.injected_dose_bq or 0.0),
            )
        )
    comparison = compare_scans(percist_scans[0], percist_scans[1])
    timepoints = tuple(
        _pet_timepoint(
            name,
            scans[key][1].scan_start.date(),
            records[key],
            liver_sul[key][0],
            liver_sul[key][1],
            {lesion.label: lesion.organ for lesion in pet_case.LESIONS},
        )
        for name, key in zip(("baseline", "follow-up"), keys, strict=True)
    )
    outcome = percist_outcome(timepoints)
    checks["PERCIST: baseline hottest lesion measurable (> 1.5 x liver + 2 SD)"] = percist_scans[
        0
    ].measurable
    checks["PERCIST: FDG scans comparable (liver, uptake time, dose)"] = comparison.comparable
    n_measured = [sum(r.sul_peak is not None for r in records[key]) for key in keys]
    checks[
        "PERCIST: criteria engine assessed every measured lesion of both scans "
        f"({n_measured[0]} and {n_measured[1]})"
        + (f" - rejected: {outcome.error}" if outcome.error else "")
    ] = outcome.error is None and list(outcome.n_lesions) == n_measured
    engine_hottest = [None if v is None else float(v) for v in outcome.hottest_sul_peak]
    ours_hottest = [round(s.hottest_sul_peak, 2) for s in percist_scans]
    checks["PERCIST: the engine's hottest SULpeak per scan is the hottest measured lesion"] = (
        engine_hottest == ours_hottest
    )
    truth_max = [max(row["suv"][key] for row in truth_lesions) for key in keys]
    truth_change = 100.0 * (truth_max[1] - truth_max[0]) / truth_max[0]
    expected = PERCIST_EXPECTED_CATEGORY
    checks[
        f"PERCIST category {expected} (hottest lesion {truth_change:+.1f} % in truth, "
        "below the 30 % change)"
    ] = outcome.category == expected
    rows = [
        [
            name,
            str(count),
            f"L{s.hottest_label}",
            _fmt(s.hottest_sul_peak),
            _fmt(s.liver_sul_mean),
            _fmt(s.liver_sul_sd),
            _fmt(s.measurability_threshold),
            f"{s.uptake_time_s / 60:.0f}",
        ]
        for name, s, count in zip(
            ("baseline", "follow-up"), percist_scans, outcome.n_lesions, strict=True
        )
    ]
    if outcome.error is not None:
        verdict = (
            '<strong style="color:#c0161a">not assessed: the criteria engine rejected '
            f"the input: {html.escape(outcome.error)}</strong>"
        )
    else:
        verdict = html.escape(outcome.category or "none")
        if outcome.notes:
            verdict += f" ({html.escape('; '.join(outcome.notes))})"
    fragment = "\n".join(
        [
            "<h3>PERCIST (FDG baseline vs follow-up)</h3>",
            _table(PERCIST_HEADERS, rows),
            f"<p>SULpeak change {comparison.sul_peak_change_percent:+.1f} %; "
            f"comparable: {'yes' if comparison.comparable else 'no'}"
            + (f" ({html.escape('; '.join(comparison.notes))})" if comparison.notes else "")
            + f"; PERCIST category: {verdict}.</p>",
        ]
    )
    summary = {
        "baseline_sul_peak": percist_scans[0].hottest_sul_peak,
        "follow_up_sul_peak": percist_scans[1].hottest_sul_peak,
        "lesions_read": list(outcome.n_lesions),
        "change_percent": comparison.sul_peak_change_percent,
        "comparable": comparison.comparable,
        "category": outcome.category,
        "engine_error": outcome.error,
    }
    return fragment, summary


def run_section(context: DemoContext) -> DemoSection:
    """Run the PET part of the demo and return its report section."""
    started = time.perf_counter()
    out = context.out_dir / SLUG
    out.mkdir(parents=True, exist_ok=True)
    pet_dir, pit_dir, built = _phantom_folders(context, out)
    case_truth = built if built is not None else pet_case.build_pet_case()  # deterministic
    truth = json.loads((pet_dir / "truth.json").read_text(encoding="utf-8"))
    labels = read_nifti(pet_dir / "lesions.nii.gz", what="lesion labels")
    liver_mask = read_nifti(pet_dir / "liver.nii.gz", what="liver mask")
    spleen_mask = read_nifti(pet_dir / "spleen.nii.gz", what="spleen mask")
    checks: dict[str, bool] = {}
    parts: list[str] = []
    results: dict[str, Any] = {}
    records: dict[str, list[LesionPetRecord]] = {}
    liver_sul: dict[str, tuple[float, float, float]] = {}
    scans: dict[str, Any] = {}

    timepoint_rows = []
    for tp in pet_case.TIMEPOINTS:
        series = read_pet_series(pet_dir / tp.key, what=f"{tp.key} PET")
        suv = series.suvbw
        conversion = series.conversion
        expected = truth["timepoints"][tp.key]["suvbw_scale_g_per_bq"]
        scale = conversion.suvbw_scale_g_per_bq or float("nan")
        checks[f"{tp.key}: SUV scale ({tp.vendor} style) within 1e-6 of truth"] = bool(
            abs(scale / expected - 1) < 1e-6
        )
        error = float(np.abs(suv.array - case_truth.suv[tp.key].array).max())
        checks[f"{tp.key}: SUV image matches the phantom truth"] = error < SUV_ROUND_TRIP_TOLERANCE
        ratio = conversion.sul_per_suvbw()
        liver = liver_reference(suv, liver_mask=liver_mask)
        spleen = organ_reference(suv, spleen_mask, ReferenceKind.SPLEEN)
        sstr = tp.tracer == "dotatate"
        rows = lesion_records(
            suv,
            labels,
            sul_per_suvbw=ratio,
            liver_suvbw=liver,
            spleen_suvbw=spleen if sstr else None,
        )
        records[tp.key] = rows
        liver_sul[tp.key] = (liver.mean * ratio, liver.sd * ratio, liver.mean)
        scans[tp.key] = (conversion, tp)
        rule = conversion.scan_time_rule.value if conversion.scan_time_rule else "-"
        timepoint_rows.append(
            [f"{tp.description} ({tp.scan_start.date().isoformat()})"]
            + [f"{tp.vendor} {conversion.units.value}", rule, f"{scale:.4e}"]
            + [f"{ratio:.3f}", _fmt(liver.mean * ratio), _fmt(liver.sd * ratio)]
            + [_fmt(float(suv.array.max()), 1)]
        )
        results[tp.key] = {
            "suvbw_scale_g_per_bq": scale,
            "scan_time_rule": None if rule == "-" else rule,
            "liver_sul_mean": liver.mean * ratio,
            "liver_sul_sd": liver.sd * ratio,
            "spleen_suvbw_mean": spleen.mean,
            "lesions": [r.to_json() for r in rows],
        }
    first_sstr = NET_PATIENT.first_use("dotatate")
    parts.append(
        "<p>The NET patient's PRRT work-up (68Ga-DOTATATE and FDG PET before the first "
        "177Lu-DOTATATE cycle on "
        f"{NET_PATIENT.date_of('prrt-cycle-1').isoformat()}) and the same pair four months "
        "after it. 'Baseline' here is the PRRT baseline: the patient's first DOTATATE PET was "
        f"on {first_sstr.isoformat() if first_sstr else '-'} (week 24 of the everolimus line "
        "in the case-report form section).</p>"
    )
    parts.append("<h3>SUV conversion per timepoint (vendor-neutral QIBA rules)</h3>")
    parts.append(_table(TIMEPOINT_HEADERS, timepoint_rows))

    lesion_names = {row["label"]: row["name"] for row in truth["lesions"]}
    lesion_rows = []
    for key in ("dotatate_baseline", "fdg_baseline"):
        for record in records[key]:
            grade = "-" if record.krenning is None else str(record.krenning)
            if record.small_lesion_caution:
                grade += " (<= 2 cm)"
            values = (record.suvbw_max, record.suvbw_mean, record.sul_peak)
            lesion_rows.append(
                [key.replace("_", " "), f"{record.label} {lesion_names.get(record.label, '')}"]
                + [_fmt(v) for v in values]
                + [_fmt(record.mtv_ml, 1), _fmt(record.tlg, 1), _fmt(record.tumour_to_liver), grade]
            )
    parts.append("<h3>Lesion uptake and Krenning score</h3>")
    parts.append(_table(LESION_HEADERS, lesion_rows))

    # Krenning, NETPET, PRRT eligibility from the baseline SSTR and FDG scans.
    sstr_liver = liver_sul["dotatate_baseline"][2]
    fdg_liver = liver_sul["fdg_baseline"][2]
    spleen_mean = results["dotatate_baseline"]["spleen_suvbw_mean"]
    fdg_by_label = {r.label: r for r in records["fdg_baseline"]}
    krenning = [
        krenning_score(
            r.label, r.suvbw_max, sstr_liver, spleen_mean, equivalent_diameter_mm(r.volume_ml)
        )
        for r in records["dotatate_baseline"]
    ]
    dual = [
        DualTracerLesion(
            r.label, r.suvbw_max, sstr_liver, fdg_by_label[r.label].suvbw_max, fdg_liver
        )
        for r in records["dotatate_baseline"]
    ]
    netpet = netpet_grade(dual)
    prrt = prrt_eligibility(krenning, netpet)
    checks["Krenning: liver metastasis 1 scores 4, bone lesion 5 scores 2"] = (
        krenning[0].score == 4 and krenning[4].score == 2
    )
    checks["NETPET grade P4a (one FDG > SSTR lesion)"] = netpet.grade.value == "P4a"
    checks["PRRT summary names the bone lesion 5 as failing"] = prrt.failing_labels == (5,)
    parts.append(
        f"<p><b>NETPET grade:</b> {html.escape(netpet.grade.value)} "
        f"({html.escape(', '.join(f'L{label}: {p.value}' for label, p in netpet.patterns))})."
        f" <b>PRRT uptake criterion:</b> {html.escape(prrt.summary)}.</p>"
    )

    # PERCIST on the two FDG scans, every measured lesion through the criteria engine.
    percist_html, results["percist"] = _percist_part(
        records, liver_sul, scans, truth["lesions"], checks
    )
    parts.append(percist_html)

    # Pituitary: methionine PET onto MRI.
    pit_truth = json.loads((pit_dir / "truth.json").read_text(encoding="utf-8"))
    mri = read_series_volume(pit_dir / "mri", what="sellar MRI")
    pet = read_pet_series(pit_dir / "pet", what="methionine PET").suvbw
    mri_labels = read_nifti(pit_dir / "mri_labels.nii.gz", what="MRI labels")
    registration = register_rigid(
        mri,
        pet,
        shrink_factors=DEMO_SHRINK_FACTORS,
        smoothing_sigmas=DEMO_SMOOTHING_SIGMAS,
        iterations=DEMO_ITERATIONS,
        sampling_fraction=DEMO_SAMPLING_FRACTION,
    )
    truth_matrix = np.asarray(pit_truth["mri_to_pet_matrix"])
    grid = np.array([[x, y, z] for x in (-20, 20) for y in (-20, 20) for z in (-20, 20)], float)
    tre = target_registration_error_mm(registration.transform, RigidTransform(truth_matrix), grid)
    checks[f"registration recovers the known transform (TRE < {TRE_LIMIT_MM:g} mm)"] = bool(
        tre.max() < TRE_LIMIT_MM
    )
    label_array = np.asarray(mri_labels.array)
    sella = ndimage.binary_dilation(np.isin(label_array, (9, 10)), iterations=4)
    search = labels_to_pet(
        mri_labels.with_array(sella.astype(np.uint8)), pet, registration.transform
    )
    cerebellum = labels_to_pet(
        mri_labels.with_array((label_array == 5).astype(np.uint8)), pet, registration.transform
    )
    methionine = uptake_ratio(pet, search, cerebellum)
    hotspot_mri = registration.transform.inverse().apply(np.asarray(methionine.lesion_max_lps))
    remnant = np.asarray(pit_truth["remnant_center_lps_mm"])
    distance = float(np.linalg.norm(hotspot_mri - remnant))
    checks["methionine hotspot found at the remnant (< 4 mm)"] = distance < 4.0
    figure = fused_figure(
        mri,
        registration.resampled,
        out / "pituitary_fused.png",
        center_lps=remnant.tolist(),
        title="11C-methionine PET on MRI",
        pet_unit="SUVbw",
    )
    parts.append("<h3>Pituitary remnant: 11C-methionine PET fused with MRI</h3>")
    parts.append(
        f"<p>Rigid Mattes-MI registration: target error max {tre.max():.2f} mm "
        f"(mean {tre.mean():.2f} mm) against the known misalignment. Remnant SUVmax "
        f"{methionine.lesion_suv_max:.2f}, cerebellum SUVmean {methionine.reference_suv_mean:.2f}, "
        f"ratio {methionine.ratio:.2f}; hotspot {distance:.1f} mm from the true remnant.</p>"
    )
    relative = figure.relative_to(context.out_dir).as_posix()
    parts.append(
        f'<img src="{html.escape(relative)}" alt="PET/MR fusion of the sella" '
        'style="max-width:100%">'
    )
    results["netpet"] = netpet.grade.value
    results["prrt"] = {
        "criterion_met": prrt.uptake_criterion_met,
        "failing_labels": list(prrt.failing_labels),
        "summary": prrt.summary,
    }
    results["pituitary"] = {
        "tre_max_mm": float(tre.max()),
        "ratio": methionine.ratio,
        "hotspot_distance_mm": distance,
    }
    results["seconds"] = time.perf_counter() - started
    write_json(out / "pet_summary.json", results)
    return DemoSection(
        slug=SLUG,
        title="PET: SUV across vendors, Krenning, NETPET, PERCIST, PET/MR fusion",
        html="\n".join(parts),
        checks=checks,
        patient=(
            f"{NET_PATIENT.heading(*pet_case.TIMEPOINT_EVENTS.values())} "
            f"(SUV, Krenning, NETPET, PERCIST); {PITUITARY_PATIENT.heading()} (PET/MR fusion)"
        ),
    )


__all__ = ["run_section"]
