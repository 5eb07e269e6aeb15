"""Crafted inputs that used to print a traceback (issue 15, item 10): now one line, exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tumorboard.cli.main import main
from tumorboard.errors import InputError
from tumorboard.guide.facts import load_facts_json
from tumorboard.imaging.input_limits import (
    MAX_JSON_DEPTH,
    MAX_JSON_NUMBER_CHARACTERS,
    parse_json_text,
)
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume
from tumorboard.pet.registration import register_rigid

HEADER = (
    "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
    "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status"
)


def _table(
    tmp_path: Path, baseline_diameter: str = "40", lesion: str = "L1", week: str = "week8"
) -> Path:
    rows = [
        f"P1,baseline,2024-01-01,ct,{lesion},liver,target,false,{baseline_diameter},,80,,,present",
        f"P1,{week},2024-03-01,ct,{lesion},liver,target,false,30,,60,,,present",
    ]
    path = tmp_path / "m.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _one_line_error(capsys: pytest.CaptureFixture[str], code: int) -> str:
    captured = capsys.readouterr()
    assert code == 1, captured.err
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return lines[0]


# --------------------------------------------------------------------------- measurements
@pytest.mark.parametrize(
    "text",
    ["1e999999", "12345678901234567890123456789012345678", "1e-999999", "1000000.5"],
)
def test_absurd_diameters_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    code = main(["assess", str(_table(tmp_path, text)), "--out", str(tmp_path / "out")])
    line = _one_line_error(capsys, code)
    assert f"row 2: longest_diameter_mm: {text!r} is outside the accepted range" in line
    assert not (tmp_path / "out").exists()


def test_largest_accepted_diameter_passes_the_range_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["assess", str(_table(tmp_path, "1000000")), "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err


# --------------------------------------------------------------------------- mathtext
def test_dollar_signs_in_ids_and_labels_do_not_reach_mathtext(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table = _table(tmp_path, lesion="$\\frac{$", week="$\\sqrt$")
    code = main(["assess", str(table), "--out", str(tmp_path / "out")])
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "out" / "response.csv").exists()


# --------------------------------------------------------------------------- summary.json
def _exam(folder: Path, summary: object, raw: str | None = None) -> Path:
    folder.mkdir()
    text = raw if raw is not None else json.dumps(summary)
    (folder / "summary.json").write_text(text, encoding="utf-8")
    rows = ["bin_lower_um2_per_s,bin_upper_um2_per_s,voxels", "500,550,10", "550,600,30"]
    (folder / "histogram.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder


def _summary(
    volume: object = 120.0, median: object = 900.0, date: str = "2024-01-08"
) -> dict[str, object]:
    adc = {"mean": 950.0, "median": median, "sd": 120.0, "p95": 1300.0}
    return {
        "exam": {"date": date},
        "total_diffusion_volume_ml": volume,
        "adc_um2_per_s": {**adc, "skewness": 0.2, "kurtosis": 3.1},
    }


def test_good_summaries_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _exam(tmp_path / "e1", _summary())
    second = _exam(tmp_path / "e2", _summary(volume=60.0, date="2024-04-08"))
    code = main(
        [
            "dwi",
            "compare",
            "--exam",
            f"a={first}",
            "--exam",
            f"b$x$={second}",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 0, capsys.readouterr().err
    rows = (tmp_path / "o" / "comparison.csv").read_text(encoding="utf-8").splitlines()
    assert rows[2].split(",")[2] == "-50.0"


@pytest.mark.parametrize(
    ("summary", "raw", "expected"),
    [
        (_summary(volume=0.0), None, "total_diffusion_volume_ml is 0.0; the first exam"),
        (_summary(median=0), None, "median is 0; the first exam"),
        (_summary(volume=None), None, "total_diffusion_volume_ml must be a number, got None"),
        (_summary(median="nine hundred"), None, "adc_um2_per_s.median must be a number"),
        (_summary(volume=-3.0), None, "must be a finite non-negative number, got -3.0"),
        (_summary(volume=True), None, "must be a number, got True"),
        (None, '{"total_diffusion_volume_ml": NaN}', "NaN is not a number JSON allows"),
        (None, '{"total_diffusion_volume_ml": 1e999999}', "outside the floating-point range"),
        (None, "[" * 100_000, f"nested deeper than {MAX_JSON_DEPTH} levels"),
        (None, '{"total_diffusion_volume_ml": ' + "9" * 5000 + "}", "number of 5000 characters"),
        ([1, 2], None, "not a dwi assess summary"),
    ],
)
def test_bad_summary_fields_are_one_line_in_dwi_compare(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    summary: object,
    raw: str | None,
    expected: str,
) -> None:
    first = _exam(tmp_path / "e1", summary, raw)
    second = _exam(tmp_path / "e2", _summary(date="2024-04-08"))
    code = main(
        [
            "dwi",
            "compare",
            "--exam",
            f"a={first}",
            "--exam",
            f"b={second}",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    line = _one_line_error(capsys, code)
    assert expected in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("value", [None, "x", float("inf")])
def test_bad_summary_is_one_line_in_assess_dwi_exam(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: object
) -> None:
    summary = _summary(volume=value)
    raw = json.dumps(summary).replace("Infinity", "1e999") if value == float("inf") else None
    exam = _exam(tmp_path / "e1", summary, raw)
    code = main(
        [
            "assess",
            str(_table(tmp_path)),
            "--dwi-exam",
            f"base={exam}",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    line = _one_line_error(capsys, code)
    assert "total_diffusion_volume_ml" in line or "floating-point range" in line


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            '{"total_diffusion_volume_ml": null, "adc_um2_per_s": {"median": 1, "p95": 2}}',
            "must be numbers",
        ),
        (
            '{"total_diffusion_volume_ml": 0, "adc_um2_per_s": {"median": 1, "p95": 2}}',
            "must be a positive number",
        ),
        (
            '{"total_diffusion_volume_ml": "1", "adc_um2_per_s": {"median": 1, "p95": 2}}',
            "must be numbers",
        ),
        ('{"total_diffusion_volume_ml": 1}', "missing field"),
    ],
)
def test_reference_summary_fields(tmp_path: Path, raw: str, expected: str) -> None:
    from tumorboard.pipeline.dwi_assess import ReferenceExam

    path = tmp_path / "summary.json"
    path.write_text(raw, encoding="utf-8")
    with pytest.raises(InputError, match=expected) as caught:
        ReferenceExam.from_summary_json(path)
    assert str(caught.value).startswith(f"reference summary {path}: ")


# --------------------------------------------------------------------------- FACTS.json
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[" * 100_000 + "]" * 100_000, f"nested deeper than {MAX_JSON_DEPTH} levels"),
        ('{"ki67_pct": ' + "1" * 5000 + "}", "number of 5000 characters"),
        ('{"ki67_pct": 1e999999}', "outside the floating-point range"),
        ('{"ki67_pct": Infinity}', "Infinity is not a number JSON allows"),
        ('{"ki67_pct": 12', "not valid JSON"),
    ],
)
def test_hostile_facts_json_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, expected: str
) -> None:
    path = tmp_path / "FACTS.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match=expected):
        load_facts_json(path)
    code = main(["guide", str(path), "--out", str(tmp_path / "out")])
    line = _one_line_error(capsys, code)
    assert line.startswith(f"tumorboard guide: error: FACTS {path}")
    assert expected in line


def test_json_limits_are_pinned_on_both_sides() -> None:
    nested = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json_text(nested, what="x") == parse_json_text(nested, what="x")
    with pytest.raises(InputError, match="nested deeper"):
        parse_json_text("[" + nested + "]", what="x")
    longest = "1" * MAX_JSON_NUMBER_CHARACTERS
    assert parse_json_text(longest, what="x") == int(longest)
    with pytest.raises(InputError, match="characters"):
        parse_json_text(longest + "1", what="x")
    assert parse_json_text('"[[[[" ', what="x") == "[[[["  # brackets inside strings do not count


# --------------------------------------------------------------------------- radiomics
def _nifti(path: Path, array: np.ndarray) -> Path:
    volume = Volume(
        array=array,
        spacing_mm=(1.0, 1.0, 1.0),
        origin_mm=(0.0, 0.0, 0.0),
        direction=np.eye(3),
        unit="",
    )
    write_nifti(volume, path)
    return path


@pytest.mark.parametrize(("value", "refused"), [(3e38, True), (2e9, True), (5e8, False)])
def test_radiomics_refuses_absurd_intensities(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], value: float, refused: bool
) -> None:
    image = np.full((10, 10, 10), value, dtype=np.float32)
    labels = np.zeros((10, 10, 10), dtype=np.uint8)
    labels[3:7, 3:7, 3:7] = 1
    arguments = [
        "radiomics",
        "--image",
        str(_nifti(tmp_path / "img.nii.gz", image)),
        "--labels",
        str(_nifti(tmp_path / "lab.nii.gz", labels)),
        "--preset",
        "mr",
        "--workers",
        "1",
        "--out",
        str(tmp_path / "f.csv"),
    ]
    code = main(arguments)
    if refused:
        line = _one_line_error(capsys, code)
        assert "more than 1e+09" in line
    else:
        assert code == 0, capsys.readouterr().err


def test_radiomics_undiscretised_preset_refuses_a_huge_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    image = np.zeros((10, 10, 10), dtype=np.float32)
    image[4, 4, 4] = 1e8
    labels = np.zeros((10, 10, 10), dtype=np.uint8)
    labels[3:7, 3:7, 3:7] = 1
    code = main(
        [
            "radiomics",
            "--image",
            str(_nifti(tmp_path / "img.nii.gz", image)),
            "--labels",
            str(_nifti(tmp_path / "lab.nii.gz", labels)),
            "--preset",
            "ibsi-phantom",
            "--workers",
            "1",
            "--out",
            str(tmp_path / "f.csv"),
        ]
    )
    assert "does not discretise (base)" in _one_line_error(capsys, code)


# --------------------------------------------------------------------------- registration
def test_registration_refuses_a_nan_voxel_before_itk() -> None:
    grid = np.random.default_rng(5).random((12, 12, 12)).astype(np.float32)
    fixed = Volume(
        array=grid,
        spacing_mm=(2.0, 2.0, 2.0),
        origin_mm=(0.0, 0.0, 0.0),
        direction=np.eye(3),
        unit="",
    )
    bad = grid.copy()
    bad[6, 6, 6] = np.nan
    moving = fixed.with_array(bad)
    with pytest.raises(InputError) as caught:
        register_rigid(fixed, moving, iterations=1)
    assert str(caught.value) == (
        "moving image: 1 voxel(s) are NaN or infinite; rigid registration needs finite intensities"
    )


def test_pet_register_with_a_nan_voxel_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Was: ``pet register`` printed ITK's exception dump (issue 15, item 10)."""
    grid = np.random.default_rng(5).random((12, 12, 12)).astype(np.float32)
    fixed = write_nifti(Volume(grid, (2.0, 2.0, 2.0)), tmp_path / "fixed.nii.gz")
    bad = grid.copy()
    bad[6, 6, 6] = np.nan
    moving = write_nifti(Volume(bad, (2.0, 2.0, 2.0)), tmp_path / "moving.nii.gz")
    argv = ["pet", "register", "--moving", str(moving), "--fixed", str(fixed)]
    code = main([*argv, "--out", str(tmp_path / "reg")])
    line = _one_line_error(capsys, code)
    assert "NaN or infinite" in line and "itk" not in line.lower()
    assert not (tmp_path / "reg").exists()


@pytest.mark.parametrize("code", ["ENOSPC", "EROFS"])
def test_dwi_compare_disk_full_or_read_only_is_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    code: str,
) -> None:
    """Was: a traceback when the disk filled or the file system was read-only (item 10)."""
    import errno
    import os

    import tumorboard.pipeline.dwi_compare as dwi_compare

    first = _exam(tmp_path / "e1", _summary())
    second = _exam(tmp_path / "e2", _summary(volume=60.0, date="2024-04-08"))
    out = tmp_path / "o"
    argv = ["dwi", "compare", "--exam", f"a={first}", "--exam", f"b={second}", "--out", str(out)]
    assert main(argv) == 0, capsys.readouterr().err
    before = (out / "comparison.csv").read_bytes()
    number = getattr(errno, code)

    def failing(*args: object, **kwargs: object) -> None:
        raise OSError(number, os.strerror(number))

    monkeypatch.setattr(dwi_compare, "write_csv", failing)
    capsys.readouterr()
    line = _one_line_error(capsys, main([*argv, "--force"]))
    assert f"cannot write output {out}" in line and f"({code})" in line
    assert (out / "comparison.csv").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if ".partial-" in p.name or ".old-" in p.name]
