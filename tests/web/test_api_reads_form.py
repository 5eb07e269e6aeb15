"""Lesion edits, the form, sign-off and hostile user text through the API."""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from api_support import BASELINE, PATIENT, WEEK12, TestClient, sign_in

from tumorboard.store.models import Patient

HOSTILE = ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>']


def _edit(client: TestClient, csrf: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(
        f"/api/patients/{PATIENT}/lesions{path}", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def _target(client: TestClient, csrf: str, label: str, size: str = "30") -> None:
    _edit(
        client,
        csrf,
        "",
        {
            "label": label,
            "organ": "liver",
            "role": "target",
            "exam": BASELINE,
            "values": [{"quantity": "longest_diameter_mm", "text": size}],
            "modality": "mr",
        },
    )


def test_edits_are_audited_with_the_signed_in_reader(reader: tuple[TestClient, str]) -> None:
    client, csrf = reader
    _target(client, csrf, "liver-1")
    _edit(
        client,
        csrf,
        "/measure",
        {
            "label": "liver-1",
            "exam": WEEK12,
            "values": [{"quantity": "longest_diameter_mm", "text": "21"}],
        },
    )
    _edit(client, csrf, "/rename", {"label": "liver-1", "new_label": "liver-seg7"})
    _edit(client, csrf, "/new", {"label": "bone-1", "exam": WEEK12, "organ": "bone"})
    rows = client.get(f"/api/patients/{PATIENT}/lesions").json()["rows"]
    sizes = {(r["date"], r["lesion_id"]): r.get("longest_diameter_mm") for r in rows}
    assert sizes[(BASELINE, "liver-seg7")] == "30" and sizes[(WEEK12, "liver-seg7")] == "21"
    changes = client.get("/api/audit", params={"patient": PATIENT}).json()["changes"]
    assert changes and {c["author"] for c in changes} == {"ada"}
    renamed = [c for c in changes if c["field"] == "label" and c["table"] == "lesions" and c["old"]]
    assert [(c["old"], c["new"]) for c in renamed] == [("liver-1", "liver-seg7")]
    refused = client.post(
        f"/api/patients/{PATIENT}/lesions/rename",
        json={"label": "no-such-lesion", "new_label": "x"},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 400 and "\n" not in refused.json()["detail"]


def test_hostile_names_come_back_as_escaped_data(app: Any) -> None:
    with app.state.workspace.session() as session:
        session.execute(
            sa.update(Patient).where(Patient.patient_key == PATIENT).values(name=HOSTILE[1])
        )
    with TestClient(app) as client:
        csrf = sign_in(client, "ada")
        for number, label in enumerate(HOSTILE):
            _target(client, csrf, label, size=str(20 + number))
        responses = [
            client.get("/api/patients"),
            client.get("/api/worklist"),
            client.get(f"/api/patients/{PATIENT}/lesions"),
            client.get("/api/audit", params={"patient": PATIENT}),
        ]
        for response in responses:
            assert response.headers["content-type"] == "application/json"
            assert "<" not in response.text and ">" not in response.text  # \\u003c ...
        patients = responses[0].json()["patients"]
        assert patients[0]["name"] == HOSTILE[1]  # the exact text, as data
        labels = {row["lesion_id"] for row in responses[2].json()["rows"]}
        assert set(HOSTILE) <= labels
        form = client.get(f"/api/patients/{PATIENT}/form")
        assert form.status_code == 200
        assert form.headers["content-type"].startswith("text/html")
        policy = form.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "sandbox" in policy
        for text in (*HOSTILE, "<script", "<img src=x"):
            assert text not in form.text  # the form's own figures are <img src="data:...
        assert "&lt;script&gt;alert(" in form.text
        assert "&lt;img src=x onerror=alert(1)&gt;" in form.text


def test_sign_off_freezes_the_pdf_and_a_later_sign_is_a_new_version(
    reader: tuple[TestClient, str],
) -> None:
    client, csrf = reader
    _target(client, csrf, "liver-1")
    first = client.post(f"/api/patients/{PATIENT}/sign", headers={"X-CSRF-Token": csrf})
    assert first.status_code == 200, first.text
    assert first.json()["version"] == 1 and first.json()["signer"] == "ada"
    pdf_1 = client.get(f"/api/patients/{PATIENT}/signoffs/1/pdf")
    assert pdf_1.status_code == 200 and pdf_1.content.startswith(b"%PDF")
    assert hashlib.sha256(pdf_1.content).hexdigest() == first.json()["pdf_object_sha256"]
    _edit(
        client,
        csrf,
        "/measure",
        {
            "label": "liver-1",
            "exam": WEEK12,
            "values": [{"quantity": "longest_diameter_mm", "text": "12"}],
        },
    )
    second = client.post(f"/api/patients/{PATIENT}/sign", headers={"X-CSRF-Token": csrf})
    assert second.status_code == 200 and second.json()["version"] == 2
    assert second.json()["pdf_object_sha256"] != first.json()["pdf_object_sha256"]
    versions = client.get(f"/api/patients/{PATIENT}/signoffs").json()["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    again = client.get(f"/api/patients/{PATIENT}/signoffs/1/pdf")
    assert again.content == pdf_1.content
    assert client.get(f"/api/patients/{PATIENT}/signoffs/3/pdf").status_code == 404
    signs = [
        c
        for c in client.get("/api/audit", params={"patient": PATIENT}).json()["changes"]
        if c["table"] == "sign_offs"
    ]
    assert [(c["old"], c["new"], c["author"]) for c in signs] == [
        ("1", "2", "ada"),
        (None, "1", "ada"),
    ]


def test_the_next_board_date_is_set_by_a_reader_audited_and_shown_on_the_worklist(
    app: Any,
) -> None:
    url = f"/api/patients/{PATIENT}/board-date"
    with TestClient(app) as client:
        csrf = sign_in(client, "ada")
        assert client.get("/api/worklist").json()["patients"][0]["next_board_date"] is None
        # without the CSRF header: refused, nothing changed
        assert client.put(url, json={"date": "2025-03-04"}).status_code == 403
        done = client.put(url, json={"date": "2025-03-04"}, headers={"X-CSRF-Token": csrf})
        assert done.status_code == 200 and done.json()["changed"] is True
        shown = client.get("/api/worklist").json()["patients"]
        assert [(p["patient_id"], p["next_board_date"]) for p in shown] == [(PATIENT, "2025-03-04")]
        bad = client.put(url, json={"date": "2025-02-30"}, headers={"X-CSRF-Token": csrf})
        assert bad.status_code in (400, 422)
        changes = client.get("/api/audit", params={"patient": PATIENT}).json()["changes"]
        dated = [c for c in changes if c["field"] == "next_board_date"]
        assert [(c["old"], c["new"], c["author"]) for c in dated] == [(None, "2025-03-04", "ada")]
    with TestClient(app) as viewer:
        csrf = sign_in(viewer, "vera")
        refused = viewer.put(url, json={"date": None}, headers={"X-CSRF-Token": csrf})
        assert refused.status_code == 403
        assert viewer.get("/api/worklist").json()["patients"][0]["next_board_date"] == "2025-03-04"


def test_a_second_reader_saving_over_changed_reads_is_refused_and_loses_nothing(app: Any) -> None:
    url = f"/api/patients/{PATIENT}/lesions"
    with TestClient(app) as first, TestClient(app) as second:
        csrf_a, csrf_b = sign_in(first, "ada"), sign_in(second, "bob")
        _target(first, csrf_a, "liver-1")
        # both readers load the reads at the same version
        seen = first.get(url).json()["version"]
        assert seen > 0 and second.get(url).json()["version"] == seen
        measure = {"label": "liver-1", "exam": WEEK12, "version": seen}
        saved = first.post(
            f"{url}/measure",
            json={**measure, "values": [{"quantity": "longest_diameter_mm", "text": "21"}]},
            headers={"X-CSRF-Token": csrf_a},
        )
        assert saved.status_code == 200, saved.text
        # the second reader saves over reads that changed since: refused, one clear line
        stale = second.post(
            f"{url}/measure",
            json={**measure, "values": [{"quantity": "longest_diameter_mm", "text": "25"}]},
            headers={"X-CSRF-Token": csrf_b},
        )
        assert stale.status_code == 409
        detail = stale.json()["detail"]
        assert "changed since you loaded them" in detail and "ada" in detail
        assert "\n" not in detail
        # nothing was lost or overwritten: the first reader's 21 mm stands
        rows = second.get(url).json()
        sizes = {(r["date"], r["lesion_id"]): r.get("longest_diameter_mm") for r in rows["rows"]}
        assert sizes[(WEEK12, "liver-1")] == "21"
        # after reloading, the second reader's save goes through
        again = second.post(
            f"{url}/measure",
            json={
                **measure,
                "version": rows["version"],
                "values": [{"quantity": "longest_diameter_mm", "text": "25"}],
            },
            headers={"X-CSRF-Token": csrf_b},
        )
        assert again.status_code == 200, again.text
        assert second.get(url).json()["version"] > rows["version"]
