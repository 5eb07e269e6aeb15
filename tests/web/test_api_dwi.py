"""Timeline and WB-DWI curation through the API, against the phantom's generating truth.

Each exam of ``dwi_exams`` has two candidate components: the lesion box and a
bright normal box of 4 x 4 x 4 voxels of 0.02 ml (1.28 ml). Removing the
normal box must take exactly 64 voxels x 0.02 ml off the total diffusion
volume, and keeping it again must give the first volume back.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from api_support import BASELINE, PATIENT, TestClient, sign_in
from dwi_exams import EXAMS, NORMAL_BOX, VOXEL_ML, lesion_voxels

from tumorboard.cli.main import main

NORMAL_VOXELS = int(np.prod([b - a for a, b in NORMAL_BOX]))
URL = f"/api/patients/{PATIENT}/dwi/{BASELINE}"


def _normal_component(exam: dict[str, Any]) -> int:
    """The id of the component the size of the generated normal box."""
    (found,) = [c["component_id"] for c in exam["components"] if c["voxels"] == NORMAL_VOXELS]
    return int(found)


def test_timeline_is_the_json_of_tumorboard_timeline(
    reader: tuple[TestClient, str], workspace_root: Path
) -> None:
    client, _ = reader
    api = client.get(f"/api/patients/{PATIENT}/timeline")
    assert api.status_code == 200
    printed = io.StringIO()
    with redirect_stdout(printed):
        assert main(["timeline", "--workspace", str(workspace_root), PATIENT, "--json"]) == 0
    assert api.json() == json.loads(printed.getvalue())
    assert [exam["date"] for exam in api.json()["exams"]] == [BASELINE, "2024-04-01"]


def test_removing_a_component_takes_off_its_generated_volume(
    reader: tuple[TestClient, str],
) -> None:
    client, csrf = reader
    exam = client.get(URL).json()
    truth_ml = (lesion_voxels("baseline") + NORMAL_VOXELS) * VOXEL_ML
    assert exam["total_diffusion_volume_ml"] == pytest.approx(truth_ml, abs=1e-9)
    assert sum(exam["histogram"]["voxels"]) == lesion_voxels("baseline") + NORMAL_VOXELS
    normal = _normal_component(exam)
    removed = client.post(
        f"{URL}/components",
        json={"remove": [normal], "version": 0},
        headers={"X-CSRF-Token": csrf},
    )
    assert removed.status_code == 200, removed.text
    body = removed.json()
    assert body["version"] == 1
    assert body["total_diffusion_volume_ml"] == pytest.approx(
        truth_ml - NORMAL_VOXELS * VOXEL_ML, abs=1e-9
    )
    # the lesion alone: its median ADC is the generating ADC, its histogram its voxels
    assert body["adc_um2_per_s"]["median"] == pytest.approx(EXAMS["baseline"][4], rel=1e-3)
    assert sum(body["histogram"]["voxels"]) == lesion_voxels("baseline")
    assert {c["component_id"]: c["kept"] for c in body["components"]}[normal] is False
    # the timeline and a fresh read show the curated number (one owner)
    timeline = client.get(f"/api/patients/{PATIENT}/timeline").json()
    assert timeline["exams"][0]["dwi"]["total_diffusion_volume_ml"] == pytest.approx(
        lesion_voxels("baseline") * VOXEL_ML, abs=1e-9
    )
    assert client.get(URL).json()["curation"]["author"] == "ada"
    # the audit trail names who removed what, old -> new
    changes = client.get("/api/audit", params={"patient": PATIENT}).json()["changes"]
    curated = {c["field"]: c for c in changes if c["table"] == "dwi_curations"}
    assert curated["remove_components"]["old"] == "[]"
    assert curated["remove_components"]["new"] == f"[{normal}]"
    assert curated["remove_components"]["author"] == "ada"
    assert float(curated["total_diffusion_volume_ml"]["old"]) == pytest.approx(truth_ml)
    # keeping it again gives the first volume back
    kept = client.post(
        f"{URL}/components", json={"keep": [normal], "version": 1}, headers={"X-CSRF-Token": csrf}
    )
    assert kept.status_code == 200
    assert kept.json()["total_diffusion_volume_ml"] == pytest.approx(truth_ml, abs=1e-9)
    assert kept.json()["version"] == 2


def test_a_stale_version_is_409_and_loses_nothing(app: Any) -> None:
    with TestClient(app) as ada, TestClient(app) as bob:
        ada_csrf, bob_csrf = sign_in(ada, "ada"), sign_in(bob, "bob")
        exam = ada.get(URL).json()
        normal = _normal_component(exam)
        seen = bob.get(URL).json()["curation"]["version"]
        first = ada.post(
            f"{URL}/components",
            json={"remove": [normal], "version": 0},
            headers={"X-CSRF-Token": ada_csrf},
        )
        assert first.status_code == 200
        second = bob.post(
            f"{URL}/components",
            json={"keep": [normal], "version": seen},
            headers={"X-CSRF-Token": bob_csrf},
        )
        assert second.status_code == 409
        detail = second.json()["detail"]
        assert "changed by ada" in detail and "reload" in detail
        after = bob.get(URL).json()
        assert after["curation"] == {**after["curation"], "version": 1, "author": "ada"}
        assert after["total_diffusion_volume_ml"] == first.json()["total_diffusion_volume_ml"]


def test_bad_component_changes_are_one_line_400s(reader: tuple[TestClient, str]) -> None:
    client, csrf = reader
    headers = {"X-CSRF-Token": csrf}
    exam = client.get(URL).json()
    every = [c["component_id"] for c in exam["components"]]
    cases = [
        ({"remove": [999], "version": 0}, 400, "do not exist"),
        ({"remove": [1], "keep": [1], "version": 0}, 400, "both kept and removed"),
        ({"remove": every, "version": 0}, 400, "empty segmentation"),
        ({"remove": ["x"], "version": 0}, 422, "remove"),
    ]
    for body, status, words in cases:
        response = client.post(f"{URL}/components", json=body, headers=headers)
        assert response.status_code == status, body
        assert words in response.json()["detail"] and "\n" not in response.json()["detail"]
    missing = client.get(f"/api/patients/{PATIENT}/dwi/2031-01-01")
    assert missing.status_code == 400 and "no exam" in missing.json()["detail"]
    assert client.get(URL).json()["curation"]["version"] == 0


def test_curated_numbers_are_those_of_a_full_assessment_with_the_same_removal(
    reader: tuple[TestClient, str], exam_folders: list[Path]
) -> None:
    """The quick re-curation and ``assess_exam`` with the remove list agree."""
    from tumorboard.imaging.diffusion_dicom import read_diffusion_series
    from tumorboard.pipeline.dwi_assess import ExamName, assess_exam, summary_payload
    from tumorboard.segment.tumour_load import SegmentationOptions

    client, csrf = reader
    normal = _normal_component(client.get(URL).json())
    curated = client.post(
        f"{URL}/components", json={"remove": [normal], "version": 0}, headers={"X-CSRF-Token": csrf}
    ).json()["summary"]
    images = dict(read_diffusion_series(exam_folders[0], what="baseline").images)
    full = assess_exam(images, options=SegmentationOptions(remove_components=frozenset({normal})))
    expected = json.loads(json.dumps(summary_payload(full, ExamName("", BASELINE)), default=float))
    for key in (
        "total_diffusion_volume_ml",
        "tumour_voxels",
        "adc_um2_per_s",
        "components",
        "classes_ml",
        "yellow_lower_um2_per_s",
        "largest_red_cluster",
        "settings",
        "plausibility_flags",
    ):
        assert curated[key] == expected[key], key


def test_run_after_a_curation_reuses_it_and_refers_the_follow_up_to_it(
    sqlite_workspace_root: Path,
) -> None:
    from tumorboard.store import open_workspace
    from tumorboard.workflow.analysis_runs import run_analyses
    from tumorboard.workflow.dwi_curation import apply_curation, dwi_exam
    from tumorboard.workflow.timeline import patient_timeline

    workspace = open_workspace(sqlite_workspace_root)
    try:
        normal = _normal_component(dwi_exam(workspace, PATIENT, BASELINE))
        apply_curation(workspace, PATIENT, BASELINE, remove=[normal], seen_version=0, author="ada")
        summary = run_analyses(workspace)
        # the baseline's curated analysis is the one run plans (reused); the follow-up,
        # whose reference changed, is recomputed against it
        assert (summary.analyses_run, summary.analyses_reused, summary.failed) == (1, 1, [])
        exams = {e["date"]: e["dwi"] for e in patient_timeline(workspace, PATIENT)["exams"]}
        baseline_ml = lesion_voxels("baseline") * VOXEL_ML
        week12_ml = (lesion_voxels("week12") + NORMAL_VOXELS) * VOXEL_ML
        assert exams[BASELINE]["total_diffusion_volume_ml"] == pytest.approx(baseline_ml)
        week12 = next(date for date in exams if date != BASELINE)
        assert exams[week12]["tdv_change_pct"] == pytest.approx(
            100 * (week12_ml - baseline_ml) / baseline_ml, abs=0.05
        )
        again = run_analyses(workspace)
        assert (again.analyses_run, again.analyses_reused) == (0, 2)
    finally:
        workspace.close()
