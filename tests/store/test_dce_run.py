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
