"""The DCE exam and the PET fusion through the API, on the PRRT cohort and the PET/MR case.

Truth: the PRRT cohort phantom's generating Ktrans of each lesion and its
planted lesion spheres (``truth.json``, :func:`lesion_labels`); the
methionine PET/MR case's known MRI-to-PET rigid transform (registered by
``tumorboard run``'s ``pet_registration`` analysis). The served maps, the
served PET and the served MR are the stored objects, byte for byte.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_support import PASSWORD, TestClient, sign_in
from sqlalchemy import delete, select

from tumorboard.phantoms.pituitary_case import build_pituitary_case, write_pituitary_case
from tumorboard.phantoms.prrt_cohort import lesion_labels, plan_prrt_cohort, write_prrt_cohort
from tumorboard.store import init_workspace, open_workspace
from tumorboard.store.models import Analysis, AnalysisOutput
from tumorboard.web.app import create_app
from tumorboard.web.users import add_user
from tumorboard.workflow.analysis_runs import run_analyses
from tumorboard.workflow.dicom_import import import_paths
from tumorboard.workflow.exam_images import dce_analysis, pet_analysis

pytestmark = pytest.mark.slow

SEED = 11
PITUITARY = "TB-REF-0003"


def _workspace(root: Path, folders: list[Path]) -> Path:
    workspace = init_workspace(root)
    try:
        import_paths(workspace, folders)
        summary = run_analyses(workspace)
        assert summary.failed == []
        add_user(workspace, "ada", "reader", PASSWORD, author="test")
    finally:
        workspace.close()
    return root


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("dce-pet")
    write_prrt_cohort(root / "prrt", 2, seed=SEED, auc=0.8)
    paths = write_pituitary_case(build_pituitary_case(), root / "pituitary")
    return {"prrt": root / "prrt", **paths, "root": root}


@pytest.fixture(scope="module")
def served(phantoms: dict[str, Path]) -> Iterator[tuple[TestClient, Path]]:
    folders = [phantoms["prrt"] / "dicom", phantoms["mri"], phantoms["pet"]]
    workspace_dir = _workspace(phantoms["root"] / "board", folders)
    app = create_app(workspace_dir)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        sign_in(client, "ada")
        yield client, workspace_dir
    app.state.workspace.close()


def _nifti(content: bytes, folder: Path, name: str) -> Any:
    from tumorboard.imaging.nifti import read_nifti

    path = folder / f"{name}.nii.gz"  # the reader goes by the suffix
    path.write_bytes(content)
    return read_nifti(path)


def test_the_dce_exam_gives_each_lesion_its_generating_ktrans(
    served: tuple[TestClient, Path], phantoms: dict[str, Path], tmp_path: Path
) -> None:
    client, workspace_dir = served
    truth = json.loads((phantoms["prrt"] / "truth.json").read_text())
    plan = plan_prrt_cohort(2, seed=SEED, auc=0.8)
    checked = 0
    for patient, planned in zip(truth["patients"], plan.patients, strict=True):
        key = patient["patient_id"]
        dates = client.get(f"/api/patients/{key}/dce").json()["exams"]
        assert dates == [patient["baseline_date"], patient["follow_up_date"]]
        for visit, date, follow_up in (
            ("baseline", patient["baseline_date"], False),
            ("follow_up", patient["follow_up_date"], True),
        ):
            base = f"/api/patients/{key}/dce/{date}"
            exam = client.get(base).json()
            rows = {row["name"]: row for row in exam["lesions"]}
            assert set(rows) == {lesion["label"] for lesion in patient["lesions"]}
            assert exam["maps"] == ["ktrans_per_min", "fp_ml_per_100ml_per_min", "iaugc60_mM_s"]
            for lesion in patient["lesions"]:
                row = rows[lesion["label"]]
                assert row["ktrans_per_min"] == pytest.approx(
                    lesion[visit]["ktrans_per_min"], rel=0.1
                )
                checked += 1

            # the lesion labels on the series grid are the planted spheres
            labels = _nifti(
                client.get(f"{base}/volumes/lesions.nii.gz").content, tmp_path, f"l{checked}"
            )
            assert np.array_equal(np.asarray(labels.array), lesion_labels(planned, follow_up))
            anatomy = _nifti(
                client.get(f"{base}/volumes/anatomy.nii.gz").content, tmp_path, f"a{checked}"
            )
            assert anatomy.array.shape == labels.array.shape
            assert np.allclose(anatomy.origin_mm, labels.origin_mm)

            # each lesion's curve: it enhances, and its fitted models follow it
            curves = client.get(f"{base}/curves").json()
            assert curves["models"] == ["extended-tofts", "dual-input"]
            for lesion in curves["lesions"]:
                measured = np.asarray(lesion["measured_mM"], dtype=float)
                assert measured.max() > 0.2
                for model in curves["models"]:
                    fitted = np.asarray(lesion["model_mM"][model])
                    assert fitted.shape == measured.shape
                    rms = float(np.sqrt(np.mean((fitted - measured) ** 2)))
                    assert rms < 0.1 * measured.max(), (model, rms)
    assert checked == 2 * sum(len(p["lesions"]) for p in truth["patients"])

    # the stored Ktrans map is served as stored; names outside the list are refused
    key, date = truth["patients"][0]["patient_id"], truth["patients"][0]["baseline_date"]
    base = f"/api/patients/{key}/dce/{date}/volumes"
    workspace = open_workspace(workspace_dir)
    try:
        analysis = dce_analysis(workspace, key, dt.date.fromisoformat(date))
        stored = workspace.objects.path(analysis.outputs["ktrans_per_min.nii.gz"]).read_bytes()
    finally:
        workspace.close()
    answer = client.get(f"{base}/ktrans_per_min.nii.gz")
    assert answer.content == stored
    assert (
        client.get(
            f"{base}/ktrans_per_min.nii.gz", headers={"If-None-Match": answer.headers["etag"]}
        ).status_code
        == 304
    )
    for name in ("ve", "suvbw", "adc", "..%2Fsummary", "summary.json"):
        assert client.get(f"{base}/{name}.nii.gz").status_code == 404, name
    assert client.get(f"/api/patients/{key}/dce/1999-01-01").status_code == 404
    client.cookies.clear()
    assert client.get(f"/api/patients/{key}/dce/{date}/curves").status_code == 401
    assert client.get(f"{base}/anatomy.nii.gz").status_code == 401
    sign_in(client, "ada")


def test_the_methionine_pet_is_fused_on_the_registered_mri(
    served: tuple[TestClient, Path], phantoms: dict[str, Path], tmp_path: Path
) -> None:
    client, workspace_dir = served
    truth = json.loads(phantoms["truth"].read_text())
    date = client.get(f"/api/patients/{PITUITARY}/timeline").json()["exams"][0]["date"]
    base = f"/api/patients/{PITUITARY}/pet/{date}"
    fusion = client.get(f"{base}/fusion").json()
    anatomy = fusion["anatomy"]
    assert anatomy["modality"] == "MR" and anatomy["registered"] is True
    assert anatomy["same_study"] is False  # the phantom's MR and PET are two studies
    found = np.asarray(anatomy["anatomy_to_pet"])
    expected = np.asarray(truth["mri_to_pet_matrix"])
    assert np.allclose(found[:3, 3], expected[:3, 3], atol=1.5)  # mm: half a PET voxel
    assert np.allclose(found[:3, :3], expected[:3, :3], atol=0.02)

    # the MR is served in the PET's frame: a point of the MR lands where the truth maps it
    mri = _nifti(client.get(f"{base}/anatomy.nii.gz").content, tmp_path, "mri")
    index = np.array([10.0, 20.0, 30.0])  # x, y, z voxel index
    moved = mri.origin_mm + mri.direction @ (index * np.asarray(mri.spacing_mm)[::-1])
    original = shutil.copytree(phantoms["mri"], tmp_path / "mri")
    from tumorboard.imaging.dicom_volume import read_series_volume

    plain = read_series_volume(original)
    point = plain.origin_mm + plain.direction @ (index * np.asarray(plain.spacing_mm)[::-1])
    assert np.allclose(moved, (expected @ np.append(point, 1.0))[:3], atol=1.5)

    # the PET is the stored SUV object; the MR is the object ``run`` stored for the
    # registration (nothing is registered in a request)
    workspace = open_workspace(workspace_dir)
    try:
        analysis = pet_analysis(workspace, PITUITARY, dt.date.fromisoformat(date))
        stored = workspace.objects.path(analysis.outputs["suvbw.nii.gz"]).read_bytes()
        with workspace.session() as session:
            registration = session.scalars(
                select(Analysis).where(Analysis.kind == "pet_registration")
            ).one()
            anatomy_sha = session.scalar(
                select(AnalysisOutput.object_sha256).where(
                    AnalysisOutput.analysis_id == registration.id,
                    AnalysisOutput.name == "anatomy.nii.gz",
                )
            )
        stored_anatomy = workspace.objects.path(anatomy_sha).read_bytes()
    finally:
        workspace.close()
    assert client.get(f"{base}/volumes/suvbw.nii.gz").content == stored
    assert anatomy["analysis_id"] == registration.id
    assert np.allclose(registration.result["anatomy_to_pet"], found)
    served = client.get(f"{base}/anatomy.nii.gz")
    assert served.content == stored_anatomy
    assert served.headers["etag"] == f'"{anatomy_sha}"'
    again = client.get(f"{base}/anatomy.nii.gz", headers={"If-None-Match": served.headers["etag"]})
    assert again.status_code == 304


def test_a_pet_whose_registration_is_not_stored_says_so(phantoms: dict[str, Path]) -> None:
    workspace_dir = _workspace(
        phantoms["root"] / "no-registration", [phantoms["mri"], phantoms["pet"]]
    )
    workspace = open_workspace(workspace_dir)
    try:
        with workspace.session() as session:
            session.execute(delete(Analysis).where(Analysis.kind == "pet_registration"))
    finally:
        workspace.close()
    app = create_app(workspace_dir)
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            sign_in(client, "ada")
            date = client.get(f"/api/patients/{PITUITARY}/timeline").json()["exams"][0]["date"]
            base = f"/api/patients/{PITUITARY}/pet/{date}"
            fusion = client.get(f"{base}/fusion").json()
            assert fusion["anatomy"] is None
            assert "tumorboard run" in fusion["message"]
            assert client.get(f"{base}/anatomy.nii.gz").status_code == 404
    finally:
        app.state.workspace.close()


def test_a_pet_without_ct_or_mr_says_so(phantoms: dict[str, Path]) -> None:
    workspace_dir = _workspace(phantoms["root"] / "pet-only", [phantoms["pet"]])
    app = create_app(workspace_dir)
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            sign_in(client, "ada")
            date = client.get(f"/api/patients/{PITUITARY}/timeline").json()["exams"][0]["date"]
            base = f"/api/patients/{PITUITARY}/pet/{date}"
            fusion = client.get(f"{base}/fusion").json()
            assert fusion["anatomy"] is None
            assert "No CT or MR" in fusion["message"]
            assert client.get(f"{base}/anatomy.nii.gz").status_code == 404
            assert client.get(f"{base}/volumes/suvbw.nii.gz").status_code == 200
    finally:
        app.state.workspace.close()


def test_nifti_answers_are_gzip(served: tuple[TestClient, Path]) -> None:
    client, _ = served
    truth_date = client.get("/api/patients/PRRT-001/dce").json()["exams"][0]
    content = client.get(f"/api/patients/PRRT-001/dce/{truth_date}/volumes/lesions.nii.gz").content
    assert len(gzip.decompress(content)) > len(content)
