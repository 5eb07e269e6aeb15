"""Benchmark: all five response criteria on a synthetic cohort, against pyrecist.

Target (issue 3): 10,000 patients x 8 timepoints x 10 lesions, all five
criteria, <= 10 s on 2 cores. The peer is pyrecist (PyPI), which implements
target-only RECIST on a pandas table; it runs in the same process on the
same target diameters, by default on the full cohort (``--peer-patients``
runs it on the first N patients only; the per-patient ratio is printed too).

Run::

    /work/venv/bin/python benchmarks/bench_criteria.py [--patients 10000] [--workers 2]
        [--peer-patients 1000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time
from decimal import Decimal

import numpy as np

from tumorboard.criteria.engine import ALL_CRITERIA, assess_cohort
from tumorboard.criteria.records import (
    LIVER_REFERENCE_ID,
    LesionMeasurement,
    LesionRole,
    LesionStatus,
    PatientSeries,
    Timepoint,
)

_ORGANS = ("liver", "liver", "lung", "lung", "lymph node")


def synthetic_cohort(
    n_patients: int, n_timepoints: int, rng: np.random.Generator
) -> list[PatientSeries]:
    """Patients with 5 targets, 4 non-targets, 1 lesion new at a random follow-up.

    Every lesion row carries longest diameter, short axis, HU, viable diameter
    and SULpeak; each timepoint also has a liver-reference row.
    """
    cohort = []
    base_date = dt.date(2024, 1, 1)
    for p in range(n_patients):
        sizes = rng.uniform(12.0, 60.0, size=5)
        trend = rng.normal(0.0, 0.12)
        new_at = int(rng.integers(1, n_timepoints * 2))  # often never
        timepoints = []
        for t in range(n_timepoints):
            factor = np.exp(trend * t + rng.normal(0.0, 0.05, size=5))
            rows = []
            for k in range(5):
                node = k == 4
                d = Decimal(f"{max(sizes[k] * factor[k], 0.0):.1f}")
                rows.append(
                    LesionMeasurement(
                        lesion_id=f"T{k}",
                        organ=_ORGANS[k],
                        role=LesionRole.TARGET,
                        is_node=node,
                        status=LesionStatus.PRESENT,
                        modality="ct",
                        longest_diameter_mm=d + 5 if node else d,
                        short_axis_mm=max(d, Decimal(16)) if (node and t == 0) else d,
                        mean_hu=Decimal(f"{80 - 5 * t + rng.normal(0, 3):.1f}"),
                        viable_diameter_mm=d * Decimal("0.8"),
                        sul_peak=Decimal(
                            f"{max(6 + trend * 10 * t + rng.normal(0, 0.3), 0.5):.2f}"
                        ),
                    )
                )
            for k in range(4):
                rows.append(
                    LesionMeasurement(
                        lesion_id=f"N{k}",
                        organ="bone",
                        role=LesionRole.NON_TARGET,
                        is_node=False,
                        status=LesionStatus.PRESENT,
                        modality="ct",
                    )
                )
            if t >= new_at:
                rows.append(
                    LesionMeasurement(
                        lesion_id="X1",
                        organ="liver",
                        role=LesionRole.NEW,
                        is_node=False,
                        status=LesionStatus.PRESENT,
                        modality="ct",
                        longest_diameter_mm=Decimal(12),
                        sul_peak=Decimal(5),
                    )
                )
            rows.append(
                LesionMeasurement(
                    lesion_id=LIVER_REFERENCE_ID,
                    organ="liver",
                    role=LesionRole.NON_TARGET,
                    is_node=False,
                    status=LesionStatus.PRESENT,
                    modality="ct",
                    sul_peak=Decimal("2.0"),
                    sul_sd=Decimal("0.2"),
                )
            )
            timepoints.append(
                Timepoint(
                    label=f"tp{t}",
                    date=base_date + dt.timedelta(days=56 * t),
                    measurements=tuple(rows),
                )
            )
        cohort.append(PatientSeries(patient_id=f"P{p:05d}", timepoints=tuple(timepoints)))
    return cohort


def pyrecist_table(cohort: list[PatientSeries]):  # type: ignore[no-untyped-def]
    """The same target diameters as pyrecist's input table.

    pyrecist differences every column of a patient's table, so its patient
    ids must be numeric.
    """
    import pandas as pd

    records = []
    for series in cohort:
        for tp in series.timepoints:
            for m in tp.measurements:
                if m.role is LesionRole.TARGET:
                    value = m.short_axis_mm if m.is_node else m.longest_diameter_mm
                    records.append(
                        {
                            "patient_id": int(series.patient_id[1:]),
                            "study_date": int(tp.date.strftime("%Y%m%d")),
                            "measurement": float(value or 0),
                            "lesion_label_alias": m.lesion_id,
                            "lesion_category": "target",
                        }
                    )
    return pd.DataFrame.from_records(records)


def run_pyrecist(table):  # type: ignore[no-untyped-def]
    from pyrecist.assessment import Evaluator
    from pyrecist.data import Reader

    reader = Reader()
    reader._df = reader._check_format(table)
    return Evaluator(reader).evaluate_recist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--timepoints", type=int, default=8)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="also time this many spawned worker processes (0: skip)",
    )
    parser.add_argument("--peer-patients", type=int, default=10_000)
    args = parser.parse_args()

    rng = np.random.default_rng(20261121)
    start = time.perf_counter()
    cohort = synthetic_cohort(args.patients, args.timepoints, rng)
    build_s = time.perf_counter() - start
    rows = sum(len(tp.measurements) for s in cohort for tp in s.timepoints)
    print(
        f"cohort: {args.patients} patients x {args.timepoints} timepoints, "
        f"{rows} lesion rows (built in {build_s:.1f} s)"
    )

    start = time.perf_counter()
    results = assess_cohort(cohort, ALL_CRITERIA, workers=1)
    ours_s = time.perf_counter() - start
    assessments = sum(len(a.timepoints) for r in results for a in r)
    print(
        f"tumorboard, 5 criteria, 1 process: {ours_s:.2f} s "
        f"({assessments} timepoint assessments; target <= 10 s on 2 cores)"
    )
    if args.workers > 1:
        start = time.perf_counter()
        parallel = assess_cohort(cohort, ALL_CRITERIA, workers=args.workers)
        parallel_s = time.perf_counter() - start
        same = parallel == results
        del parallel
        print(
            f"tumorboard, 5 criteria, {args.workers} spawned workers: {parallel_s:.2f} s "
            f"(identical results: {same})"
        )

    start = time.perf_counter()
    recist_only = assess_cohort(cohort[: args.peer_patients], ["recist1.1"], workers=1)
    ours_recist_s = time.perf_counter() - start

    peer_cohort = cohort[: args.peer_patients]
    table = pyrecist_table(peer_cohort)
    start = time.perf_counter()
    peer = run_pyrecist(table)
    peer_s = time.perf_counter() - start
    print(f"pyrecist target-only RECIST, {len(peer_cohort)} patients, 1 process: {peer_s:.2f} s")
    print(
        f"tumorboard RECIST 1.1 only, same {len(peer_cohort)} patients, 1 process: "
        f"{ours_recist_s:.2f} s"
    )
    print(f"ratio pyrecist / tumorboard (RECIST only, 1 process): {peer_s / ours_recist_s:.1f}x")
    per_patient_peer = peer_s / len(peer_cohort)
    per_patient_ours = ours_s / len(cohort)
    print(
        f"ratio per patient, pyrecist (target RECIST, 1 process) / tumorboard "
        f"(all 5 criteria, 1 process): {per_patient_peer / per_patient_ours:.1f}x"
    )
    if len(peer_cohort) < len(cohort):
        print(
            f"pyrecist extrapolated to {len(cohort)} patients: "
            f"{per_patient_peer * len(cohort):.1f} s"
        )
    # agreement on the target response where both give one
    ours_changes = {
        (a.patient_id, t.date.strftime("%Y%m%d")): (
            t.change_from_nadir_pct
            if t.target_response is not None and t.target_response.value == "PD"
            else t.change_from_baseline_pct
        )
        for r in recist_only
        for a in r
        for t in a.timepoints[1:]
    }
    ours_codes = {
        (a.patient_id, t.date.strftime("%Y%m%d")): t.target_response.value
        for r in recist_only
        for a in r
        for t in a.timepoints[1:]
        if t.target_response is not None
    }
    agree = total = 0
    exact_thresholds = 0
    for row in peer.itertuples():
        code = row.classification
        if not isinstance(code, str):
            continue  # pyrecist stops (NaN) after the first PD
        key = (f"P{int(row.patient_id):05d}", row.current_date)
        if key in ours_codes:
            total += 1
            agree += ours_codes[key] == code
            if ours_codes[key] != code and key in ours_changes:
                exact_thresholds += ours_changes[key] in (Decimal(20), Decimal(-30))
    print(
        f"target-response agreement with pyrecist: {agree}/{total} timepoints "
        "(pyrecist reports nothing after its first PD; those are not compared); "
        f"{exact_thresholds} of the {total - agree} differences sit exactly on +20 % or "
        "-30 %, which pyrecist's float sums miss"
    )


if __name__ == "__main__":
    main()
