"""``tumorboard run`` / ``baseline`` on SQLite and PostgreSQL: once per input, the right reference.

Truth comes from the generating parameters of :mod:`dwi_exams` (lesion boxes
and ADCs), never from tumorboard's own science.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dwi_exams import VOXEL_ML, lesion_voxels, write_exam, write_exclusion_seg
from sqlalchemy import func, select

from tumorboard.cli.main import main
from tumorboard.store import init_workspace, open_workspace
from tumorboard.store.models import Analysis, AnalysisOutput, ChangeLogEntry
from tumorboard.workflow import import_paths
from tumorboard.workflow.analysis_runs import run_analyses
from tumorboard.workflow.therapy_lines import set_baseline
from tumorboard.workflow.timeline import patient_timeline

EXAMS = ("baseline", "week12", "week24")


@pytest.fixture(scope="module")
def exam_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dwi")
    return {exam: write_exam(root, exam) for exam in EXAMS}


@pytest.fixture
def workspace(workspace_dir: Path, database_url: str | None, exam_folders):  # type: ignore[no-untyped-def]
    ws = init_workspace(workspace_dir, database_url)
    import_paths(ws, list(exam_folders.values()))
    yield ws
    ws.close()


def _dwi(timeline: dict) -> dict[str, dict]:
    return {exam["date"]: exam["dwi"] for exam in timeline["exams"] if "dwi" in exam}


def test_run_gives_the_generated_tumour_load_against_the_first_exam(workspace) -> None:
    summary = run_analyses(workspace)
    assert summary.as_json() == {
        "analyses_run": 3,
        "analyses_reused": 0,
        "failed": [],
        "in_progress": 0,
    }
    dwi = _dwi(patient_timeline(workspace, "DWI-001"))
    assert dwi["2024-01-08"]["total_diffusion_volume_ml"] == pytest.approx(
        lesion_voxels("baseline") * VOXEL_ML, rel=1e-6
    )
    assert dwi["2024-04-01"]["total_diffusion_volume_ml"] == pytest.approx(
        lesion_voxels("week12") * VOXEL_ML, rel=1e-6
    )
    assert dwi["2024-01-08"]["adc_median_um2_per_s"] == pytest.approx(800.0, rel=1e-3)
    assert dwi["2024-04-01"]["adc_median_um2_per_s"] == pytest.approx(1200.0, rel=1e-3)
    # no therapy line: every exam refers to the first exam
    assert {d["reference_exam_date"] for d in dwi.values()} == {"2024-01-08"}
    assert dwi["2024-04-01"]["tdv_change_pct"] == pytest.approx(-50.0, abs=1e-6)
    # week 12 ADC 1200 lies between the baseline's 95th centile (800) and 1500: yellow
    classes = dwi["2024-04-01"]["classes_ml"]
    assert classes["yellow"] == pytest.approx(300 * VOXEL_ML, rel=1e-6)
    assert classes["red"] == pytest.approx(0.0, abs=1e-9)
    # week 24 ADC 700 is below the baseline's 95th centile: red
    assert _dwi(patient_timeline(workspace, "DWI-001"))["2024-07-01"]["classes_ml"][
        "red"
    ] == pytest.approx(600 * VOXEL_ML, rel=1e-6)


def test_second_run_reuses_everything_and_keeps_provenance(workspace) -> None:
    run_analyses(workspace)
    again = run_analyses(workspace)
    assert (again.analyses_run, again.analyses_reused) == (0, 3)
    with workspace.session() as session:
        analyses = list(session.scalars(select(Analysis)))
        assert len(analyses) == 3
        assert {a.status for a in analyses} == {"done"}
        assert all(a.tumorboard_version and len(a.inputs_sha256) == 64 for a in analyses)
        outputs = session.execute(select(AnalysisOutput.name, AnalysisOutput.object_sha256)).all()
    names = sorted(name for name, _ in outputs)
    each = [
        "adc.nii.gz",
        "classes.nii.gz",
        "components.nii.gz",
        "computed_b.nii.gz",
        "summary.json",
    ]
    assert names == sorted(each * 3)
    assert all(workspace.objects.has(sha) for _, sha in outputs)


def test_baseline_moves_the_reference_and_only_dependent_exams_rerun(workspace) -> None:
    run_analyses(workspace)
    change = set_baseline(
        workspace,
        "DWI-001",
        __import__("datetime").date(2024, 4, 1),
        author="reader-b",
        drug="everolimus",
    )
    assert change.created and change.line == 1
    summary = run_analyses(workspace)
    # the first exam (before the line) is unchanged; week 12 becomes its own reference
    # and week 24 now refers to week 12
    assert (summary.analyses_run, summary.analyses_reused) == (2, 1)
    dwi = _dwi(patient_timeline(workspace, "DWI-001"))
    assert dwi["2024-07-01"]["reference_exam_date"] == "2024-04-01"
    assert dwi["2024-07-01"]["tdv_change_pct"] == pytest.approx(100.0, abs=1e-6)
    with workspace.session() as session:
        log = session.scalars(select(ChangeLogEntry).where(ChangeLogEntry.field == "baseline_exam"))
        (entry,) = list(log)
    assert (entry.new_value, entry.author) == ("2024-04-01", "reader-b")


def test_a_failing_series_is_recorded_and_the_rest_go_on(workspace, tmp_path: Path) -> None:
    from dicom_study import study_attributes, write_study

    write_study(tmp_path / "flat", study_attributes(patient_id="FLAT-1"))  # b50 == b900
    import_paths(workspace, [tmp_path / "flat"])
    summary = run_analyses(workspace)
    assert summary.analyses_run == 4 + 2  # 3 DWI + the bad DWI + its PET + its registration
    kinds = {failure["kind"] for failure in summary.failed}
    assert "wbdwi" in kinds
    assert all("\n" not in failure["error"] for failure in summary.failed)
    assert _dwi(patient_timeline(workspace, "DWI-001"))["2024-04-01"]["total_diffusion_volume_ml"]
    with workspace.session() as session:
        failed = session.scalar(select(func.count()).where(Analysis.status == "failed"))
    assert failed == len(summary.failed)


def test_cli_run_json_and_baseline(workspace_dir: Path, exam_folders, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["init", str(workspace_dir)]) == 0
    assert (
        main(["import", "--workspace", str(workspace_dir), *map(str, exam_folders.values())]) == 0
    )
    capsys.readouterr()
    assert main(["run", "--workspace", str(workspace_dir), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["analyses_run"], result["analyses_reused"], result["failed"]) == (3, 0, [])
    assert main(["run", "--workspace", str(workspace_dir), "--patient", "DWI-001", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["analyses_reused"] == 3
    code = main(["baseline", "--workspace", str(workspace_dir), "DWI-001", "--exam", "2023-01-01"])
    assert code == 1
    assert "no exam that day" in capsys.readouterr().err
    assert main(["run", "--workspace", str(workspace_dir), "--patient", "NOBODY"]) == 1
    err = capsys.readouterr().err
    assert "NOBODY" not in err and len(err.strip().splitlines()) == 1


def _run_process(workspace_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tumorboard.cli.main",
            "run",
            "--workspace",
            str(workspace_dir),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_runs_at_once_never_duplicate(workspace, workspace_dir: Path) -> None:
    first, second = _run_process(workspace_dir), _run_process(workspace_dir)
    outputs = [process.communicate(timeout=300) for process in (first, second)]
    assert first.returncode == second.returncode == 0, outputs
    results = [json.loads(out) for out, _ in outputs]
    assert sum(r["analyses_run"] for r in results) == 3
    assert all(r["analyses_run"] + r["analyses_reused"] == 3 for r in results)
    with workspace.session() as session:
        assert session.scalar(select(func.count()).select_from(Analysis)) == 3


def test_kill_9_mid_run_then_next_run_finishes(workspace, workspace_dir: Path) -> None:
    process = _run_process(workspace_dir)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # wait until it has claimed an analysis
        with workspace.session() as session:
            if session.scalar(select(func.count()).select_from(Analysis)):
                break
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    summary = run_analyses(workspace)
    assert summary.failed == []
    assert summary.analyses_run + summary.analyses_reused == 3
    with workspace.session() as session:
        statuses = session.scalars(select(Analysis.status)).all()
    assert sorted(statuses) == ["done"] * 3
    assert not any((workspace_dir / ".run").iterdir())


def test_an_exclusion_seg_removes_its_structure_from_the_tumour_load(
    workspace, tmp_path: Path
) -> None:
    exam = write_exam(tmp_path / "kidney", "baseline", "DWI-002", normal_structure=True)
    import_paths(workspace, [exam])
    run_analyses(workspace, "DWI-002")
    dwi = _dwi(patient_timeline(workspace, "DWI-002"))["2024-01-08"]
    # lesion (600 voxels) and the bright normal box (64 voxels) both pass the threshold
    assert dwi["total_diffusion_volume_ml"] == pytest.approx(664 * VOXEL_ML, rel=1e-6)
    write_exclusion_seg(exam, tmp_path / "seg")
    import_paths(workspace, [tmp_path / "seg"])
    summary = run_analyses(workspace, "DWI-002")
    assert (summary.analyses_run, summary.failed) == (1, [])
    dwi = _dwi(patient_timeline(workspace, "DWI-002"))["2024-01-08"]
    assert dwi["total_diffusion_volume_ml"] == pytest.approx(600 * VOXEL_ML, rel=1e-6)


def test_disk_full_during_run_is_recorded_and_the_next_run_finishes(
    workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from tumorboard.store.objects import ObjectStore

    def full(self, data):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(ObjectStore, "put_bytes", full)
        summary = run_analyses(workspace)
    errors = {f["exam_date"]: f["error"] for f in summary.failed}
    assert "No space left on device" in errors["2024-01-08"]
    # the follow-ups wait for their reference exam's result
    assert errors["2024-04-01"] == errors["2024-07-01"] == "its reference exam has no WB-DWI result"
    with workspace.session() as session:
        assert set(session.scalars(select(Analysis.status))) <= {"failed"}
        assert session.scalar(select(func.count()).select_from(AnalysisOutput)) == 0
    again = run_analyses(workspace)
    assert again.failed == [] and again.analyses_run == 3
    with workspace.session() as session:
        assert sorted(session.scalars(select(Analysis.status))) == ["done"] * 3


def test_disk_full_during_import_is_one_line_and_leaves_the_record_as_it_was(
    workspace_dir: Path, exam_folders, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    import errno

    from tumorboard.store.objects import ObjectStore

    assert main(["init", str(workspace_dir)]) == 0

    def full(self, source):  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device", str(source))

    monkeypatch.setattr(ObjectStore, "put_file", full)
    monkeypatch.setattr(ObjectStore, "put_new_file_bytes", full)
    capsys.readouterr()
    code = main(["import", "--workspace", str(workspace_dir), str(exam_folders["baseline"])])
    err = capsys.readouterr().err
    assert code != 0 and len(err.strip().splitlines()) == 1 and "No space left" in err
    monkeypatch.undo()
    ws = open_workspace(workspace_dir)
    try:
        with ws.session() as session:
            from tumorboard.store.models import Instance

            assert session.scalar(select(func.count()).select_from(Instance)) == 0
    finally:
        ws.close()
    assert main(["import", "--workspace", str(workspace_dir), str(exam_folders["baseline"])]) == 0


def test_run_keeps_the_adc_map_and_the_component_ids_it_computed(workspace) -> None:
    import gzip

    import nibabel as nib
    import numpy as np
    from dwi_exams import EXAMS as GENERATED

    run_analyses(workspace)
    with workspace.session() as session:
        rows = session.execute(
            select(Analysis.result, AnalysisOutput.name, AnalysisOutput.object_sha256).join(
                AnalysisOutput, AnalysisOutput.analysis_id == Analysis.id
            )
        ).all()
    by_exam: dict[str, dict[str, str]] = {}
    for result, name, sha in rows:
        by_exam.setdefault(result["exam"]["date"], {})[name] = sha
    assert len(by_exam) == 3
    for exam, (date, _, _, _, adc_um2_per_s) in GENERATED.items():
        stored = by_exam[f"{date[:4]}-{date[4:6]}-{date[6:]}"]
        labels, adc = (
            np.asarray(
                nib.Nifti1Image.from_bytes(
                    gzip.decompress(workspace.objects.path(stored[name]).read_bytes())
                ).dataobj
            )
            for name in ("components.nii.gz", "adc.nii.gz")
        )
        tumour = labels > 0
        # one candidate component: the generated lesion box
        assert set(np.unique(labels[tumour]).tolist()) == {1}
        assert int(tumour.sum()) == lesion_voxels(exam)
        # the stored map is the ADC fitted from the generated signal (median = lesion ADC)
        assert float(np.median(adc[tumour])) == pytest.approx(adc_um2_per_s, rel=1e-3)


@pytest.fixture(scope="module")
def pet_with_seg(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The FDG baseline PET of the reference phantom with its lesions as a DICOM SEG."""
    from tumorboard.imaging.label_maps import write_dicom_seg
    from tumorboard.imaging.nifti import read_nifti
    from tumorboard.phantoms import pet_case

    root = tmp_path_factory.mktemp("pet")
    pet_case.write_pet_case(pet_case.build_pet_case(), root, timepoints=("fdg_baseline",))
    truth = json.loads((root / "truth.json").read_text())
    names = {int(item["label"]): str(item["name"]) for item in truth["lesions"]}
    series = root / "fdg_baseline"
    (root / "seg").mkdir()
    write_dicom_seg(
        read_nifti(root / "lesions.nii.gz", what="PET lesion labels"),
        sorted(p for p in series.iterdir() if p.is_file()),
        root / "seg" / "lesions.dcm",
        names,
        series_description="PET lesions",
    )
    return root


def test_pet_with_a_lesion_seg_reads_the_series_once(
    pet_with_seg: Path, workspace_dir: Path, database_url: str | None, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from tumorboard.pet import series_io
    from tumorboard.phantoms import pet_case
    from tumorboard.pipeline import pet_suv

    reads: list[str] = []
    original = series_io.read_pet_series

    def counted(folder, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(str(folder))
        return original(folder, **kwargs)

    monkeypatch.setattr(series_io, "read_pet_series", counted)
    monkeypatch.setattr(pet_suv, "read_pet_series", counted)
    ws = init_workspace(workspace_dir, database_url)
    try:
        import_paths(ws, [pet_with_seg / "fdg_baseline", pet_with_seg / "seg"])
        summary = run_analyses(ws)
        # one analysis: a SEG drawn on the PET is the PET analysis's, not a lesion_seg
        assert (summary.analyses_run, summary.failed) == (1, [])
        assert len(reads) == 1
        with ws.session() as session:
            result = session.scalars(select(Analysis.result)).one()
    finally:
        ws.close()
    truth = json.loads((pet_with_seg / "truth.json").read_text())
    case = pet_case.build_pet_case()  # the generated SUV image (noise included)
    generated = np.asarray(case.suv["fdg_baseline"].array)
    labels = np.asarray(case.lesions.array)
    found = {lesion["name"]: lesion["suvbw_max"] for lesion in result["lesions"]}
    assert len(found) == len(truth["lesions"])
    for item in truth["lesions"]:
        expected = float(generated[labels == int(item["label"])].max())
        assert found[item["name"]] == pytest.approx(expected, rel=2e-3)  # int16 DICOM round trip
