"""``tumorboard run`` registers a PET to the CT or MR of its exam once, and stores it.

Truth: the methionine PET/MR case of the reference patient
(:mod:`tumorboard.phantoms.pituitary_case`) plants a known rigid MRI-to-PET
transform (``truth.json``); its MRI and PET are two studies of one exam with
different frames of reference. A PET whose study holds a CT of the same
frame (the DICOM study of ``dicom_study.py``) is taken as it is.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select

from tumorboard.imaging.dicom_volume import read_series_volume
from tumorboard.phantoms.pituitary_case import build_pituitary_case, write_pituitary_case
from tumorboard.store import init_workspace
from tumorboard.store.models import Analysis, AnalysisOutput
from tumorboard.workflow.analysis_runs import planned_analyses, run_analyses
from tumorboard.workflow.dicom_import import import_paths
from tumorboard.workflow.exam_images import pet_analysis, pet_anatomy, stored_volume

pytestmark = pytest.mark.slow

PATIENT = "TB-REF-0003"


@pytest.fixture(scope="module")
def pituitary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_pituitary_case(build_pituitary_case(), tmp_path_factory.mktemp("pituitary"))


def _registrations(workspace: object) -> list[Analysis]:
    with workspace.session() as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(Analysis).where(Analysis.kind == "pet_registration")))


def test_the_stored_transform_is_the_planted_mri_to_pet_transform(
    pituitary: dict[str, Path], workspace_dir: Path, database_url: str | None
) -> None:
    truth = json.loads(pituitary["truth"].read_text())
    expected = np.asarray(truth["mri_to_pet_matrix"])
    workspace = init_workspace(workspace_dir, database_url)
    try:
        import_paths(workspace, [pituitary["mri"], pituitary["pet"]])
        plans = [p for p in planned_analyses(workspace) if p.kind == "pet_registration"]
        assert len(plans) == 1
        assert [s.kind for s in plans[0].series] == ["pet", "mr"]
        summary = run_analyses(workspace)
        assert summary.failed == []
        (registration,) = _registrations(workspace)
        assert registration.status == "done"
        result = registration.result
        assert result["registered"] is True and result["modality"] == "MR"
        assert result["same_study"] is False  # the phantom's MR and PET are two studies
        found = np.asarray(result["anatomy_to_pet"])
        assert np.allclose(found[:3, 3], expected[:3, 3], atol=1.5)  # mm: half a PET voxel
        assert np.allclose(found[:3, :3], expected[:3, :3], atol=0.02)
        with workspace.session() as session:
            outputs = dict(
                session.execute(
                    select(AnalysisOutput.name, AnalysisOutput.object_sha256).where(
                        AnalysisOutput.analysis_id == registration.id
                    )
                ).all()
            )
        assert set(outputs) == {"summary.json", "transform.json", "anatomy.nii.gz"}
        transform = json.loads(workspace.objects.path(outputs["transform.json"]).read_text())
        assert np.allclose(transform["matrix"], found)

        # the stored anatomy is the MR in the PET's frame: a point lands where the truth maps it
        moved = stored_volume(workspace, outputs["anatomy.nii.gz"])
        plain = read_series_volume(pituitary["mri"])
        index = np.array([10.0, 20.0, 30.0])  # x, y, z voxel index
        point = plain.origin_mm + plain.direction @ (index * np.asarray(plain.spacing_mm)[::-1])
        there = moved.origin_mm + moved.direction @ (index * np.asarray(moved.spacing_mm)[::-1])
        assert np.allclose(there, (expected @ np.append(point, 1.0))[:3], atol=1.5)
        assert np.array_equal(np.asarray(moved.array), np.asarray(plain.array, np.float32))

        # what the reading room reads: the stored registration of this PET
        date = registration.result["exam"]["date"]
        import datetime as dt

        pet = pet_analysis(workspace, PATIENT, dt.date.fromisoformat(date))
        anatomy = pet_anatomy(workspace, pet)
        assert anatomy is not None and anatomy.analysis_id == registration.id
        assert anatomy.object_sha256 == outputs["anatomy.nii.gz"]

        # a second run reuses it: nothing registered again
        again = run_analyses(workspace)
        assert again.analyses_run == 0 and again.failed == []
        (same,) = _registrations(workspace)
        assert same.id == registration.id and same.finished_at == registration.finished_at
    finally:
        workspace.close()


def test_a_pet_with_a_ct_of_its_frame_is_not_registered(
    tmp_path: Path, workspace_dir: Path, database_url: str | None
) -> None:
    from dicom_study import write_study

    write_study(tmp_path / "study")  # DWI, PET and a CT of one study and frame
    workspace = init_workspace(workspace_dir, database_url)
    try:
        import_paths(workspace, [tmp_path / "study"])
        run_analyses(workspace)
        (registration,) = _registrations(workspace)
        assert registration.status == "done", registration.error
        assert registration.result["registered"] is False
        assert registration.result["modality"] == "CT"
        assert registration.result["same_study"] is True
        assert np.array_equal(np.asarray(registration.result["anatomy_to_pet"]), np.eye(4))
        with workspace.session() as session:
            count = session.scalar(
                select(func.count()).select_from(Analysis).where(Analysis.kind == "pet_suv")
            )
        assert count == 1
    finally:
        workspace.close()
