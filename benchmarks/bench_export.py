"""Export speed: a WB-DWI exam's SEG + Parametric Maps + SR from the record.

Writes exam 1 of the reference patient (:mod:`tumorboard.phantoms.wbdwi_case`:
4 stations x 3 b-values, the whole body at its full grid) as DICOM, imports
it into an embedded SQLite workspace and runs its WB-DWI analysis (neither
is timed). It then times, median of ``--repeats``,
:func:`tumorboard.workflow.export.export_patient` with ``what=seg,pm,sr``:
reading the source headers, the SEG of the tumour mask and its classes, the
computed-b and ADC Parametric Maps (the ADC fitted again from the series),
the TID 1500 SR and writing the files. For scale it also reports the
Secondary Capture MIP and the whole export with every type.

Contract (issue 12, "Export of a WB-DWI exam's SEG + PM + SR"): <= 5 s.
Run: ``python benchmarks/bench_export.py [--repeats 3]``; exits 1 when the
bound is missed.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tumorboard.phantoms.reference_patient import write_wbdwi_exam
from tumorboard.store import init_workspace
from tumorboard.workflow import import_paths
from tumorboard.workflow.analysis_runs import run_analyses
from tumorboard.workflow.export import export_patient

CONTRACT_S = 5.0


def _time_export(workspace: object, patient: str, scratch: Path, what: tuple[str, ...]) -> float:
    target = scratch / "out"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    start = time.perf_counter()
    summary = export_patient(workspace, patient, target, what=what)
    elapsed = time.perf_counter() - start
    if not all(kind in summary.files for kind in what):
        raise SystemExit(f"export wrote {sorted(summary.files)}, expected {list(what)}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed exports (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        scratch = Path(folder)
        start = time.perf_counter()
        write_wbdwi_exam(scratch / "exam1", 1)
        files = sum(1 for p in (scratch / "exam1").rglob("*") if p.is_file())
        workspace = init_workspace(scratch / "board")
        try:
            import_paths(workspace, [scratch / "exam1"])
            summary = run_analyses(workspace)
            if summary.failed:
                raise SystemExit(f"the WB-DWI analysis failed: {summary.failed}")
            from sqlalchemy import select

            from tumorboard.store.models import Patient

            with workspace.session() as session:
                patient = session.scalars(select(Patient.patient_key)).one()
            print(
                f"set-up (write {files} DICOM files, import, run): "
                f"{time.perf_counter() - start:.1f} s"
            )
            seg_pm_sr = [
                _time_export(workspace, patient, scratch, ("seg", "pm", "sr"))
                for _ in range(args.repeats)
            ]
            mip = _time_export(workspace, patient, scratch, ("sc",))
            every = _time_export(workspace, patient, scratch, ("seg", "pm", "sr", "sc"))
        finally:
            workspace.close()
    median = statistics.median(seg_pm_sr)
    print(
        f"export SEG + PM + SR of one WB-DWI exam: median {median:.2f} s of "
        f"{', '.join(f'{t:.2f}' for t in seg_pm_sr)} (contract <= {CONTRACT_S:.0f} s)"
    )
    print(f"secondary capture MIP alone: {mip:.2f} s; SEG + PM + SR + SC: {every:.2f} s")
    if median > CONTRACT_S:
        print("FAIL: slower than the contract")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
