"""The demo's record section: the reference patients through a workspace.

``tumorboard demo`` imports the reference patients' DICOM into a workspace
(``DEMO/workspace``), sets the WB-DWI patient's two therapy lines with
``baseline``, runs ``run`` and writes ``report`` for each patient
(``DEMO/record/<patient>/``). The normal bright structures to remove from the
WB-DWI tumour load and the PET lesions are given to the record as DICOM SEG,
written here from the phantom's label maps (what a reader's segmentation
would be).

Truth checks (from the phantom's generating parameters, ``truth.json``):
every WB-DWI volume within 3 % and class volume within 5 % of truth against
the truth's reference exam, as in the one-shot WB-DWI section; every PET
lesion's SUVmax within 0.2 % (the int16 DICOM round trip) of the maximum of
the generated SUV image (noise included) over the lesion. And the one-owner check:
each WB-DWI volume from the record equals the one-shot section's
``summary.json`` to 1e-6, and a second ``run`` recomputes nothing.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path
from typing import Any

import numpy as np

from tumorboard.imaging.label_maps import write_dicom_seg
from tumorboard.imaging.nifti import read_nifti
from tumorboard.phantoms.patients import BREAST_PATIENT, NET_PATIENT
from tumorboard.phantoms.pet_case import TIMEPOINTS, build_pet_case
from tumorboard.phantoms.torso import BRIGHT_NORMAL_STRUCTURES
from tumorboard.report.demo_section import DemoContext, DemoSection
from tumorboard.store import init_workspace
from tumorboard.workflow.analysis_runs import run_analyses
from tumorboard.workflow.dicom_import import import_paths
from tumorboard.workflow.record_report import write_record_report
from tumorboard.workflow.therapy_lines import set_baseline
from tumorboard.workflow.timeline import patient_timeline

__all__ = ["run_section", "series_number_of"]

VOLUME_TOLERANCE = 0.03
CLASS_TOLERANCE = 0.05
SUV_TOLERANCE = 2e-3  # the int16 DICOM round trip, as in the one-shot PET section
ONE_OWNER_TOLERANCE = 1e-6
#: Days after the relapse exam that the second line starts (its baseline is that exam).
SECOND_LINE_START_DAYS = 5


def _exclusion_segs(exam_dir: Path, organs: Any, target: Path) -> Path:
    """One SEG per station of the bright normal structures, on the station's b = 50 images."""
    mask = np.isin(np.asarray(organs.array), [int(t) for t in BRIGHT_NORMAL_STRUCTURES])
    labels = organs.with_array(mask.astype(np.uint8), unit="label")
    for station in sorted((exam_dir / "dicom").glob("station*")):
        sources = sorted(station.glob("b50_*"))
        folder = target / station.name
        folder.mkdir(parents=True, exist_ok=True)
        write_dicom_seg(
            labels,
            sources,
            folder / "exclusion.dcm",
            {1: "normal bright structures"},
            series_description="tumorboard exclusion: normal bright structures",
            series_number=900 + int(station.name.removeprefix("station") or 0),
        )
    return target


def _lesion_seg(series_dir: Path, lesions: Any, names: dict[int, str], target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    return write_dicom_seg(
        lesions,
        sorted(p for p in series_dir.iterdir() if p.is_file()),
        target / "lesions.dcm",
        names,
        series_description="PET lesions",
    )


def run_section(context: DemoContext) -> DemoSection:
    """Import, run and report the reference patients through a workspace."""
    phantom, out = context.phantom_dir, context.out_dir
    seg_root = out / "record" / "segmentations"
    organs = read_nifti(phantom / "anatomy" / "organs.nii.gz", what="organ map")
    dwi_truth = {}
    folders: list[Path] = []
    for exam in range(1, 7):
        exam_dir = phantom / "wbdwi" / f"exam{exam}"
        dwi_truth[exam] = json.loads((exam_dir / "truth" / "truth.json").read_text())
        folders.append(exam_dir / "dicom")
        folders.append(_exclusion_segs(exam_dir, organs, seg_root / f"dwi-exam{exam}"))
    pet_truth = json.loads((phantom / "pet" / "truth.json").read_text())
    lesions = read_nifti(phantom / "pet" / "lesions.nii.gz", what="PET lesion labels")
    names = {int(item["label"]): str(item["name"]) for item in pet_truth["lesions"]}
    for key in pet_truth["timepoints"]:
        series_dir = phantom / "pet" / key
        folders.append(series_dir)
        folders.append(_lesion_seg(series_dir, lesions, names, seg_root / f"pet-{key}").parent)

    workspace = init_workspace(out / "workspace")
    try:
        imported = import_paths(workspace, folders)
        first, relapse = (dt.date.fromisoformat(dwi_truth[e]["date"]) for e in (1, 4))
        set_baseline(workspace, BREAST_PATIENT.patient_id, first, author="demo", drug="first line")
        set_baseline(
            workspace,
            BREAST_PATIENT.patient_id,
            relapse,
            author="demo",
            drug="second line",
            start_date=relapse + dt.timedelta(days=SECOND_LINE_START_DAYS),
        )
        first_run = run_analyses(workspace)
        second_run = run_analyses(workspace)
        timelines = {
            patient.patient_id: patient_timeline(workspace, patient.patient_id)
            for patient in (BREAST_PATIENT, NET_PATIENT)
        }
        reports = {}
        for patient in (BREAST_PATIENT, NET_PATIENT):
            folder = out / "record" / patient.key
            folder.mkdir(parents=True, exist_ok=True)
            reports[patient.key] = write_record_report(workspace, patient.patient_id, folder)
    finally:
        workspace.close()

    checks: dict[str, bool] = {
        "record: every analysis ran without failure": not first_run.failed,
        "record: a second run recomputes nothing": second_run.analyses_run == 0
        and second_run.analyses_reused == first_run.analyses_run,
        "record: report.html and the form written for each patient": all(
            {"report.html", "crf.json", "crf.html", "crf.pdf"} <= set(r.files)
            for r in reports.values()
        ),
    }
    net_page = (out / "record" / NET_PATIENT.key / "report.html").read_text(encoding="utf-8")
    checks["record: the NET report shows a labelled PET MIP per series"] = net_page.count(
        "coronal PET MIP"
    ) == len(pet_truth["timepoints"]) and all(
        html.escape(str(item["name"])) in net_page for item in pet_truth["lesions"]
    )
    rows = []
    by_date = {exam["date"]: exam for exam in timelines[BREAST_PATIENT.patient_id]["exams"]}
    for exam, truth in dwi_truth.items():
        dwi = by_date.get(truth["date"], {}).get("dwi") or {}
        volume = dwi.get("total_diffusion_volume_ml")
        one_shot_file = out / "dwi" / f"exam{exam}" / "summary.json"
        one_shot = (
            json.loads(one_shot_file.read_text())["total_diffusion_volume_ml"]
            if one_shot_file.is_file()
            else None
        )
        expected_reference = dwi_truth[int(truth["reference_exam"])]["date"]
        volume_ok = isinstance(volume, float) and (
            abs(volume - truth["total_diffusion_volume_ml"])
            <= VOLUME_TOLERANCE * truth["total_diffusion_volume_ml"]
        )
        classes = dwi.get("classes_ml") or {}
        classes_ok = dwi.get("reference_exam_date") == expected_reference and all(
            isinstance(classes.get(name), float)
            and abs(classes[name] - truth["classes_ml"][name])
            <= CLASS_TOLERANCE * truth["classes_ml"][name]
            for name in ("green", "yellow", "red")
        )
        checks[f"record exam {exam}: volume within 3 % of truth"] = volume_ok
        checks[f"record exam {exam}: reference exam and class volumes within 5 % of truth"] = (
            classes_ok
        )
        if one_shot is not None:
            checks[f"record exam {exam}: volume equals the one-shot 'dwi assess' value"] = (
                isinstance(volume, float)
                and abs(volume - one_shot) <= ONE_OWNER_TOLERANCE * max(1.0, one_shot)
            )
        rows.append((exam, truth, dwi, one_shot))
    pet_rows = []
    net_exams = timelines[NET_PATIENT.patient_id]["exams"]
    measured = {
        (lesion["series"], lesion["lesion"]): lesion
        for exam in net_exams
        for lesion in (exam.get("pet") or {}).get("lesions", [])
    }
    numbers = {tp.key: tp.series_number for tp in TIMEPOINTS}
    case = build_pet_case()  # deterministic: the generated SUV images (noise included)
    label_array = np.asarray(case.lesions.array)
    for key in pet_truth["timepoints"]:
        found = {
            name: value
            for (series, name), value in measured.items()
            if series_number_of(series) == numbers[key]
        }
        generated = np.asarray(case.suv[key].array)
        for item in pet_truth["lesions"]:
            truth_suv = float(generated[label_array == int(item["label"])].max())
            value = (found.get(item["name"]) or {}).get("suvbw_max")
            ok = isinstance(value, float) and abs(value - truth_suv) <= SUV_TOLERANCE * truth_suv
            checks[f"record PET {key}: {item['name']} SUVmax within 0.2 % of the generated"] = ok
            pet_rows.append((key, item["name"], truth_suv, value))
    return DemoSection(
        slug="record",
        title="The patient record: import, run, timeline, report",
        html=_html(imported.as_dict(), first_run.as_json(), rows, pet_rows, checks),
        checks=checks,
        patient=f"{BREAST_PATIENT.heading()}; {NET_PATIENT.heading()}",
    )


def series_number_of(label: object) -> int | None:
    """The series number in a PET summary's ``series`` label.

    Examples
    --------
    >>> series_number_of("series 401 (Ga68 DOTATATE pre-PRRT)")
    401
    >>> series_number_of(None) is None
    True
    """
    if not isinstance(label, str) or not label.startswith("series "):
        return None
    number = label.split()[1]
    return int(number) if number.isdigit() else None


def _fmt(value: object, digits: int = 1) -> str:
    return f"{value:.{digits}f}" if isinstance(value, float | int) else "–"


def _html(
    imported: dict[str, Any],
    run: dict[str, Any],
    rows: list[tuple[int, dict[str, Any], dict[str, Any], float | None]],
    pet_rows: list[tuple[str, str, float, float | None]],
    checks: dict[str, bool],
) -> str:
    parts = [
        "<p>The reference patients' DICOM and their segmentations (DICOM SEG) imported into "
        f"a workspace: {imported['files']} files, {imported['series']} series of "
        f"{imported['patients']} patients. <code>tumorboard run</code> ran "
        f"{run['analyses_run']} analyses; a second run reused them all. Drawn from the "
        "record: the breast patient's <a href='record/breast/report.html'>report</a> and "
        "<a href='record/breast/crf.html'>form</a>, the NET patient's "
        "<a href='record/net/report.html'>report</a> and "
        "<a href='record/net/crf.html'>form</a>.</p>",
        "<table><tr><th>exam</th><th>reference exam</th><th>volume (ml) record</th>"
        "<th>one-shot</th><th>truth</th><th>red / yellow / green (ml) record</th></tr>",
    ]
    for exam, truth, dwi, one_shot in rows:
        classes = dwi.get("classes_ml") or {}
        parts.append(
            f"<tr><td>exam {exam} ({html.escape(truth['date'])})</td>"
            f"<td>{html.escape(str(dwi.get('reference_exam_date')))}</td>"
            f"<td>{_fmt(dwi.get('total_diffusion_volume_ml'))}</td><td>{_fmt(one_shot)}</td>"
            f"<td>{_fmt(truth['total_diffusion_volume_ml'])}</td>"
            f"<td>{' / '.join(_fmt(classes.get(k)) for k in ('red', 'yellow', 'green'))}</td></tr>"
        )
    parts.append(
        "</table><table><tr><th>PET</th><th>lesion</th><th>SUVmax truth</th>"
        "<th>SUVmax record</th></tr>"
    )
    for key, name, truth_suv, value in pet_rows:
        parts.append(
            f"<tr><td>{html.escape(key)}</td><td>{html.escape(name)}</td>"
            f"<td>{_fmt(truth_suv, 2)}</td><td>{_fmt(value, 2)}</td></tr>"
        )
    parts.append("</table>")
    del checks
    return "".join(parts)
