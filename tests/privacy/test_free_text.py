"""Pattern rules of free text: every spelling named in issue 15, and what must stay."""

from __future__ import annotations

import pytest

from tumorboard.privacy import Deidentifier, Identity
from tumorboard.privacy.free_text import DATE_PATTERN, identifier_pattern, name_pattern

DATE_SPELLINGS = (
    "1970/03/02",
    "8-Jan-2024",
    "2024.06.24",
    "June 3, 2024",
    "20240101T0930",
    "1964-03-12",
    "2024-01-08",
    "08.01.2024",
    "3/6/24",
    "8 January 2024",
    "08JAN2024",
    "3rd of June",
    "Jan 8",
    "June 2024",
    "2024-01-08T09:30:00",
    "20240108",
)


@pytest.mark.parametrize("spelling", DATE_SPELLINGS)
def test_every_date_spelling_is_removed(spelling: str) -> None:
    text = f"seen ({spelling}) in the liver"
    assert Deidentifier(salt="k").text(text) == "seen ([date]) in the liver"


@pytest.mark.parametrize(
    "text",
    (
        "week 12",
        "L1 liver 12.5 mm",
        "tumorboard 0.1.0",
        "lesion 3 may grow",
        "SUBJ-1935F786E2C1",
        "Ki-67 15 %",
        "1234567",  # seven digits: not a compact date
        "decrease of -30.5 %",
    ),
)
def test_ordinary_text_is_kept(text: str) -> None:
    assert DATE_PATTERN.sub("[date]", text) == text


@pytest.mark.parametrize(
    "variant",
    ("MRN-778899", "mrn778899", "MRN 778899", "mrn_778899", "Mrn.778899", "778899", "0778899"),
)
def test_identifier_variants(variant: str) -> None:
    pattern = identifier_pattern("MRN-778899")
    assert pattern is not None
    assert pattern.sub("X", f"id {variant}-L1.") == "id X-L1."


def test_identifier_needs_whole_groups() -> None:
    pattern = identifier_pattern("MRN-778899")
    assert pattern is not None
    assert pattern.sub("X", "7788990, 1778899, MRN-7788991") == "7788990, 1778899, MRN-7788991"
    # a short digit group is not searched alone (it would hit ordinary numbers)
    short = identifier_pattern("TB-REF-0001")
    assert short is not None
    assert short.sub("X", "tb ref 0001, 1 and 0001") == "X, 1 and 0001"


def test_name_tokens_in_any_case() -> None:
    pattern = name_pattern(["DOE^JANE MARIE"])
    assert pattern is not None
    assert pattern.sub("N", "Jane Doe, marie; Doerte, Janet") == "N N, N; Doerte, Janet"
    assert name_pattern(["X^Y"]) is None  # one-letter parts are not names


def test_text_pseudonymises_the_patient_and_hides_other_ids() -> None:
    deid = Deidentifier(salt="k")
    identity = Identity("MRN-778899", names=("DOE^JANE",), other_ids=("ACC-55501",))
    text = "mrn778899-L1, MRN 778899 (acc 55501), Jane DOE on 8-Jan-2024"
    pseudonym = deid.pseudonym("MRN-778899")
    assert deid.text(text, identity) == (
        f"{pseudonym}-L1, {pseudonym} ([id]), [name] [name] on [date]"
    )
