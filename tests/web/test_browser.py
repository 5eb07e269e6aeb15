"""The reading room in a real browser: Debian's Chromium driven by Playwright.

The issue's scenario, on a served workspace of the reference patient: sign in,
open the patient, remove a WB-DWI component by clicking it on the MIP and see
the volume change to the record's new number, add a measurement, sign the
form and see version 1, then sign in as a viewer and be refused an edit (no
button, and a forced request gets 403). And hostile text (a patient name, a
lesion name) renders as text: no element is made from it, no script runs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_fixtures import (
    HOSTILE_PATIENT,
    PATIENT,
    READER,
    VIEWER,
    ReadingRoom,
    serving,
)
from playwright.sync_api import Browser, Dialog, Page, expect

pytestmark = pytest.mark.slow

# The CI machine is shared and loaded: wait for the page up to 30 s (never a time assertion)
expect.set_options(timeout=30_000)

HOSTILE_LESION = '<img src=x onerror=alert(3)><b>L9</b>"><svg onload=alert(4)>'


@pytest.fixture(scope="module")
def room(
    tmp_path_factory: pytest.TempPathFactory,
    reading_room_workspace: tuple[Path, tuple[str, ...]],
) -> Iterator[ReadingRoom]:
    root = tmp_path_factory.mktemp("reading-room")
    with serving(root, built=reading_room_workspace) as served:
        yield served


def _page(browser: Browser, room: ReadingRoom) -> Page:
    context = browser.new_context(base_url=room.url, viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


def _sign_in(page: Page, user: tuple[str, str]) -> None:
    page.goto("/#/login")
    page.fill("#username", user[0])
    page.fill("#password", user[1])
    page.click("#login-form button[type=submit]")
    expect(page.locator("#worklist")).to_be_visible()


def _fetch(page: Page, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A request from inside the page (its session cookie and its CSRF token)."""
    answer: dict[str, Any] = page.evaluate(
        """async ([method, path, body]) => {
            const headers = {'Content-Type': 'application/json',
                             'X-CSRF-Token': sessionStorage.getItem('tumorboard.csrf') || ''};
            const r = await fetch(path, {method, headers, credentials: 'same-origin',
                                         body: body === null ? undefined : JSON.stringify(body)});
            let data = null; try { data = await r.json() } catch (e) {}
            return {status: r.status, data};
        }""",
        [method, path, body],
    )
    return answer


def _click_component(page: Page, overlay: dict[str, Any], component: int) -> None:
    """Click the MIP at the centre pixel of the component's visible rays."""
    width = overlay["width"]
    pixels = [i for i, value in enumerate(overlay["component_ids"]) if value == component]
    assert pixels, f"component {component} is not visible on the MIP"
    rows = sorted(i // width for i in pixels)
    row = rows[len(rows) // 2]
    columns = sorted(i % width for i in pixels if i // width == row)
    column = columns[len(columns) // 2]
    box = page.locator("#mip").bounding_box()
    assert box is not None
    page.mouse.click(
        box["x"] + (column + 0.5) * box["width"] / width,
        box["y"] + (row + 0.5) * box["height"] / overlay["height"],
    )


def test_reader_curates_measures_and_signs_then_a_viewer_is_refused(
    browser: Browser, room: ReadingRoom
) -> None:
    page = _page(browser, room)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _sign_in(page, READER)

    # open the reference patient, then its first WB-DWI exam from the timeline
    page.click(f"#worklist a[data-patient='{PATIENT}']")
    date = room.dwi_dates[0]
    page.click(f"#exams a.dwi-link[data-date='{date}']")
    mip = page.locator("#mip")
    expect(mip).to_have_attribute("data-kept", re.compile(r"\d"))
    base = f"/api/patients/{PATIENT}/dwi/{date}"
    exam = _fetch(page, "GET", base)["data"]
    kept = [c for c in exam["components"] if c["kept"]]
    before = float(page.locator("#tdv").get_attribute("data-value") or "nan")
    assert math.isclose(before, exam["total_diffusion_volume_ml"], abs_tol=1e-9)
    overlay = _fetch(page, "GET", f"{base}/mip_overlay.json")["data"]
    visible = {value for value in overlay["component_ids"] if value}
    target = max((c for c in kept if c["component_id"] in visible), key=lambda c: c["voxels"])
    _click_component(page, overlay, target["component_id"])
    expect(page.locator("#curation-status")).to_contain_text("removed")
    after = float(page.locator("#tdv").get_attribute("data-value") or "nan")
    record = _fetch(page, "GET", base)["data"]
    assert after == record["total_diffusion_volume_ml"]
    # the truth: the removed component's voxels are gone from the total
    voxel_ml = exam["summary"]["voxel_volume_ml"]
    assert math.isclose(after, before - target["voxels"] * voxel_ml, abs_tol=1e-3)
    assert after < before - 1.0
    assert str(target["component_id"]) not in (mip.get_attribute("data-kept") or "").split(",")
    assert (
        page.locator(f"button.toggle[data-component='{target['component_id']}']").inner_text()
        == "Keep"
    )
    # the three-plane views load the curated classes too (after the numbers are shown)
    expect(page.locator("div.viewers")).to_have_attribute(
        "data-classes-kept", mip.get_attribute("data-kept") or "", timeout=30_000
    )

    # add a measurement on the reads page (numeric entry)
    page.goto(f"/#/patient/{PATIENT}/reads")
    page.select_option("select[name=action]", "add")
    page.fill("#lesion-label", "L1")
    page.select_option("select[name=exam]", date)
    page.select_option("select[name=modality]", "wbdwi")
    page.fill("#lesion-diameter", "23.5")
    page.click("#save-read")
    expect(page.locator("#read-status")).to_have_text("Saved.")
    expect(page.locator("#reads-table .diameter", has_text="23.5")).to_have_count(1)

    # sign the form: version 1
    page.goto(f"/#/patient/{PATIENT}/form")
    page.click("#sign")
    # signing writes the whole form and its PDF (WeasyPrint): seconds on a loaded machine
    expect(page.locator("#sign-status")).to_have_text("Signed version 1.", timeout=120_000)
    expect(page.locator("#versions .version")).to_have_text(["1"])
    assert page.locator("#form-preview").get_attribute("sandbox") == ""
    assert not errors, errors

    # a viewer: no edit buttons, and a forced change is refused
    page.click("#logout")
    expect(page.locator("#login-form")).to_be_visible()
    _sign_in(page, VIEWER)
    page.goto(f"/#/patient/{PATIENT}/dwi/{date}")
    expect(mip).to_have_attribute("data-kept", re.compile(r"\d"))
    assert page.locator("button.toggle").count() == 0
    kept_before = mip.get_attribute("data-kept")
    _click_component(page, overlay, kept[0]["component_id"])
    assert page.locator("#curation-status").inner_text() == ""
    assert mip.get_attribute("data-kept") == kept_before
    forced = _fetch(
        page,
        "POST",
        f"{base}/components",
        {"remove": [kept[0]["component_id"]], "version": record["curation"]["version"]},
    )
    assert forced["status"] == 403
    assert _fetch(page, "GET", base)["data"]["total_diffusion_volume_ml"] == after
    page.goto(f"/#/patient/{PATIENT}/form")
    expect(page.locator("#versions .version")).to_have_text(["1"])
    assert page.locator("#sign").count() == 0
    assert _fetch(page, "POST", f"/api/patients/{PATIENT}/sign", {})["status"] == 403
    page.goto(f"/#/patient/{PATIENT}/reads")
    expect(page.locator("#reads-table")).to_be_visible()
    assert page.locator("#read-form").count() == 0
    assert not errors, errors
    page.context.close()


def test_hostile_text_renders_as_text(browser: Browser, room: ReadingRoom) -> None:
    page = _page(browser, room)
    dialogs: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    _sign_in(page, READER)
    # a hostile patient name from DICOM: the cell shows the stored name as text
    stored = next(
        p["name"]
        for p in _fetch(page, "GET", "/api/worklist")["data"]["patients"]
        if p["patient_id"] == HOSTILE_PATIENT
    )
    assert "<img" in stored
    row = page.locator("#worklist tr", has=page.locator(f"a[data-patient='{HOSTILE_PATIENT}']"))
    expect(row.locator("td").nth(1)).to_have_text(stored)
    assert page.locator("#worklist img, #worklist script, #worklist svg").count() == 0
    # a hostile lesion name from a reader
    saved = _fetch(
        page,
        "POST",
        f"/api/patients/{PATIENT}/lesions",
        {
            "label": HOSTILE_LESION,
            "organ": "liver",
            "role": "non-target",
            "exam": room.dwi_dates[0],
            "modality": "wbdwi",
        },
    )
    assert saved["status"] in (200, 201), saved
    page.goto(f"/#/patient/{PATIENT}/reads")
    expect(page.locator("#reads-table .lesion-name", has_text="L9")).to_have_text(HOSTILE_LESION)
    page.goto(f"/#/patient/{PATIENT}/audit")
    expect(page.locator("#audit")).to_be_visible()
    for view in ("reads", "audit", ""):
        page.goto(f"/#/patient/{PATIENT}/{view}")
        page.wait_for_selector("section.view[aria-busy=false]")
        assert page.locator("main svg[onload], main img, main script, main b").count() == 0
    assert page.evaluate("() => window.__xss") is None
    assert dialogs == []
    page.context.close()


def test_the_bundle_is_shipped_and_has_no_inline_script() -> None:
    static = Path(__file__).resolve().parents[2] / "src" / "tumorboard" / "web" / "static"
    index = (static / "index.html").read_text(encoding="utf-8")
    assert '<script type="module" src="app.js"></script>' in index
    assert index.count("<script") == 1 and "http" not in index
    assert (static / "app.js").stat().st_size > 0 and (static / "app.css").is_file()
