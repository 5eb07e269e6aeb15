"""The image routes the browser reads (NiiVue volumes, the clickable MIP), over HTTP.

Truth for the MIP's component map is computed here with plain numpy from the
stored component labels and the computed high-b image: along each
anterior-posterior ray, the component of the brightest component voxel.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_fixtures import PATIENT, READER, copy_workspace
from fastapi.testclient import TestClient

from tumorboard.imaging.nifti import read_nifti
from tumorboard.store import open_workspace
from tumorboard.web.app import create_app
from tumorboard.web.users import add_user
from tumorboard.workflow.exam_images import dwi_analysis

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
    reading_room_workspace: tuple[Path, tuple[str, ...]],
) -> Iterator[tuple[TestClient, Path, str]]:
    root = tmp_path_factory.mktemp("images")
    workspace_dir, dates = copy_workspace(reading_room_workspace, root)
    workspace = open_workspace(workspace_dir)
    add_user(workspace, READER[0], "reader", READER[1], author="test")
    workspace.close()
    app = create_app(workspace_dir)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client, workspace_dir, dates[0]


def _signed_in(client: TestClient) -> None:
    answer = client.post("/api/login", json={"username": READER[0], "password": READER[1]})
    assert answer.status_code == 200


def test_every_image_route_needs_a_session(served: tuple[TestClient, Path, str]) -> None:
    client, _, date = served
    client.cookies.clear()
    base = f"/api/patients/{PATIENT}/dwi/{date}"
    for path in ("/mip.png", "/mip_overlay.json", "/volumes/adc.nii.gz"):
        assert client.get(base + path).status_code == 401


def test_volumes_come_from_the_record_by_name_only(served: tuple[TestClient, Path, str]) -> None:
    client, workspace_dir, date = served
    _signed_in(client)
    base = f"/api/patients/{PATIENT}/dwi/{date}/volumes"
    workspace = open_workspace(workspace_dir)
    try:
        analysis = dwi_analysis(workspace, PATIENT, dt.date.fromisoformat(date))
        stored = workspace.objects.path(analysis.outputs["adc.nii.gz"]).read_bytes()
    finally:
        workspace.close()
    answer = client.get(f"{base}/adc.nii.gz")
    assert answer.status_code == 200
    assert answer.content == stored
    assert answer.headers["cache-control"] == "private, no-cache"
    assert answer.headers["etag"] == f'"{hashlib.sha256(stored).hexdigest()}"'
    again = client.get(f"{base}/adc.nii.gz", headers={"If-None-Match": answer.headers["etag"]})
    assert again.status_code == 304
    for name in ("summary", "suvbw", "..%2F..%2Fworkspace", "%2e%2e", "adc.nii.gz%00"):
        assert client.get(f"{base}/{name}.nii.gz").status_code == 404, name
    assert client.get(f"/api/patients/NOBODY/dwi/{date}/volumes/adc.nii.gz").status_code == 404
    assert client.get(f"/api/patients/{PATIENT}/dwi/1999-01-01/mip.png").status_code == 404


def test_the_overlay_names_the_brightest_component_of_each_ray(
    served: tuple[TestClient, Path, str], tmp_path: Path
) -> None:
    client, workspace_dir, date = served
    _signed_in(client)
    base = f"/api/patients/{PATIENT}/dwi/{date}"
    overlay: dict[str, Any] = client.get(f"{base}/mip_overlay.json").json()
    workspace = open_workspace(workspace_dir)
    try:
        analysis = dwi_analysis(workspace, PATIENT, dt.date.fromisoformat(date))
        named = {}
        for name in ("components.nii.gz", "computed_b.nii.gz"):
            named[name] = tmp_path / name  # the reader goes by the suffix
            shutil.copyfile(workspace.objects.path(analysis.outputs[name]), named[name])
        labels = read_nifti(named["components.nii.gz"])
        image = read_nifti(named["computed_b.nii.gz"])
    finally:
        workspace.close()

    # plain numpy truth on the axis-aligned grid: [z, y, x], y anterior-posterior
    assert np.allclose(image.direction, np.eye(3))
    ids = np.asarray(labels.array)
    signal = np.where(ids > 0, np.asarray(image.array, dtype=np.float64), -np.inf)
    brightest = np.take_along_axis(ids, signal.argmax(axis=1)[:, None, :], axis=1)[:, 0, :]
    truth = np.where(np.isfinite(signal.max(axis=1)), brightest, 0)[::-1]  # head up
    got = np.asarray(overlay["component_ids"]).reshape(overlay["height"], overlay["width"])
    assert got.shape == truth.shape
    # ties (two components equally bright on one ray) may go either way
    assert np.mean(got == truth) > 0.999
    assert set(np.unique(got)) == set(np.unique(ids))

    # classes follow the kept set: none kept, no class on any ray
    none_kept = client.get(f"{base}/mip_overlay.json", params={"kept": ""}).json()
    assert not any(none_kept["classes"])
    assert client.get(f"{base}/mip_overlay.json", params={"kept": "99999"}).status_code == 422
    assert client.get(f"{base}/mip_overlay.json", params={"kept": "1,<b>"}).status_code == 422

    png = client.get(f"{base}/mip.png")
    assert png.headers["content-type"] == "image/png"
    width, height = (int.from_bytes(png.content[16 + 4 * i : 20 + 4 * i], "big") for i in (0, 1))
    assert (width, height) == (overlay["width"], overlay["height"])
