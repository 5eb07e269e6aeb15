"""Demo section: liver DCE-MRI perfusion before and two months after PRRT.

Reads the reference patient's liver DCE visits from ``phantom_dir/dce`` when
the cached patient has them, otherwise writes them (with
:func:`tumorboard.phantoms.liver_dce.write_liver_dce`) under
``out_dir/dce/phantom``. Each visit then goes through exactly what
``tumorboard dce map --dynamic DICOM_DIR`` runs
(:func:`~tumorboard.pipeline.dce_map.compute_dce_maps` and
:func:`~tumorboard.pipeline.dce_map.write_dce_maps`): the dynamic DICOM series
grouped into frames, T1 from the variable-flip-angle images, arterial and
portal-venous inputs measured in the aorta and portal-vein masks, then an
extended-Tofts fit (Ktrans) and a dual-input fit (plasma flow, arterial
fraction) inside the liver. The section shows Ktrans and arterial-fraction
maps of both visits and the lesion table (medians, change, high baseline
perfusion at a user-supplied threshold) and checks every lesion median and
the liver parenchyma's median flow and arterial fraction against the
phantom's generating parameters (``truth.json``; the phantom never runs a fit).
"""

from __future__ import annotations

import html
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from tumorboard.dce.kinetic_model import DceModel
from tumorboard.dce.lesion_summary import LesionChange, LesionSummary, lesion_changes
from tumorboard.imaging.nifti import read_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.outputs import output_directory
from tumorboard.phantoms.liver_dce import Visit, read_truth, write_liver_dce
from tumorboard.phantoms.patients import NET_PATIENT
from tumorboard.pipeline.dce_map import (
    DceMapRequest,
    DceMapResult,
    compute_dce_maps,
    write_dce_maps,
)
from tumorboard.pipeline.demo_section import DemoContext, DemoSection
from tumorboard.privacy import SafeWriter

SLUG = "dce"
#: User-supplied threshold of the demo: a baseline Ktrans median at or above it
#: marks "high baseline perfusion" (an illustration, not the study's cut-off).
DEMO_KTRANS_THRESHOLD_PER_MIN = 0.8
#: Truth checks: each lesion median within these tolerances of the phantom truth.
KTRANS_RELATIVE_TOLERANCE = 0.10
FLOW_RELATIVE_TOLERANCE = 0.10
ARTERIAL_FRACTION_TOLERANCE = 0.05
FAILED_FRACTION_LIMIT = 0.02
#: The two ``dce map`` runs per visit: model and the parameters the section uses.
MODEL_RUNS = {
    DceModel.EXTENDED_TOFTS: ("ktrans_per_min",),
    DceModel.DUAL_INPUT: ("fp_ml_per_100ml_per_min", "arterial_fraction"),
}
PARAMETERS = ("ktrans_per_min", "fp_ml_per_100ml_per_min", "arterial_fraction")
#: Dual-input parameters checked in the liver parenchyma (lesion 0 in the truth table).
PARENCHYMA_PARAMETERS = ("fp_ml_per_100ml_per_min", "arterial_fraction")
PARENCHYMA = 0
_VISITS = (Visit.BASELINE, Visit.FOLLOW_UP)
#: How the cached reference patient's folder is written in the displayed commands.
PATIENT_NAME_IN_COMMANDS = "REFERENCE_PATIENT"


@dataclass(frozen=True, eq=False)
class VisitMaps:
    """The ``dce map`` results of one visit.

    Attributes
    ----------
    visit : Visit
    results : dict of DceModel to DceMapResult
    truth : dict
        The visit's ``truth.json``.
    lesions : dict of int to LesionSummary
        Per-lesion summaries of :data:`PARAMETERS` (both runs merged).
    commands : list of str
        The equivalent ``tumorboard dce map`` command lines.
    parenchyma : dict of str to float
        Median of each dual-input parameter over the liver mask outside the lesions.
    """

    visit: Visit
    results: dict[DceModel, DceMapResult]
    truth: dict[str, Any]
    lesions: dict[int, LesionSummary]
    commands: list[str]
    parenchyma: dict[str, float] = field(default_factory=dict)

    def parameter_map(self, name: str) -> Volume:
        """The map of ``name`` from whichever run produced it."""
        for result in self.results.values():
            if name in result.maps.maps:
                return result.maps.maps[name]
        raise KeyError(name)

    def failed_fraction(self) -> float:
        """Largest fraction of failed voxel fits among the runs."""
        return max(r.n_failed / max(r.n_fitted, 1) for r in self.results.values())


def phantom_folder(context: DemoContext) -> Path:
    """The DCE visits of the cached patient, or a fresh copy under ``out_dir/dce/phantom``."""
    cached = context.phantom_dir / "dce"
    if all((cached / v.folder / "truth.json").is_file() for v in _VISITS):
        return cached
    fallback = context.out_dir / SLUG / "phantom"
    if not all((fallback / v.folder / "truth.json").is_file() for v in _VISITS):
        with output_directory(fallback, force=True) as staging:
            write_liver_dce(staging)
    return fallback


def map_request(folder: Path, model: DceModel, truth: dict[str, Any]) -> DceMapRequest:
    """The ``dce map`` request of one visit folder, as a user would give it.

    Parameters
    ----------
    folder : Path
        A visit folder written by :func:`tumorboard.phantoms.liver_dce.write_visit`.
    model : DceModel
    truth : dict
        Its ``truth.json`` (only the acquisition block is used: VFA flip angles
        and TR, relaxivity and haematocrit, as written on the protocol sheet).
    """
    acquisition = truth["acquisition"]
    return DceMapRequest(
        dynamic=folder / "dicom",
        model=model,
        aif=str(folder / "aorta.nii.gz"),
        vfa=folder / "vfa.nii.gz",
        vfa_flip_deg=[float(a) for a in acquisition["vfa_flip_deg"]],
        vfa_tr_ms=float(acquisition["vfa_tr_ms"]),
        r1_per_mM_s=float(acquisition["r1_per_mM_s"]),
        portal=str(folder / "portal_vein.nii.gz") if model is DceModel.DUAL_INPUT else None,
        hct=float(acquisition["hct"]),
        t1_blood_ms=float(acquisition["t1_blood_ms"]),
        mask=folder / "liver.nii.gz",
        lesions=folder / "lesions.nii.gz",
    )


def _shown(path: Path | str, roots: Mapping[Path, str]) -> str:
    """``path`` relative to the first root holding it, behind that root's display name."""
    target = Path(path)
    for root, name in roots.items():
        if target.is_relative_to(root):
            relative = target.relative_to(root)
            return str(Path(name) / relative) if name else str(relative)
    return str(target)


def command_line(request: DceMapRequest, out: Path, roots: Mapping[Path, str] | None = None) -> str:
    """The ``tumorboard dce map`` command equivalent to ``request``.

    Parameters
    ----------
    request : DceMapRequest
    out : Path
        The ``--out`` folder.
    roots : mapping of Path to str, optional
        Folders shown by a short name (``""`` shows paths relative to that folder).
    """
    names = roots or {}

    def shown(path: Path | str | None) -> str:
        return _shown(str(path), names)

    args = ["tumorboard", "dce", "map", "--dynamic", shown(request.dynamic)]
    if request.vfa is not None and request.vfa_flip_deg is not None:
        args += ["--vfa", shown(request.vfa)]
        args += ["--vfa-flip-deg", ",".join(f"{a:g}" for a in request.vfa_flip_deg)]
        args += ["--vfa-tr-ms", f"{request.vfa_tr_ms:g}"]
    args += ["--r1", f"{request.r1_per_mM_s:g}", "--aif", shown(request.aif)]
    if request.portal is not None:
        args += ["--portal", shown(request.portal)]
    args += ["--hct", f"{request.hct:g}", "--t1-blood-ms", f"{request.t1_blood_ms:g}"]
    args += ["--model", request.model.value]
    args += ["--mask", shown(request.mask), "--lesions", shown(request.lesions)]
    args += ["--out", shown(out)]
    return shlex.join(args)


def map_visit(
    folder: Path, visit: Visit, out: Path, roots: Mapping[Path, str] | None = None
) -> VisitMaps:
    """Run both ``dce map`` fits of one visit and write their outputs under ``out``.

    Parameters
    ----------
    folder : Path
        The visit folder (``.../dce/baseline`` or ``.../dce/followup``).
    visit : Visit
    out : Path
        Receives ``<model>/`` with the maps and ``lesions.csv`` of each run.
    roots : mapping of Path to str, optional
        Short names of folders in the recorded command lines (see :func:`command_line`).
    """
    truth = read_truth(folder)
    results: dict[DceModel, DceMapResult] = {}
    commands = []
    for model in MODEL_RUNS:
        request = map_request(folder, model, truth)
        target = out / model.value
        results[model] = compute_dce_maps(request)
        write_dce_maps(results[model], target, force=True)
        commands.append(command_line(request, target, roots))
    merged: dict[int, LesionSummary] = {}
    for model, names in MODEL_RUNS.items():
        for summary in results[model].summaries:
            kept = tuple(p for p in summary.parameters if p.parameter in names)
            previous = merged.get(summary.lesion)
            merged[summary.lesion] = LesionSummary(
                summary.lesion,
                summary.n_voxels,
                max(summary.failed_fraction, previous.failed_fraction if previous else 0.0),
                (previous.parameters if previous else ()) + kept,
            )
    liver = read_nifti(folder / "liver.nii.gz", what="liver mask").array > 0
    lesion_labels = read_nifti(folder / "lesions.nii.gz", what="lesions").array
    parenchyma_mask = liver & (lesion_labels == 0)
    dual_maps = results[DceModel.DUAL_INPUT].maps.maps
    parenchyma = {
        name: float(np.nanmedian(dual_maps[name].array[parenchyma_mask]))
        for name in PARENCHYMA_PARAMETERS
    }
    return VisitMaps(visit, results, truth, merged, commands, parenchyma)


def change_table(
    visits: dict[Visit, VisitMaps], *, ktrans_threshold_per_min: float
) -> dict[str, list[LesionChange]]:
    """Lesion medians at both visits and their change, per parameter.

    Parameters
    ----------
    visits : dict of Visit to VisitMaps
    ktrans_threshold_per_min : float
        Baseline Ktrans medians at or above it are flagged as high baseline perfusion.
    """
    baseline = [visits[Visit.BASELINE].lesions[k] for k in sorted(visits[Visit.BASELINE].lesions)]
    follow_up = [
        visits[Visit.FOLLOW_UP].lesions[k] for k in sorted(visits[Visit.FOLLOW_UP].lesions)
    ]
    return {
        p: lesion_changes(
            baseline,
            follow_up,
            p,
            high_threshold=ktrans_threshold_per_min if p == "ktrans_per_min" else None,
        )
        for p in PARAMETERS
    }


@dataclass(frozen=True)
class TruthComparison:
    """One lesion median against its truth.

    Attributes
    ----------
    visit : Visit
    lesion : int
        Lesion label, or :data:`PARENCHYMA` (0) for the liver outside the lesions.
    parameter : str
    fitted, truth : float
    error : float
        ``fitted - truth``.
    tolerance : float
        Allowed absolute error.
    """

    visit: Visit
    lesion: int
    parameter: str
    fitted: float
    truth: float
    error: float
    tolerance: float

    @property
    def ok(self) -> bool:
        """Within tolerance (a NaN median never is)."""
        return bool(np.isfinite(self.fitted) and abs(self.error) <= self.tolerance)


def _tolerance(parameter: str, truth: float) -> float:
    if parameter == "ktrans_per_min":
        return KTRANS_RELATIVE_TOLERANCE * truth
    if parameter == "fp_ml_per_100ml_per_min":
        return FLOW_RELATIVE_TOLERANCE * truth
    return ARTERIAL_FRACTION_TOLERANCE


def compare_with_truth(visits: dict[Visit, VisitMaps]) -> list[TruthComparison]:
    """Every lesion median of :data:`PARAMETERS` at both visits against ``truth.json``."""
    rows = []
    for visit, maps in visits.items():
        for lesion in maps.truth["lesions"]:
            summary = maps.lesions[int(lesion["label"])]
            for parameter in PARAMETERS:
                expected = float(lesion["parameters"][parameter])
                fitted = summary.median(parameter)
                rows.append(
                    TruthComparison(
                        visit,
                        int(lesion["label"]),
                        parameter,
                        fitted,
                        expected,
                        fitted - expected,
                        _tolerance(parameter, expected),
                    )
                )
        for parameter in PARENCHYMA_PARAMETERS:
            expected = float(maps.truth["liver"][parameter])
            fitted = maps.parenchyma.get(parameter, float("nan"))
            rows.append(
                TruthComparison(
                    visit,
                    PARENCHYMA,
                    parameter,
                    fitted,
                    expected,
                    fitted - expected,
                    _tolerance(parameter, expected),
                )
            )
    return rows


def _display_slice(lesions: Volume) -> int:
    """The slice holding the most lesion voxels."""
    return int(np.argmax((lesions.array > 0).sum(axis=(1, 2))))


def _figure(
    name: str, label: str, visits: dict[Visit, VisitMaps], lesions: Volume, path: Path, vmax: float
) -> None:
    z = _display_slice(lesions)
    fig = Figure(figsize=(7.2, 3.2), layout="constrained")  # Agg canvas, no pyplot state
    axes = fig.subplots(1, 2)
    image = None
    for ax, visit in zip(axes, _VISITS, strict=True):
        data = visits[visit].parameter_map(name).array[z]
        image = ax.imshow(data, cmap="magma", vmin=0.0, vmax=vmax, interpolation="nearest")
        ax.contour(lesions.array[z] > 0, levels=[0.5], colors="cyan", linewidths=0.8)
        ax.set_title(f"{visit.value} (slice {z + 1})")
        ax.set_axis_off()
    assert image is not None
    fig.colorbar(image, ax=axes, shrink=0.85, label=label)
    fig.savefig(path, dpi=90)


def _fmt(value: float, digits: int = 3) -> str:
    return "n/a" if not np.isfinite(value) else f"{value:.{digits}g}"


_TABLE_COLUMNS = (
    ("lesion", "lesion"),
    ("ktrans_baseline_per_min", "Ktrans baseline (/min)"),
    ("ktrans_follow_up_per_min", "Ktrans follow-up (/min)"),
    ("ktrans_change_percent", "Ktrans change (%)"),
    ("fp_baseline_ml_per_100ml_per_min", "Fp baseline (ml/100 ml/min)"),
    ("fp_follow_up_ml_per_100ml_per_min", "Fp follow-up (ml/100 ml/min)"),
    ("fp_change_percent", "Fp change (%)"),
    ("arterial_fraction_baseline", "arterial fraction baseline"),
    ("arterial_fraction_follow_up", "arterial fraction follow-up"),
    ("arterial_fraction_change", "arterial fraction change"),
    ("high_baseline_perfusion", "high baseline perfusion"),
)


def _table_rows(changes: dict[str, list[LesionChange]]) -> list[list[Any]]:
    rows: list[list[Any]] = []
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
                af.change,
                k.high_baseline,
            ]
        )
    return rows


def _html_table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape(_fmt(v) if isinstance(v, float) else str(v))}</td>" for v in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def run_section(
    context: DemoContext, *, ktrans_threshold_per_min: float = DEMO_KTRANS_THRESHOLD_PER_MIN
) -> DemoSection:
    """Run the liver DCE section of the demo.

    Parameters
    ----------
    context : DemoContext
    ktrans_threshold_per_min : float
        Baseline Ktrans marking high baseline perfusion (user supplied).
    """
    out = context.out_dir / SLUG
    out.mkdir(parents=True, exist_ok=True)
    phantom = phantom_folder(context)
    # command lines are shown relative to the report (the demo is written in a staging folder)
    roots = {context.out_dir: "", context.phantom_dir: PATIENT_NAME_IN_COMMANDS}
    visits = {v: map_visit(phantom / v.folder, v, out / v.folder, roots) for v in _VISITS}
    labels_volume = read_nifti(phantom / Visit.BASELINE.folder / "lesions.nii.gz", what="lesions")

    _figure("ktrans_per_min", "Ktrans (/min)", visits, labels_volume, out / "ktrans.png", 2.0)
    _figure(
        "arterial_fraction",
        "arterial fraction",
        visits,
        labels_volume,
        out / "arterial_fraction.png",
        1.0,
    )

    changes = change_table(visits, ktrans_threshold_per_min=ktrans_threshold_per_min)
    rows = _table_rows(changes)
    with open(out / "lesions.csv", "w", newline="") as handle:
        writer = SafeWriter(handle)
        writer.writerow([c[0] for c in _TABLE_COLUMNS])
        for row in rows:
            writer.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in row])

    # ---- truth checks
    comparisons = compare_with_truth(visits)
    responders = {
        int(lesion["label"]): bool(lesion["responder"])
        for lesion in visits[Visit.BASELINE].truth["lesions"]
    }

    def within(parameter: str) -> bool:
        return all(c.ok for c in comparisons if c.parameter == parameter and c.lesion != PARENCHYMA)

    checks = {
        f"lesion Ktrans within {KTRANS_RELATIVE_TOLERANCE:.0%} of truth": within("ktrans_per_min"),
        f"lesion plasma flow within {FLOW_RELATIVE_TOLERANCE:.0%} of truth": within(
            "fp_ml_per_100ml_per_min"
        ),
        f"lesion arterial fraction within {ARTERIAL_FRACTION_TOLERANCE} of truth": within(
            "arterial_fraction"
        ),
        f"liver parenchyma plasma flow within {FLOW_RELATIVE_TOLERANCE:.0%} and arterial "
        f"fraction within {ARTERIAL_FRACTION_TOLERANCE} of truth": all(
            c.ok for c in comparisons if c.lesion == PARENCHYMA
        ),
        "flow falls in responding lesions only": all(
            (c.change < 0) == responders[c.lesion] for c in changes["fp_ml_per_100ml_per_min"]
        ),
        f"failed voxel fits below {FAILED_FRACTION_LIMIT:.0%} of the liver": all(
            v.failed_fraction() < FAILED_FRACTION_LIMIT for v in visits.values()
        ),
    }

    truth_rows = [
        [
            c.visit.value,
            "parenchyma" if c.lesion == PARENCHYMA else c.lesion,
            c.parameter,
            c.fitted,
            c.truth,
            c.error,
            c.tolerance,
            c.ok,
        ]
        for c in comparisons
    ]
    source = (
        str(phantom.relative_to(context.out_dir))
        if phantom.is_relative_to(context.out_dir)
        else "the cached reference patient, dce/"
    )
    commands = "".join(f"<pre>{html.escape(cmd)}</pre>" for cmd in visits[Visit.BASELINE].commands)
    n_frames = len(visits[Visit.BASELINE].truth["acquisition"]["frame_times_s"])
    fragment = (
        "<p>Liver DCE-MRI of the reference patient at baseline and two months after PRRT: "
        f"a 3-D spoiled gradient-echo dynamic series of {n_frames} frames over 5 minutes "
        f"(DICOM, read from {html.escape(source)}), T1 from variable-flip-angle images, "
        "arterial and portal-venous inputs measured in the aorta and portal vein. "
        "Extended-Tofts Ktrans and dual-input plasma flow and arterial fraction are fitted "
        "voxel-wise inside the liver by the same code as <code>tumorboard dce map</code> "
        f"(paths relative to this report; {PATIENT_NAME_IN_COMMANDS} is the cached "
        "reference patient):</p>"
        + commands
        + f"<p>High baseline perfusion: Ktrans &ge; {ktrans_threshold_per_min:g} /min "
        "(a user-supplied threshold; the study's cut-offs are not built in).</p>"
        f'<figure><img src="{SLUG}/ktrans.png" alt="Ktrans maps"><figcaption>Ktrans '
        "(extended Tofts), lesions outlined</figcaption></figure>"
        f'<figure><img src="{SLUG}/arterial_fraction.png" alt="arterial fraction maps">'
        "<figcaption>Arterial fraction (dual-input model)</figcaption></figure>"
        + _html_table([c[1] for c in _TABLE_COLUMNS], rows)
        + f'<p><a href="{SLUG}/lesions.csv">lesions.csv</a></p>'
        + "<p>Lesion and liver-parenchyma medians against the phantom's generating "
        "parameters. The metastases are fed by the hepatic artery alone, so their "
        "dual-input curve is also an extended-Tofts curve with Ktrans = Fp, ve = v and "
        "vp = 0; the truth is never a fit.</p>"
        + _html_table(
            ["visit", "lesion", "parameter", "fitted", "truth", "error", "tolerance", "ok"],
            truth_rows,
        )
    )
    return DemoSection(
        slug=SLUG,
        title="Liver DCE-MRI perfusion before and after PRRT",
        html=fragment,
        checks=checks,
        patient=NET_PATIENT.heading("dce-pre-prrt", "prrt-cycle-1", "dce-post-prrt"),
    )
