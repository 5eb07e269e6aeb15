"""Move every rule threshold by +/-10 % and check that a targeted test fails.

mutmut 3 mutates code inside functions only, so module-level thresholds
(``CHANGE_SUL = Decimal("0.8")``) are never mutated by it. This script is the
complement: for each named constant it copies ``src/`` to a scratch
directory, rebinds the constant to 1.1 x and 0.9 x its value right after its
definition (integers move to the next integer up or down), runs the tests
that pin it, and reports whether a test failed ("killed").

Usage (from the repository root, with the test extra installed)::

    python benchmarks/threshold_moves.py            # all constants
    python benchmarks/threshold_moves.py CHANGE_SUL # one constant

The results are listed in benchmarks/README.md, "Mutation testing".
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CRITERIA_TESTS = ("tests/criteria",)
PET_TESTS = ("tests/pet/test_pet_thresholds.py", "tests/pet/test_percist_inputs.py")

#: (module file under src/tumorboard, constant, tests that must catch a move)
CONSTANTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("criteria/recist.py", "PR_DECREASE_PCT", CRITERIA_TESTS),
    ("criteria/recist.py", "PD_INCREASE_PCT", CRITERIA_TESTS),
    ("criteria/target_sums.py", "TOO_SMALL_MM", CRITERIA_TESTS),
    ("criteria/target_sums.py", "PD_MIN_INCREASE_MM", CRITERIA_TESTS),
    ("criteria/baseline_rules.py", "MAX_TARGETS", CRITERIA_TESTS),
    ("criteria/baseline_rules.py", "MAX_TARGETS_PER_ORGAN", CRITERIA_TESTS),
    ("criteria/baseline_rules.py", "MIN_MEASURABLE_MM", CRITERIA_TESTS),
    ("criteria/baseline_rules.py", "MIN_MEASURABLE_NODE_SHORT_AXIS_MM", CRITERIA_TESTS),
    ("criteria/baseline_rules.py", "NORMAL_NODE_SHORT_AXIS_MM", CRITERIA_TESTS),
    ("criteria/baseline_rules.py", "THICK_SLICE_MM", CRITERIA_TESTS),
    ("criteria/choi.py", "SIZE_CHANGE_PCT", CRITERIA_TESTS),
    ("criteria/choi.py", "DENSITY_DECREASE_PCT", CRITERIA_TESTS),
    ("criteria/percist.py", "MEASURABLE_LIVER_FACTOR", CRITERIA_TESTS),
    ("criteria/percist.py", "MEASURABLE_SD_FACTOR", CRITERIA_TESTS),
    ("criteria/percist.py", "CHANGE_PCT", CRITERIA_TESTS),
    ("criteria/percist.py", "CHANGE_SUL", CRITERIA_TESTS),
    ("criteria/percist.py", "LIVER_TOLERANCE_PCT", CRITERIA_TESTS),
    ("criteria/percist.py", "LIVER_TOLERANCE_SUL", CRITERIA_TESTS),
    ("criteria/percist.py", "TLG_INCREASE_PCT", CRITERIA_TESTS),
    ("criteria/hyperprogression.py", "RATIO_THRESHOLD", CRITERIA_TESTS),
    ("criteria/hyperprogression.py", "DELTA_TGR_THRESHOLD", CRITERIA_TESTS),
    ("criteria/hyperprogression.py", "DELTA_TGR_STRICT_THRESHOLD", CRITERIA_TESTS),
    ("criteria/pituitary.py", "SHRINKAGE_PCT", CRITERIA_TESTS),
    ("dwi/response_classes.py", "GREEN_LOWER_UM2_PER_S", ("tests/dwi/test_response_classes.py",)),
    ("pet/krenning.py", "NO_UPTAKE_TLR", PET_TESTS),
    ("pet/krenning.py", "VERY_LOW_TLR", PET_TESTS),
    ("pet/krenning.py", "SMALL_LESION_DIAMETER_MM", PET_TESTS),
    ("pet/percist_inputs.py", "LIVER_MAX_RELATIVE_CHANGE", PET_TESTS),
    ("pet/percist_inputs.py", "LIVER_MAX_ABSOLUTE_CHANGE_SUL", PET_TESTS),
    ("pet/percist_inputs.py", "UPTAKE_TIME_MAX_DIFFERENCE_S", PET_TESTS),
    ("pet/percist_inputs.py", "UPTAKE_TIME_WINDOW_S", PET_TESTS),
    ("pet/percist_inputs.py", "DOSE_MAX_RELATIVE_CHANGE", PET_TESTS),
    ("pet/decay_rules.py", "MBQ_DOSE_LIMIT", PET_TESTS),
    ("pet/decay_rules.py", "MAX_HALF_LIVES", PET_TESTS),
)

_SCALE = """

def _moved(value, factor):  # inserted by benchmarks/threshold_moves.py
    import math
    from decimal import Decimal
    if isinstance(value, tuple):
        return tuple(_moved(item, factor) for item in value)
    if isinstance(value, Decimal):
        return value * Decimal(factor)
    if isinstance(value, int):
        return math.ceil(value * float(factor)) if float(factor) > 1 else math.floor(
            value * float(factor)
        )
    return value * float(factor)


{name} = _moved({name}, "{factor}")
"""


def move(src: Path, module: str, name: str, factor: str) -> None:
    """Rebind ``name`` in ``module`` of the copied tree to ``factor`` x its value."""
    path = src / "tumorboard" / module
    text = path.read_text()
    match = re.search(rf"^{name}\b[^=\n]*=.*$", text, flags=re.M)
    if match is None:
        raise SystemExit(f"{module}: constant {name} not found")
    # the definition may continue over several lines: insert after its statement ends
    end = match.end()
    depth = text[match.start() : end].count("(") - text[match.start() : end].count(")")
    while depth > 0:
        next_end = text.index("\n", end + 1)
        chunk = text[end:next_end]
        depth += chunk.count("(") - chunk.count(")")
        end = next_end
    path.write_text(text[:end] + _SCALE.format(name=name, factor=factor) + text[end:])


def killed(module: str, name: str, factor: str, tests: tuple[str, ...]) -> bool:
    """Whether a test fails with ``name`` moved by ``factor``."""
    with tempfile.TemporaryDirectory(prefix="threshold-move-") as scratch:
        src = Path(scratch) / "src"
        shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__"))
        move(src, module, name, factor)
        env = dict(os.environ, PYTHONPATH=str(src))
        result = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        return result.returncode != 0


def main(names: list[str]) -> int:
    """Move each selected constant up and down; print one line per move."""
    survived = 0
    for module, name, tests in CONSTANTS:
        if names and name not in names:
            continue
        for factor in ("1.1", "0.9"):
            caught = killed(module, name, factor, tests)
            survived += not caught
            print(f"{module:32s} {name:36s} x{factor}: {'killed' if caught else 'SURVIVED'}")
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
