"""Body-size normalisers against the shared reference table."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import pytest

from tumorboard.errors import InputError
from tumorboard.pet.body_size import (
    LbmFormula,
    Sex,
    body_surface_area_m2,
    ideal_body_weight_kg,
    lean_body_mass_kg,
)

#: The table lists kg/cm2 values to 6 decimals: agree to a relative 1e-6.
RELATIVE_TOLERANCE = 1e-6


def _rows(reference_dir: Path) -> list[dict[str, str]]:
    path = reference_dir / "pet" / "suv_test_vectors" / "body_size_normalisers.csv"
    with open(path, encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _computed(row: dict[str, str]) -> float:
    weight, height, sex = float(row["weight_kg"]), float(row["height_m"]), row["sex"]
    formula = row["formula"]
    if row["quantity"] == "BSA":
        return body_surface_area_m2(weight, height) * 1e4
    if row["quantity"] == "IBW":
        return ideal_body_weight_kg(weight, height, sex)
    if formula.startswith("Janmahasatian"):
        return lean_body_mass_kg(weight, height, sex, LbmFormula.JANMAHASATIAN)
    if "120" in formula:
        return lean_body_mass_kg(weight, height, sex, LbmFormula.JAMES120)
    return lean_body_mass_kg(weight, height, sex, "james128")


def test_reference_table(reference_dir: Path) -> None:
    rows = _rows(reference_dir)
    assert len(rows) >= 20
    for row in rows:
        assert _computed(row) == pytest.approx(float(row["value"]), rel=RELATIVE_TOLERANCE), row


def test_cornerstone_james120_value() -> None:
    assert lean_body_mass_kg(75, 1.85, "M", "james120") * 1000 == pytest.approx(62777.57, abs=0.01)


def test_sex_other_is_mean_for_ibw() -> None:
    assert ideal_body_weight_kg(70, 1.75, Sex.OTHER) == pytest.approx(69.405)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: lean_body_mass_kg(70, None, "M"), "height"),
        (lambda: lean_body_mass_kg(70, 175, "M"), "metres"),
        (lambda: lean_body_mass_kg(-1, 1.7, "M"), "weight"),
        (lambda: lean_body_mass_kg(70, 1.7, "X"), "M, F or O"),
        (lambda: lean_body_mass_kg(70, 1.7, "M", "boer"), "janmahasatian"),
        (lambda: lean_body_mass_kg(250, 1.5, "F", "james128"), "not positive"),
    ],
)
def test_bad_body_size(call: Callable[[], float], message: str) -> None:
    with pytest.raises(InputError, match=message):
        call()
