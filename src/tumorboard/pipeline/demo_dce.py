"""Demo section: liver DCE-MRI perfusion before and two months after PRRT.

Builds the reference patient's liver DCE slab at both visits
(:mod:`tumorboard.phantoms.liver_dce`), writes it under ``out_dir/dce/phantom``
through the NIfTI writer, reads it back and runs the same library steps as
``tumorboard dce map``: signal to concentration with the T1 map, arterial and
portal-venous inputs measured in the aorta and portal vein, extended-Tofts
and dual-input fits inside the liver, lesion medians and their change. The
section shows Ktrans and arterial-fraction maps and the lesion table, and
checks the fitted lesion parameters against the phantom's truth.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from tumorboard.dce.lesion_summary import (
    LesionChange,
    LesionSummary,
    lesion_changes,
    summarise_lesions,
)
from tumorboard.dce.maps import (
    SpgrAcquisition,
    build_inputs,
    concentration_volume,
    vessel_signal_input,
)
from tumorboard.dce.volume_fit import fit_volume
from tumorboard.imaging.nifti import read_nifti, write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.phantoms.liver_dce import LiverDceCase, Visit, liver_dce_case
from tumorboard.pipeline.demo_section import DemoContext, DemoSection

SLUG = "dce"
#: User-supplied threshold of the demo: baseline Ktrans at or above it marks
#: "high baseline perfusion" (an illustration, not the study's cut-off).
DEMO_KTRANS_THRESHOLD_PER_MIN = 0.6
#: Truth checks: arterial fraction within this absolute error, flow within this fraction.
ARTERIAL_FRACTION_TOLERANCE = 0.1
FLOW_RELATIVE_TOLERANCE = 0.2
FAILED_FRACTION_LIMIT = 0.05

_PARAMETERS = ("ktrans_per_min", "fp_ml_per_100ml_per_min", "arterial_fraction")


def _write_inputs(case: LiverDceCase, folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "dynamic": folder / "dynamic.nii.gz",
        "t1": folder / "t1_ms.nii.gz",
        "liver": folder / "liver.nii.gz",
        "aorta": folder / "aorta.nii.gz",
        "portal": folder / "portal_vein.nii.gz",
        "lesions": folder / "lesions.nii.gz",
    }
    write_nifti(case.dynamic, paths["dynamic"], dtype=np.float32)
    write_nifti(case.t1_ms, paths["t1"], dtype=np.float32)
    write_nifti(case.liver, paths["liver"])
    write_nifti(case.aorta, paths["aorta"])
    write_nifti(case.portal_vein, paths["portal"])
    write_nifti(case.lesions, paths["lesions"], dtype=np.int16)
    return paths


def _analyse(case: LiverDceCase, paths: dict[str, Path]) -> tuple[dict[str, Volume], Volume, float]:
    """Maps of the visit (read back from disk) and the failed fraction in the liver."""
    dynamic = read_nifti(paths["dynamic"], what="dynamic")
    t1_s = read_nifti(paths["t1"], what="T1 map").array / 1000.0
    liver = read_nifti(paths["liver"], what="liver mask").array > 0
    aorta = read_nifti(paths["aorta"], what="aorta mask").array > 0
    portal = read_nifti(paths["portal"], what="portal-vein mask").array > 0
    lesions = read_nifti(paths["lesions"], what="lesion labels")
    acquisition = SpgrAcquisition(case.flip_deg, case.tr_ms / 1000.0, case.r1_per_mM_s)
    cp, baseline = vessel_signal_input(dynamic, aorta, acquisition, hct=case.hct)
    cv, _ = vessel_signal_input(
        dynamic, portal, acquisition, hct=case.hct, baseline_frames=baseline
    )
    concentration = concentration_volume(dynamic, t1_s, acquisition, baseline)
    assert dynamic.times_s is not None
    inputs = build_inputs(dynamic.times_s, cp, cv_mM=cv, source="aorta and portal vein")
    tofts = fit_volume(concentration, inputs, "extended-tofts", mask=liver)
    dual = fit_volume(concentration, inputs, "dual-input", mask=liver)
    maps = {**tofts.maps, **{k: v for k, v in dual.maps.items() if k != "r2"}}
    failed = float(np.mean((tofts.failed.array | dual.failed.array)[liver] > 0))
    return maps, lesions, failed


def _figure(
    name: str,
    label: str,
    maps: dict[Visit, dict[str, Volume]],
    lesions: Volume,
    path: Path,
    vmax: float,
) -> None:
    mid = lesions.spatial_shape[0] // 2
    fig = Figure(figsize=(7.0, 3.4), layout="constrained")  # Agg canvas, no pyplot state
    axes = fig.subplots(1, 2)
    image = None
    for ax, visit in zip(axes, (Visit.BASELINE, Visit.FOLLOW_UP), strict=True):
        data = maps[visit][name].array[mid]
        image = ax.imshow(
            np.where(np.isfinite(data), data, np.nan),
            cmap="magma",
            vmin=0.0,
            vmax=vmax,
            interpolation="nearest",
        )
        ax.contour(lesions.array[mid] > 0, levels=[0.5], colors="cyan", linewidths=0.8)
        ax.set_title(visit.value)
        ax.set_axis_off()
    assert image is not None
    fig.colorbar(image, ax=axes, shrink=0.85, label=label)
    fig.savefig(path, dpi=90)


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.{digits}g}"


def run_section(context: DemoContext) -> DemoSection:
    """Run the liver DCE section of the demo."""
    out = context.out_dir / SLUG
    out.mkdir(parents=True, exist_ok=True)
    cases = {v: liver_dce_case(v) for v in (Visit.BASELINE, Visit.FOLLOW_UP)}
    maps: dict[Visit, dict[str, Volume]] = {}
    summaries: dict[Visit, list[LesionSummary]] = {}
    failed: dict[Visit, float] = {}
    lesions: Volume | None = None
    for visit, case in cases.items():
        paths = _write_inputs(case, out / "phantom" / visit.value)
        maps[visit], lesions, failed[visit] = _analyse(case, paths)
        summaries[visit] = summarise_lesions(
            {p: maps[visit][p].array for p in _PARAMETERS}, lesions.array
        )
    assert lesions is not None

    _figure("ktrans_per_min", "Ktrans (/min)", maps, lesions, out / "ktrans.png", vmax=1.5)
    _figure(
        "arterial_fraction",
        "arterial fraction",
        maps,
        lesions,
        out / "arterial_fraction.png",
        vmax=1.0,
    )

    changes: dict[str, list[LesionChange]] = {
        p: lesion_changes(
            summaries[Visit.BASELINE],
            summaries[Visit.FOLLOW_UP],
            p,
            high_threshold=DEMO_KTRANS_THRESHOLD_PER_MIN if p == "ktrans_per_min" else None,
        )
        for p in _PARAMETERS
    }
    header = [
        "lesion",
        "ktrans_baseline_per_min",
        "ktrans_follow_up_per_min",
        "ktrans_change_percent",
        "fp_baseline_ml_per_100ml_per_min",
        "fp_follow_up_ml_per_100ml_per_min",
        "fp_change_percent",
        "arterial_fraction_baseline",
        "arterial_fraction_follow_up",
        "high_baseline_perfusion",
    ]
    rows = []
    for i, k in enumerate(changes["ktrans_per_min"]):
        fp = changes["fp_ml_per_100ml_per_min"][i]
        af = changes["arterial_fraction"][i]
        rows.append(
            [
                k.lesion,
                k.baseline,
                k.follow_up,
                k.change_percent,
                fp.baseline,
                fp.follow_up,
                fp.change_percent,
                af.baseline,
                af.follow_up,
                k.high_baseline,
            ]
        )
    with open(out / "lesions.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])

    # ---- truth checks
    truth = {lesion.label: lesion for lesion in cases[Visit.BASELINE].truth}
    af_ok = fp_ok = True
    for visit in (Visit.BASELINE, Visit.FOLLOW_UP):
        for s in summaries[visit]:
            expected = truth[s.lesion].parameters(visit)
            af_ok &= abs(s.median("arterial_fraction") - expected["arterial_fraction"]) <= (
                ARTERIAL_FRACTION_TOLERANCE
            )
            fp_true = expected["fp_ml_per_100ml_per_min"]
            fp_ok &= abs(s.median("fp_ml_per_100ml_per_min") - fp_true) <= (
                FLOW_RELATIVE_TOLERANCE * fp_true
            )
    direction_ok = all(
        (c.change < 0) == truth[c.lesion].responder for c in changes["fp_ml_per_100ml_per_min"]
    )
    checks = {
        f"lesion arterial fraction within {ARTERIAL_FRACTION_TOLERANCE} of truth": bool(af_ok),
        f"lesion plasma flow within {FLOW_RELATIVE_TOLERANCE:.0%} of truth": bool(fp_ok),
        "flow falls in responding lesions only": bool(direction_ok),
        f"failed voxel fits below {FAILED_FRACTION_LIMIT:.0%} of the liver": all(
            f < FAILED_FRACTION_LIMIT for f in failed.values()
        ),
    }

    cells = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(_fmt(v) if isinstance(v, float) else str(v))}</td>" for v in row
        )
        + "</tr>"
        for row in rows
    )
    heads = (
        "lesion",
        "Ktrans baseline (/min)",
        "Ktrans follow-up (/min)",
        "Ktrans change (%)",
        "Fp baseline (ml/100 ml/min)",
        "Fp follow-up",
        "Fp change (%)",
        "arterial fraction baseline",
        "arterial fraction follow-up",
        "high baseline perfusion",
    )
    table = (
        "<table><thead><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in heads)
        + "</tr></thead><tbody>"
        + cells
        + "</tbody></table>"
    )
    fragment = (
        "<p>Liver DCE-MRI (3 slices, 60 frames of 4 s) at baseline and two months after PRRT. "
        "Inputs measured in the aorta and portal vein; extended-Tofts Ktrans and dual-input "
        "arterial fraction fitted voxel-wise inside the liver. "
        f"High baseline perfusion: Ktrans &ge; {DEMO_KTRANS_THRESHOLD_PER_MIN} /min "
        "(a user-supplied threshold; the study's cut-offs are not built in).</p>"
        f'<figure><img src="{SLUG}/ktrans.png" alt="Ktrans maps"><figcaption>Ktrans '
        "(extended Tofts), lesions outlined</figcaption></figure>"
        f'<figure><img src="{SLUG}/arterial_fraction.png" alt="arterial fraction maps">'
        "<figcaption>Arterial fraction (dual-input model)</figcaption></figure>"
        + table
        + f'<p><a href="{SLUG}/lesions.csv">lesions.csv</a></p>'
    )
    return DemoSection(
        slug=SLUG,
        title="Liver DCE-MRI perfusion before and after PRRT",
        html=fragment,
        checks=checks,
    )
