"""``tumorboard run`` computes the ``dce`` analysis of a DCE series with a lesion SEG.

Truth: the PRRT cohort phantom's generating parameters (its metastases are
arterial-only single compartments, so Ktrans = Fp / 100, ve = v, vp = 0 and
the arterial fraction is 1).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from tumorboard.phantoms.prrt_cohort import write_prrt_cohort
from tumorboard.store import init_workspace
from tumorboard.store.models import Analysis, AnalysisOutput, Exam, Patient
from tumorboard.workflow.analysis_runs import planned_analyses, run_analyses
from tumorboard.workflow.dicom_import import import_paths


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("prrt") / "cohort"
    write_prrt_cohort(root, 2, seed=11, auc=0.8)
    return root


def test_run_records_per_lesion_perfusion_of_each_dce_series(
    cohort: Path, workspace_dir: Path, database_url: str | None
) -> None:
    truth = json.loads((cohort / "truth.json").read_text())
    workspace = init_workspace(workspace_dir, database_url)
    try:
        import_paths(workspace, [cohort / "dicom"])
        summary = run_analyses(workspace)
        assert summary.failed == []
        assert summary.analyses_run == 4  # 2 patients x (baseline, follow-up)
        with workspace.session() as session:
            found = session.execute(
                select(Patient.patient_key, Exam.exam_date, Analysis.result)
                .join(Patient, Patient.id == Analysis.patient_id)
                .join(Exam, Exam.id == Analysis.exam_id)
                .where(Analysis.kind == "dce", Analysis.status == "done")
            )
            by_key = {(key, date.isoformat()): result for key, date, result in found}
            outputs = set(session.scalars(select(AnalysisOutput.name).distinct()))
        assert {"summary.json", "ktrans_per_min.nii.gz", "iaugc60_mM_s.nii.gz"} <= outputs
        checked = 0
        for patient in truth["patients"]:
            for visit, date in (
                ("baseline", patient["baseline_date"]),
                ("follow_up", patient["follow_up_date"]),
            ):
                result = by_key[(patient["patient_id"], date)]
                rows = {row["name"]: row for row in result["lesions"]}
                assert set(rows) == {lesion["label"] for lesion in patient["lesions"]}
                for lesion in patient["lesions"]:
                    true = lesion[visit]
                    row = rows[lesion["label"]]
                    assert row["ktrans_per_min"] == pytest.approx(true["ktrans_per_min"], rel=0.1)
                    assert row["fp_ml_per_100ml_per_min"] == pytest.approx(
                        true["fp_ml_per_100ml_per_min"], rel=0.15
                    )
                    assert row["ve"] == pytest.approx(true["ve"], rel=0.1)
                    assert row["vp"] == pytest.approx(0.0, abs=0.02)
                    assert row["arterial_fraction"] == pytest.approx(1.0, abs=0.15)
                    assert row["iaugc60_mM_s"] > 0
                    checked += 1
        assert checked == 2 * sum(len(p["lesions"]) for p in truth["patients"])
        again = run_analyses(workspace)
        assert (again.analyses_run, again.analyses_reused) == (0, 4)
    finally:
        workspace.close()


def test_a_dce_series_without_a_lesion_seg_is_not_planned(
    cohort: Path, workspace_dir: Path
) -> None:
    workspace = init_workspace(workspace_dir)
    try:
        import_paths(workspace, [cohort / "dicom" / "PRRT-001" / "baseline" / "dce"])
        assert [plan.kind for plan in planned_analyses(workspace)] == []
        import_paths(workspace, [cohort / "dicom" / "PRRT-001" / "baseline" / "seg"])
        plans = planned_analyses(workspace)
        assert [plan.kind for plan in plans] == ["dce"]
        assert [s.kind for s in plans[0].series] == ["dce", "seg"]
    finally:
        workspace.close()


def test_fitting_the_lesion_voxels_gives_the_numbers_of_the_whole_series_fit(
    cohort: Path, tmp_path: Path
) -> None:
    """The analysis reads only the SEG's voxels of each frame (bounded memory); the
    whole-series ``dce map`` pipeline with the SEG as fit mask is the peer."""
    import numpy as np

    from tumorboard.dce.kinetic_model import DceModel
    from tumorboard.imaging.dicom_dynamic import read_dicom_dynamic
    from tumorboard.imaging.label_maps import read_label_map
    from tumorboard.imaging.nifti import read_nifti, write_nifti
    from tumorboard.pipeline.dce_map import DceMapRequest, compute_dce_maps
    from tumorboard.workflow.dce_analysis import DCE_SETTINGS, compute_dce_analysis

    exam = cohort / "dicom" / "PRRT-001" / "baseline"
    seg_file = next((exam / "seg").iterdir())
    work = tmp_path / "work"
    work.mkdir()
    result, files = compute_dce_analysis(exam / "dce", seg_file, work, DCE_SETTINGS)
    dynamic, _ = read_dicom_dynamic(exam / "dce")
    labels = read_label_map(seg_file, reference=dynamic)
    mask = write_nifti(
        labels.with_array((np.asarray(labels.array) > 0).astype(np.uint8)),
        tmp_path / "mask.nii.gz",
    )
    whole = compute_dce_maps(
        DceMapRequest(
            dynamic=exam / "dce",
            model=DceModel.EXTENDED_TOFTS,
            aif="parker",
            t1_ms=DCE_SETTINGS["t1_ms"],
            mask=mask,
            lesions=seg_file,
        )
    )
    rows = {row["label"]: row for row in result["lesions"]}
    assert set(rows) == {summary.lesion for summary in whole.summaries}
    for summary in whole.summaries:
        medians = {p.parameter: p.median for p in summary.parameters}
        assert rows[summary.lesion]["n_voxels"] == summary.n_voxels
        for name in ("ktrans_per_min", "ve", "vp"):
            assert rows[summary.lesion][name] == pytest.approx(medians[name], rel=1e-5, abs=1e-9)
    kept = read_nifti(files["ktrans_per_min.nii.gz"])
    assert kept.spatial_shape == dynamic.spatial_shape
    expected = whole.maps.maps["ktrans_per_min"].array
    assert np.array_equal(np.isnan(kept.array), np.isnan(expected))
    assert np.allclose(kept.array, expected, rtol=1e-5, equal_nan=True)
    assert whole.iaugc60 is not None
    iaugc = read_nifti(files["iaugc60_mM_s.nii.gz"]).array
    assert np.allclose(iaugc, whole.iaugc60.array, rtol=1e-5, equal_nan=True)
