"""IBSI-1 compliance through tumorboard's own entry point.

Digital phantom: all 482 reference values must match. CT phantom
(configurations A-E): every reference value within IBSI tolerance (1321 values;
configuration C's compactness 1 has none). Moran's I and Geary's C match only
because tumorboard computes them exactly (mirp alone estimates them).
"""

from __future__ import annotations

import csv
import math
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pytest

from tumorboard.imaging.nifti import read_nifti
from tumorboard.radiomics import LesionFeatures, extract_lesion_features

#: IBSI rule: round the computed value to this many significant digits, then
#: compare with the reference within its tolerance.
IBSI_SIGNIFICANT_DIGITS = 3
CONFIGS = ("A", "B", "C", "D", "E")


def round_significant(value: float, digits: int = IBSI_SIGNIFICANT_DIGITS) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - int(math.floor(math.log10(abs(value)))))


def matches(value: float, reference: float, tolerance: float) -> bool:
    return abs(round_significant(value) - reference) <= tolerance


def reference_rows(reference_dir: Path, data_set: str) -> list[dict[str, str]]:
    path = reference_dir / "radiomics/ibsi/reference_values/ibsi1_reference_values.csv"
    with open(path, encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["data_set"] == data_set]


DIGITAL_ROWS = (
    reference_rows(Path(__file__).resolve().parents[3] / "shared" / "reference", "digital_phantom")
    if (Path(__file__).resolve().parents[3] / "shared" / "reference").is_dir()
    else []
)


@pytest.fixture(scope="module")
def digital_phantom(reference_dir: Path) -> LesionFeatures:
    folder = reference_dir / "radiomics/ibsi/digital_phantom"
    image = read_nifti(folder / "phantom.nii.gz")
    labels = read_nifti(folder / "mask.nii.gz")
    (lesion,) = extract_lesion_features(image, labels, "ibsi-phantom", workers=1)
    return lesion


def test_digital_phantom_has_482_references(reference_dir: Path) -> None:
    assert len(reference_rows(reference_dir, "digital_phantom")) == 482 == len(DIGITAL_ROWS)


@pytest.mark.parametrize(
    "row", DIGITAL_ROWS, ids=[f"{r['ibsi_tag']}[{r['aggregation']}]" for r in DIGITAL_ROWS]
)
@pytest.mark.slow
def test_digital_phantom_value(digital_phantom: LesionFeatures, row: dict[str, str]) -> None:
    value = digital_phantom.value(row["ibsi_tag"], row["aggregation"])
    assert matches(value, float(row["value"]), float(row["tolerance"])), (value, row["value"])


@pytest.mark.slow
def test_digital_phantom_codes(digital_phantom: LesionFeatures) -> None:
    ids = {(v.code.tag, v.code.feature_id) for v in digital_phantom.values}
    assert ("cm.joint.max", "GYBY") in ids and ("morph.vol", "RNU0") in ids
    aggregation_ids = {
        v.code.aggregation_id for v in digital_phantom.values if v.code.family == "cm"
    }
    assert aggregation_ids == {"BTW3", "SUJT", "JJUI", "ZW7Z", "ITBB", "IAZD"}
    assert digital_phantom.voxel_count == 74


def _ct_config(args: tuple[str, str]) -> dict[tuple[str, str], float]:
    folder, config = args
    image = read_nifti(Path(folder) / "image.nii.gz")
    labels = read_nifti(Path(folder) / "mask.nii.gz")
    image = image.with_array(np.round(image.array.astype(np.float64)))
    (lesion,) = extract_lesion_features(image, labels, f"ibsi-{config.lower()}", workers=1)
    return {(v.code.tag, v.code.aggregation): v.value for v in lesion.values}


@pytest.fixture(scope="module")
def ct_phantom(reference_dir: Path) -> dict[str, dict[tuple[str, str], float]]:
    folder = str(reference_dir / "radiomics/ibsi/ct_phantom")
    with ProcessPoolExecutor(2, mp_context=get_context("fork")) as pool:
        results = list(pool.map(_ct_config, [(folder, c) for c in CONFIGS]))
    return dict(zip(CONFIGS, results, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS)
def test_ct_phantom_configuration(
    config: str, ct_phantom: dict[str, dict[tuple[str, str], float]], reference_dir: Path
) -> None:
    computed = ct_phantom[config]
    rows = [r for r in reference_rows(reference_dir, f"config_{config}") if r["value"]]
    failures = set()
    for row in rows:
        value = computed[(row["ibsi_tag"], row["aggregation"])]
        if not matches(value, float(row["value"]), float(row["tolerance"])):
            failures.add(row["ibsi_tag"])
    assert not failures, failures
    assert len(rows) == {"A": 346, "B": 346, "C": 209, "D": 210, "E": 210}[config]
