"""Bounded fuzzing (hypothesis) of the readers and the command line; replay of kept crashes.

Each property runs a fixed number of examples (no deadline, no example
database) so the whole module finishes in bounded time; the replay test runs
every input kept under ``regressions/``. See :mod:`fuzz_targets`.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fuzz_targets import (
    MEASUREMENT_HEADER,
    MEASUREMENT_ROWS,
    REGRESSIONS,
    check_argv,
    check_dicom_bytes,
    check_facts_json,
    check_measurement_csv,
    check_summary_json,
    seed_dicom,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tumorboard.cli.main import build_parser
from tumorboard.imaging.nifti import write_nifti
from tumorboard.imaging.volume import Volume

#: ``TUMORBOARD_FUZZ_SCALE=20`` multiplies the example counts and draws fresh random
#: examples (an exploratory run); unset, every run replays the same bounded set.
SCALE = float(os.environ.get("TUMORBOARD_FUZZ_SCALE", "0") or 0)

#: Shared settings: bounded, reproducible, nothing written to the work tree.
BOUNDED = settings(
    deadline=None,
    database=None,
    derandomize=SCALE == 0,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _examples(count: int) -> int:
    return max(1, round(count * SCALE)) if SCALE else count


SEEDS = (seed_dicom(implicit=False), seed_dicom(implicit=True))
_INTERESTING = (
    b"\xff\xff\xff\xff",
    b"\x00\x00\x00\x00",
    b"\xfe\xff\x00\xe0",
    b"\xfe\xff\xdd\xe0",
    b"SQ",
    b"UN",
    b"OB",
)


@st.composite
def mutated_dicom(draw: st.DrawFn) -> bytes:
    data = bytearray(SEEDS[draw(st.integers(0, 1))])
    header_end = data.rfind(b"\xe0\x7f\x10\x00") + 12  # mutate the header, rarely the pixels
    data_set_start = data.find(b"\x08\x00\x16\x00")  # SOPClassUID: the first data element
    for _ in range(draw(st.integers(0, 6))):
        low = 128 if draw(st.integers(0, 3)) == 0 else data_set_start  # mostly after the meta
        position = draw(st.integers(low, header_end))
        if draw(st.booleans()):
            data[position : position + 1] = bytes([draw(st.integers(0, 255))])
        else:
            chunk = draw(st.sampled_from(_INTERESTING))
            data[position : position + len(chunk)] = chunk
    if draw(st.integers(0, 4)) == 0:
        data = data[: draw(st.integers(0, len(data)))]
    return bytes(data)


@settings(BOUNDED, max_examples=_examples(300))
@given(mutated_dicom())
def test_fuzz_dicom_reader(data: bytes) -> None:
    check_dicom_bytes(data)


_CELLS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "1e999999",
            "-0",
            "NaN",
            "inf",
            "١٢",
            "1_000",
            "9" * 40,
            "0.0000000000000000000001",
            "=HYPERLINK(1)",
            "$x$",
            "",
            " ",
            "target",
            "new",
            "absent",
            "true",
            "2024-02-30",
            "baseline",
            "week8",
            "liver-reference",
            "pet",
            "1e-30",
            "-5",
            "15",
        ]
    ),
)


@st.composite
def measurement_tables(draw: st.DrawFn) -> str:
    rows = [row.split(",") for row in MEASUREMENT_ROWS]
    for _ in range(draw(st.integers(1, 5))):
        row = draw(st.integers(0, len(rows) - 1))
        column = draw(st.integers(0, len(rows[0]) - 1))
        rows[row][column] = draw(_CELLS).replace(",", ";").replace("\n", " ").replace("\r", " ")
    if draw(st.booleans()):
        rows.append(list(rows[draw(st.integers(0, len(rows) - 1))]))
    header = MEASUREMENT_HEADER
    if draw(st.integers(0, 5)) == 0:
        header = header.replace(
            draw(st.sampled_from(header.split(","))), draw(st.text(max_size=6)).replace(",", "")
        )
    return "\n".join([header, *(",".join(row) for row in rows)]) + "\n"


@settings(BOUNDED, max_examples=_examples(80))
@given(st.one_of(measurement_tables(), st.text(max_size=300)))
def test_fuzz_measurement_csv(text: str) -> None:
    check_measurement_csv(text)


_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
_FACT_KEYS = st.sampled_from(
    [
        "primary_site",
        "ki67_pct",
        "mitoses_per_2mm2",
        "differentiation",
        "drug",
        "drug_class",
        "pituitary_adenoma",
        "size_reduction_pct",
        "unknown_key",
    ]
)
_RAW_JSON = st.sampled_from(
    [
        "[" * 5000,
        '{"ki67_pct": ' + "7" * 5000 + "}",
        '{"ki67_pct": 1e999999}',
        "NaN",
        '{"a": -Infinity}',
        "\ufeff{}",
        '{"ki67_pct": 12',
        "\x00",
        '"\\ud800"',
    ]
)


@settings(BOUNDED, max_examples=_examples(120))
@given(
    st.one_of(
        st.dictionaries(_FACT_KEYS, _JSON_VALUES, max_size=5).map(lambda v: json.dumps(v).encode()),
        _JSON_VALUES.map(lambda v: json.dumps(v).encode()),
        _RAW_JSON.map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.binary(max_size=64),
    )
)
def test_fuzz_facts_json(data: bytes) -> None:
    check_facts_json(data)


def _summary(volume: object, adc: dict[str, object]) -> bytes:
    return json.dumps({"total_diffusion_volume_ml": volume, "adc_um2_per_s": adc}).encode()


_ADC_KEYS = st.sampled_from(["mean", "median", "sd", "p95", "skewness", "kurtosis"])


@settings(BOUNDED, max_examples=_examples(150))
@given(
    st.one_of(
        st.builds(_summary, _JSON_VALUES, st.dictionaries(_ADC_KEYS, _JSON_VALUES, max_size=6)),
        st.builds(
            _summary,
            st.floats(allow_nan=False, allow_infinity=False),
            st.fixed_dictionaries(
                {
                    k: st.floats(allow_nan=False, allow_infinity=False)
                    for k in ("mean", "median", "sd", "p95", "skewness", "kurtosis")
                }
            ),
        ),
        _RAW_JSON.map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.binary(max_size=64),
    )
)
def test_fuzz_summary_json(data: bytes) -> None:
    check_summary_json(data)


# --------------------------------------------------------------------------- command line
@functools.cache
def _option_strings() -> list[str]:
    """Every option of every command (except the demo, which builds a whole patient)."""
    parser = build_parser()
    found: set[str] = set()

    def walk(node: argparse.ArgumentParser) -> None:
        for action in node._actions:
            found.update(option for option in action.option_strings if option.startswith("--"))
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    if name != "demo":
                        walk(child)

    walk(parser)
    return sorted(found - {"--help", "--version"})


def _command_paths() -> list[list[str]]:
    """Every command and sub-command (except the demo), plus an unknown one and none."""
    paths: list[list[str]] = [["bogus"], []]

    def walk(node: argparse.ArgumentParser, prefix: list[str]) -> None:
        for action in node._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, child in action.choices.items():
                    if name != "demo":
                        paths.append([*prefix, name])
                        walk(child, [*prefix, name])

    walk(build_parser(), [])
    return paths


_COMMANDS = _command_paths()
assert {path[0] for path in _COMMANDS if path} >= {
    "dwi",
    "assess",
    "measure",
    "pet",
    "dce",
    "guide",
}
_VALUES = [
    "m.csv",
    "FACTS.json",
    "img.nii.gz",
    "lab.nii.gz",
    "series",
    "exam",
    "a=exam",
    "b=exam",
    "600=img.nii.gz",
    "0=img.nii.gz",
    "out",
    "out/x.csv",
    ".",
    "..",
    "missing.nii.gz",
    "m.csv/x",
    "1",
    "0",
    "-1",
    "2",
    "1e999999",
    "nan",
    "-60,5,-615",
    "$\\frac{$",
    "=SUM(1)",
    "",
    "=",
    "x=",
    "recist1.1",
    "all",
    "percist,choi",
    "ibsi-c",
    "mr",
    "--",
    "-h",
]


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    """Tiny valid inputs in a folder two levels below a temporary root ('..' stays inside)."""
    from fuzz_targets import seed_dicom as _seed

    with tempfile.TemporaryDirectory() as root:
        folder = Path(root) / "run" / "deep"
        folder.mkdir(parents=True)
        (folder / "m.csv").write_text(
            "\n".join([MEASUREMENT_HEADER, *MEASUREMENT_ROWS]) + "\n", encoding="utf-8"
        )
        (folder / "FACTS.json").write_text(
            '{"ki67_pct": 12, "primary_site": "ileum"}', encoding="utf-8"
        )
        rng = np.random.default_rng(3)
        image = Volume(
            array=rng.random((8, 8, 8)).astype(np.float32) * 100 + 50,
            spacing_mm=(2.0, 2.0, 2.0),
            origin_mm=(0.0, 0.0, 0.0),
            direction=np.eye(3),
            unit="",
        )
        write_nifti(image, folder / "img.nii.gz")
        labels = np.zeros((8, 8, 8), dtype=np.uint8)
        labels[2:6, 2:6, 2:6] = 1
        write_nifti(image.with_array(labels), folder / "lab.nii.gz")
        (folder / "series").mkdir()
        (folder / "series" / "s.dcm").write_bytes(_seed())
        (folder / "exam").mkdir()
        adc = {
            "mean": 950.0,
            "median": 900.0,
            "sd": 120.0,
            "p95": 1300.0,
            "skewness": 0.2,
            "kurtosis": 3.1,
        }
        (folder / "exam" / "summary.json").write_text(
            json.dumps({"total_diffusion_volume_ml": 12.0, "adc_um2_per_s": adc}), encoding="utf-8"
        )
        (folder / "exam" / "histogram.csv").write_text(
            "bin_lower_um2_per_s,bin_upper_um2_per_s,voxels\n500,550,10\n", encoding="utf-8"
        )
        yield folder


@st.composite
def argv_lists(draw: st.DrawFn) -> list[str]:
    options = _option_strings()
    argv = list(draw(st.sampled_from(_COMMANDS)))
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.integers(0, 3))
        if kind == 0:
            argv.append(draw(st.sampled_from(options)))
        elif kind == 1:
            argv += [draw(st.sampled_from(options)), draw(st.sampled_from(_VALUES))]
        elif kind == 2:
            argv.append(draw(st.sampled_from(_VALUES)))
        else:
            argv.append(draw(st.text(max_size=8)))
    return argv


@settings(
    BOUNDED,
    max_examples=_examples(40),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(argv=argv_lists())
def test_fuzz_command_line(workspace: Path, argv: list[str]) -> None:
    check_argv(argv, workspace)


# --------------------------------------------------------------------------- kept crashes
def _kept() -> list[Path]:
    return sorted(
        path for path in REGRESSIONS.rglob("*") if path.is_file() and path.name != "README.md"
    )


@pytest.mark.parametrize("path", _kept(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_kept_regressions_replay(path: Path, workspace: Path) -> None:
    target = path.parent.name
    data = path.read_bytes()
    if target == "dicom":
        check_dicom_bytes(data)
    elif target == "csv":
        check_measurement_csv(data.decode("utf-8", "surrogatepass"))
    elif target == "facts":
        check_facts_json(data)
    elif target == "summary":
        check_summary_json(data)
    elif target == "argv":
        check_argv(json.loads(data), workspace)
    else:
        raise AssertionError(f"unknown regression target {target!r}")
