"""docs/crf_schema.md must list every key the CRF document writes."""

from pathlib import Path

from tumorboard.report.crf_model import CRF_PATIENT_KEYS, CRF_SCHEMA_VERSION, CRF_TOP_KEYS

DOC = Path(__file__).resolve().parents[2] / "docs" / "crf_schema.md"


def test_schema_doc_lists_every_key_and_the_version():
    text = DOC.read_text(encoding="utf-8")
    missing = [key for key in (*CRF_TOP_KEYS, *CRF_PATIENT_KEYS) if f"`{key}`" not in text]
    assert not missing, f"docs/crf_schema.md lacks {missing}"
    assert str(CRF_SCHEMA_VERSION) in text
