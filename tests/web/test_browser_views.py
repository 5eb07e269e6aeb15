"""The DCE view, the PET/MR fusion, two readers on one exam and the line tool, in Chromium.

A served workspace of the reference patient's WB-DWI exams, the PRRT cohort
(DCE; truth: its generating Ktrans in ``truth.json``) and the methionine
PET/MR case (truth: the registration the phantom planted is checked by the
API test; here the view opens it).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_fixtures import (
    PATIENT,
    PET_MR_PATIENT,
    READER,
    READER_2,
    ReadingRoom,
    serving,
)
from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.slow

# The CI machine is shared and loaded: wait for the page up to 30 s (never a time assertion)
expect.set_options(timeout=30_000)


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReadingRoom]:
    with serving(tmp_path_factory.mktemp("reading-room-views"), dce_pet=True) as served:
        yield served


def _page(browser: Browser, room: ReadingRoom, errors: list[str]) -> Page:
    context = browser.new_context(base_url=room.url, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return page


def _sign_in(page: Page, user: tuple[str, str]) -> None:
    page.goto("/#/login")
    page.fill("#username", user[0])
    page.fill("#password", user[1])
    page.click("#login-form button[type=submit]")
    expect(page.locator("#worklist")).to_be_visible()


def _get(page: Page, path: str) -> Any:
    return page.evaluate(
        "async (path) => (await fetch(path, {credentials: 'same-origin'})).json()", path
    )


def test_the_dce_view_shows_the_maps_the_lesions_and_their_curves(
    browser: Browser, room: ReadingRoom
) -> None:
    truth = json.loads((room.workspace.parent / "truth.json").read_text())
    patient = truth["patients"][0]
    errors: list[str] = []
    page = _page(browser, room, errors)
    _sign_in(page, READER)
    page.goto(f"/#/patient/{patient['patient_id']}")
    page.click(f"#exams a.dce-link[data-date='{patient['baseline_date']}']")
    cells = page.locator("#dce-lesions .ktrans")
    expect(cells).to_have_count(len(patient["lesions"]))
    by_name = {
        lesion["label"]: lesion["baseline"]["ktrans_per_min"] for lesion in patient["lesions"]
    }
    for row in page.locator("#dce-lesions tbody tr").all():
        name = row.locator(".lesion-name").inner_text()
        shown = float(row.locator(".ktrans").get_attribute("data-value") or "nan")
        assert shown == pytest.approx(by_name[name], rel=0.1)
    expect(page.locator("section.view[data-viewer-ready=true]")).to_have_count(1)
    expect(page.locator(".viewers canvas.niivue[data-loaded=true]")).to_have_count(1)
    expect(page.locator("#dce-curves[data-loaded=true] figure.dce-curve")).to_have_count(
        len(patient["lesions"])
    )
    # each curve figure: the measured line and both model lines
    figure = page.locator("figure.dce-curve").first
    expect(figure.locator("g.series")).to_have_count(3)
    # another map over the same anatomy
    page.click("button[data-map=fp_ml_per_100ml_per_min]")
    expect(
        page.locator(".viewers[data-map=fp_ml_per_100ml_per_min] canvas[data-loaded=true]")
    ).to_have_count(1)
    assert not errors, errors
    page.context.close()


def test_the_methionine_pet_is_fused_on_the_mri_with_presets(
    browser: Browser, room: ReadingRoom
) -> None:
    errors: list[str] = []
    page = _page(browser, room, errors)
    _sign_in(page, READER)
    date = _get(page, f"/api/patients/{PET_MR_PATIENT}/timeline")["exams"][0]["date"]
    page.goto(f"/#/patient/{PET_MR_PATIENT}/pet/{date}")
    section = page.locator("section.pet-series[data-fusion=MR]")
    expect(section).to_have_count(1)
    expect(section.locator(".fusion-note")).to_contain_text("registered rigidly")
    canvas = section.locator("canvas.niivue")
    expect(canvas).to_have_attribute("data-loaded", "true", timeout=120_000)
    for preset in ("SUV 0–5", "MR auto", "PET 90 %"):
        section.get_by_role("button", name=preset).click()
    # the viewer holds the MR and the SUV image (two volumes, MR first)
    assert section.locator(".viewers").get_attribute("data-loaded") == "2"
    assert not errors, errors
    page.context.close()


def test_a_second_reader_saving_over_a_changed_curation_is_refused_and_loses_nothing(
    browser: Browser, room: ReadingRoom
) -> None:
    errors: list[str] = []
    date = room.dwi_dates[1]
    pages = []
    for user in (READER, READER_2):
        page = _page(browser, room, errors)
        _sign_in(page, user)
        page.goto(f"/#/patient/{PATIENT}/dwi/{date}")
        expect(page.locator("#mip")).to_have_attribute("data-kept", re.compile(r"\d"))
        pages.append(page)
    first, second = pages
    base = f"/api/patients/{PATIENT}/dwi/{date}"
    exam = _get(first, base)
    kept = sorted(
        (c for c in exam["components"] if c["kept"]), key=lambda c: c["voxels"], reverse=True
    )
    assert len(kept) >= 2
    mine, theirs = kept[0]["component_id"], kept[1]["component_id"]

    first.click(f"button.toggle[data-component='{mine}']")
    expect(first.locator("#curation-status")).to_have_text(f"Component {mine} removed.")
    # the second reader still shows the old version and removes another component: refused
    second.click(f"button.toggle[data-component='{theirs}']")
    status = second.locator("#curation-status")
    expect(status).to_contain_text("changed by reader-a")
    expect(status).to_contain_text("nothing was saved")
    record = _get(second, base)
    kept_now = {c["component_id"] for c in record["components"] if c["kept"]}
    assert mine not in kept_now and theirs in kept_now  # the first change stands, no other
    # the second reader's page shows the current state, and so does a reload
    mip = second.locator("#mip")
    expect(mip).to_have_attribute("data-kept", ",".join(map(str, sorted(kept_now))))
    second.evaluate("() => sessionStorage.clear()")  # the CSRF token comes from /api/me
    second.reload()
    expect(mip).to_have_attribute("data-kept", ",".join(map(str, sorted(kept_now))))
    expect(second.locator("#tdv")).to_have_attribute(
        "data-value", str(record["total_diffusion_volume_ml"])
    )
    # and now the second reader's change goes through
    second.click(f"button.toggle[data-component='{theirs}']")
    expect(status).to_have_text(f"Component {theirs} removed.")
    final = {c["component_id"] for c in _get(first, base)["components"] if c["kept"]}
    assert final == kept_now - {theirs}
    assert not errors, errors
    for page in pages:
        page.context.close()


def test_the_line_tool_measures_the_dragged_distance_and_saves_it(
    browser: Browser, room: ReadingRoom, tmp_path: Path
) -> None:
    from tumorboard.imaging.nifti import read_nifti
    from tumorboard.store import open_workspace
    from tumorboard.workflow.exam_images import dwi_analysis, volume_object

    date = room.dwi_dates[0]
    workspace = open_workspace(room.workspace)
    try:
        path, _ = volume_object(
            workspace, dwi_analysis(workspace, PATIENT, dt.date.fromisoformat(date)), "computed_b"
        )
        named = tmp_path / "computed_b.nii.gz"  # the reader goes by the suffix
        shutil.copyfile(path, named)
        image = read_nifti(named)
    finally:
        workspace.close()
    assert np.allclose(image.direction, np.eye(3))
    nz, ny, nx = image.array.shape
    dz, dy, dx = image.spacing_mm

    errors: list[str] = []
    page = _page(browser, room, errors)
    _sign_in(page, READER)
    page.goto(f"/#/patient/{PATIENT}/reads")
    page.select_option("select[name=action]", "add")
    page.fill("#lesion-label", "M1")
    page.select_option("select[name=exam]", date)
    page.select_option("select[name=modality]", "wbdwi")
    page.click("#open-measure")
    canvas = page.locator(".measure canvas.niivue")
    expect(canvas).to_have_attribute("data-loaded", "true")
    box = canvas.bounding_box()
    assert box is not None
    ratio = float(page.evaluate("() => window.devicePixelRatio"))
    width_px, height_px = box["width"] * ratio, box["height"] * ratio
    # one axial slice fitted to the canvas: millimetres per CSS pixel, from the geometry
    mm_per_css_px = max(nx * dx / width_px, ny * dy / height_px) * ratio
    centre_x, centre_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    dragged_px = 120.0
    page.mouse.move(centre_x - dragged_px / 2, centre_y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(centre_x - dragged_px / 2 + dragged_px * step / 10, centre_y)
    page.mouse.up()
    expect(page.locator("#lesion-diameter")).not_to_have_value("")
    shown = float(page.locator("#lesion-diameter").input_value())
    truth_mm = dragged_px * mm_per_css_px
    assert math.isclose(shown, truth_mm, abs_tol=max(dx, dy)), (shown, truth_mm)
    page.click("#save-read")
    expect(page.locator("#read-status")).to_have_text("Saved.")
    saved = [
        row
        for row in _get(page, f"/api/patients/{PATIENT}/lesions")["rows"]
        if row["lesion_id"] == "M1"
    ]
    assert len(saved) == 1
    assert float(saved[0]["longest_diameter_mm"]) == pytest.approx(shown, abs=0.05)
    assert math.isclose(float(saved[0]["longest_diameter_mm"]), truth_mm, abs_tol=max(dx, dy))
    assert not errors, errors
    page.context.close()
