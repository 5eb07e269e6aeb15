"""The form's de-identification (``report.crf_deid.Disclosure``) on the one de-identifier."""

from __future__ import annotations

import json

from tumorboard.report.crf_deid import Disclosure


def test_patient_block_drops_name_and_birth_date_keys() -> None:
    disclosure = Disclosure(deidentify=True, salt="k")
    pseudonym = disclosure.patient("MRN-778899")
    block = {
        "patient": pseudonym,
        "patient_name": "DOE^JANE",
        "birth_date": "1964-03-12",
        "study_id": "TRIAL-1",
        "notes": ["Jane Doe seen 12.03.1964 (MRN 778899)"],
        "figures": {"spider": "data:image/png;base64,AAAA"},
    }
    out = disclosure.scrub(block, "MRN-778899")
    assert set(out) == {"patient", "study_id", "notes", "figures"}
    assert out["notes"] == [f"[name] [name] seen [date] ({pseudonym})"]
    assert out["study_id"] == disclosure.study("TRIAL-1") != "TRIAL-1"
    text = json.dumps(out).lower()
    for leak in ("doe", "jane", "1964", "778899", "trial-1"):
        assert leak not in text, leak
    # names given by the caller (a form that left the name key out) are found too
    assert disclosure.text("Jane's liver", "MRN-778899", names=["DOE^JANE"]) == "[name]'s liver"


def test_shared_blocks_use_every_patient_and_keep_patient_blocks() -> None:
    disclosure = Disclosure(deidentify=True, salt="k")
    document = {
        "study_id": "TRIAL-1",
        "guide": {"facts": {"syndrome": "A-1 and B-22 seen June 3, 2024"}},
        "patients": [{"notes": ["as given"]}],
    }
    out = disclosure.shared(document, ["A-1", "B-22"])
    assert out["guide"]["facts"]["syndrome"] == (
        f"{disclosure.patient('A-1')} and {disclosure.patient('B-22')} seen [date]"
    )
    assert out["patients"] is document["patients"]
    assert out["study_id"] == disclosure.study("TRIAL-1")
    assert Disclosure().shared(document, ["A-1"]) is document
