"""Move every rule threshold by +/-10 % and check that a targeted test fails.

mutmut 3 mutates code inside functions only, so module-level thresholds
(``CHANGE_SUL = Decimal("0.8")``) and the numbers of the guide's rule tables
(``guide/rules/*.json``) are never mutated by it. This script is the
complement: for each named constant it copies ``src/`` to a scratch
directory, rebinds the constant to 1.1 x and 0.9 x its value right after its
definition (integers move to the next integer up or down; a JSON rule value is
rewritten in the copied table), runs the tests that pin it, and reports
whether a test failed ("killed") and which test failed first.

Usage (from the repository root, with the test extra installed)::

    python benchmarks/threshold_moves.py              # all constants
    python benchmarks/threshold_moves.py CHANGE_SUL   # one constant
    python benchmarks/threshold_moves.py --markdown   # the table of benchmarks/README.md

The results are listed in benchmarks/README.md, "Mutation testing".
"""

from __future__ import annotations

import json
import math
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
UPTAKE_TESTS = ("tests/pet/test_sulpeak.py", "tests/pet/test_liver_reference.py")
MTV_TESTS = ("tests/pet/test_mtv.py",)
NETPET_TESTS = ("tests/pet/test_krenning_netpet.py",)
SUV_TESTS = ("tests/pet/test_suv_header.py", "tests/pet/test_pet_thresholds.py")
GUIDE_TESTS = ("tests/guide",)
#: Seconds one move may run its tests before it is reported as "timeout".
TIMEOUT_S = 900

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
    ("criteria/hyperprogression.py", "DAYS_PER_MONTH", CRITERIA_TESTS),
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
    ("pet/suv_header.py", "MAX_WEIGHT_KG", SUV_TESTS),
    ("pet/suv_scaling.py", "SLICE_MATCH_FRACTION", ("tests/pet/test_series_io.py",)),
    ("pet/uptake.py", "PEAK_SPHERE_DIAMETER_MM", UPTAKE_TESTS),
    ("pet/liver_reference.py", "LIVER_SPHERE_DIAMETER_MM", UPTAKE_TESTS),
    ("pet/liver_reference.py", "BLOOD_POOL_DIAMETER_MM", UPTAKE_TESTS),
    ("pet/liver_reference.py", "BLOOD_POOL_LENGTH_MM", UPTAKE_TESTS),
    ("pet/liver_reference.py", "LIVER_MEAN_FACTOR", UPTAKE_TESTS),
    ("pet/liver_reference.py", "BLOOD_POOL_MEAN_FACTOR", UPTAKE_TESTS),
    ("pet/liver_reference.py", "SD_FACTOR", UPTAKE_TESTS),
    ("pet/mtv.py", "FRACTION_OF_MAX", MTV_TESTS),
    ("pet/mtv.py", "FIXED_SUV_THRESHOLD", MTV_TESTS),
    ("pet/netpet.py", "FDG_POSITIVE_TLR", NETPET_TESTS),
    ("pet/netpet.py", "SIMILAR_FACTOR", NETPET_TESTS),
    ("pet/netpet.py", "P4B_MIN_LESIONS", NETPET_TESTS),
    ("guide/rules/imaging.json", "fdg_ki67_min_pct", GUIDE_TESTS),
    ("guide/rules/pituitary.json", "prolactinoma_goal_reduction_pct", GUIDE_TESTS),
    ("guide/rules/therapy.json", "debulking_min_resectable_pct", GUIDE_TESTS),
    ("guide/rules/therapy.json", "prrt_min_krenning", GUIDE_TESTS),
    ("guide/rules/therapy.json", "prrt_large_lesion_mm", GUIDE_TESTS),
    ("guide/rules/who_grade.json", "g1_ki67_below_pct", GUIDE_TESTS),
    ("guide/rules/who_grade.json", "g2_ki67_max_pct", GUIDE_TESTS),
    ("guide/rules/who_grade.json", "g1_mitoses_below", GUIDE_TESTS),
    ("guide/rules/who_grade.json", "g2_mitoses_max", GUIDE_TESTS),
)
# Not moved: pituitary.json "no_regression_max_reduction_pct" is 0 (x 1.1 = 0);
# its edge is pinned on both sides of 0 % by tests/guide/test_guide_thresholds.py.
# PEAK_SUBSAMPLES is a quadrature setting, not a rule.

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
    if module.endswith(".json"):
        _move_json(path, name, factor)
        return
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


def _move_json(path: Path, name: str, factor: str) -> None:
    """Rewrite the top-level rule value ``name`` of a copied JSON rule table."""
    table = json.loads(path.read_text(encoding="utf-8"))
    if name not in table:
        raise SystemExit(f"{path.name}: rule value {name} not found")
    value = table[name]
    if isinstance(value, int):
        up = float(factor) > 1
        table[name] = math.ceil(value * float(factor)) if up else math.floor(value * float(factor))
    else:
        table[name] = value * float(factor)
    path.write_text(json.dumps(table, indent=2), encoding="utf-8")


def killed(module: str, name: str, factor: str, tests: tuple[str, ...]) -> str | None:
    """The first test that fails with ``name`` moved by ``factor`` (None: all passed)."""
    with tempfile.TemporaryDirectory(prefix="threshold-move-") as scratch:
        src = Path(scratch) / "src"
        shutil.copytree(ROOT / "src", src, ignore=shutil.ignore_patterns("__pycache__"))
        move(src, module, name, factor)
        env = dict(os.environ, PYTHONPATH=str(src))
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
        try:
            result = subprocess.run(
                [*command, "-rfE", *tests],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=TIMEOUT_S,
            )
        except subprocess.TimeoutExpired:
            return f"timeout after {TIMEOUT_S} s"
        if result.returncode == 0:
            return None
        for line in result.stdout.splitlines():
            if line.startswith(("FAILED ", "ERROR ")):
                return line.split(" ", 1)[1].split(" - ", 1)[0]
        return f"pytest exit code {result.returncode}"


def main(argv: list[str]) -> int:
    """Move each selected constant up and down; print one line (or table row) per move."""
    markdown = "--markdown" in argv
    names = [a for a in argv if a != "--markdown"]
    survived = 0
    if markdown:
        print("| file (src/tumorboard/) | constant | move | result | first failing test |")
        print("|---|---|---|---|---|")
    for module, name, tests in CONSTANTS:
        if names and name not in names:
            continue
        for factor in ("1.1", "0.9"):
            failing = killed(module, name, factor, tests)
            survived += failing is None
            verdict = "SURVIVED" if failing is None else "killed"
            if markdown:
                print(f"| {module} | `{name}` | x{factor} | {verdict} | `{failing or ''}` |")
            else:
                print(f"{module:32s} {name:36s} x{factor}: {verdict:8s} {failing or ''}")
            sys.stdout.flush()
    return 1 if survived else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
