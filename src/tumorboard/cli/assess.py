"""``tumorboard assess``: response criteria and the case-report form from a measurement table.

Writes ``DIR/response.csv``, ``DIR/crf.html``, ``DIR/crf.pdf``,
``DIR/crf.json`` and ``DIR/sdtm/{tu,tr,rs}.csv``, all or nothing, one patient
at a time (:mod:`tumorboard.report.crf_stream`): 300 patients take seconds
and memory does not grow with the cohort.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from tumorboard.cli.common import add_force_and_out, paths_after_equals
from tumorboard.criteria.engine import assess_patient, parse_criteria
from tumorboard.criteria.measurements_csv import read_measurements_csv
from tumorboard.criteria.options import AssessmentOptions
from tumorboard.criteria.selection import PatientInfo, choose_criteria, patient_info_from_mapping
from tumorboard.errors import InputError
from tumorboard.outputs import check_output_path, output_directory
from tumorboard.report.crf import Disclosure, PatientCase, write_assessment_outputs
from tumorboard.report.crf_stream import pdf_patients_limit


def register(subparsers: Any) -> None:
    """Add the ``assess`` command."""
    parser = subparsers.add_parser(
        "assess",
        help="apply response criteria to a lesion measurement table and write the CRF",
        description=(
            "Apply RECIST 1.1, iRECIST, Choi, mRECIST and PERCIST to a measurement table "
            "(one row per lesion per timepoint) and write response.csv, the case-report "
            "form (HTML, PDF, JSON) and CDISC SDTM TU/TR/RS tables."
        ),
    )
    parser.add_argument(
        "measurements",
        type=Path,
        metavar="MEASUREMENTS.csv",
        help="one row per lesion per timepoint (columns: see README)",
    )
    parser.add_argument(
        "--criteria",
        help="comma-separated: recist1.1,irecist,choi,mrecist,percist "
        "(default: recommended for the drug class in --patient, else all five)",
    )
    parser.add_argument(
        "--patient",
        type=Path,
        metavar="PATIENT.json",
        help="treatment context: study_id, drug_class, drug, tumour, previous_treatments; "
        "patient_name, birth_date (identified form only)",
    )
    parser.add_argument(
        "--facts",
        type=Path,
        metavar="FACTS.json",
        help="facts of the case for the reading guide (as for 'tumorboard guide'); "
        "the guide's advice joins the case-report form",
    )
    parser.add_argument(
        "--dwi-exam",
        action="append",
        metavar="LABEL=DIR",
        help="a 'tumorboard dwi assess' output to show on the form (repeat, in time order)",
    )
    parser.add_argument(
        "--deidentify",
        action="store_true",
        help="pseudonymise patient ids (salted SHA-256) and replace dates "
        "by study days in every output",
    )
    parser.add_argument("--salt", help="secret for --deidentify pseudonyms (default: random)")
    parser.add_argument(
        "--confirm", action="store_true", help="best overall response requires confirmed CR/PR"
    )
    parser.add_argument(
        "--confirm-days",
        type=int,
        default=28,
        metavar="DAYS",
        help="minimum interval of a confirming assessment (default 28)",
    )
    parser.add_argument(
        "--sd-min-days",
        type=int,
        default=42,
        metavar="DAYS",
        help="minimum time from baseline for SD as best response (default 42)",
    )
    parser.add_argument(
        "--no-continued-pr",
        action="store_true",
        help="do not keep PR after it was reached until progression",
    )
    parser.add_argument(
        "--no-new-baseline-rule",
        action="store_true",
        help="count lesions first seen on a newly used modality as new disease",
    )
    parser.add_argument(
        "--modified-choi", action="store_true", help="Choi PR needs both size and density decrease"
    )
    parser.add_argument(
        "--choi-reference",
        choices=("nadir", "baseline"),
        default="nadir",
        help="reference of Choi progression (default: nadir)",
    )
    parser.add_argument(
        "--pdf-patients",
        type=int,
        metavar="N",
        help="print every patient's full form in crf.pdf for forms of at most N patients "
        "(default 20, or $TUMORBOARD_PDF_PATIENTS); a larger cohort's crf.pdf is its "
        "one-line-per-patient summary, the full forms being in crf.html and crf.json "
        "(about 1 s per patient in the PDF)",
    )
    add_force_and_out(parser, "output directory")
    parser.set_defaults(handler=run)


def _read_patient(path: Path) -> PatientInfo:
    if not path.is_file():
        raise InputError(f"patient {path}: file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"patient {path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InputError(f"patient {path}: expected a JSON object")
    return patient_info_from_mapping(data, source=f"patient {path}")


def run(args: argparse.Namespace) -> int:
    """Run ``tumorboard assess``."""
    inputs = [args.measurements, args.patient, args.facts, *paths_after_equals(args.dwi_exam)]
    check_output_path(args.out, args.force, inputs=inputs, directory=True)
    if args.salt and not args.deidentify:
        raise InputError("--salt is only used with --deidentify")
    pdf_patients = pdf_patients_limit(args.pdf_patients)
    info = _read_patient(args.patient) if args.patient else PatientInfo()
    guide = None
    if args.facts:
        from tumorboard.guide import load_facts_json, run_guide

        guide = run_guide(load_facts_json(args.facts)).as_dict()
    wbdwi_rows = _read_dwi_exams(args.dwi_exam) if args.dwi_exam else None
    cohort = read_measurements_csv(args.measurements)
    if args.criteria:
        try:
            criteria = parse_criteria(part for part in args.criteria.split(",") if part.strip())
        except InputError as exc:
            raise InputError(f"--criteria: {exc}") from None
    else:
        criteria = choose_criteria(cohort, info.drug_class)
    options = AssessmentOptions(
        continued_pr=not args.no_continued_pr,
        new_baseline_rule=not args.no_new_baseline_rule,
        confirmation=args.confirm,
        confirmation_interval_days=args.confirm_days,
        sd_min_days=args.sd_min_days,
        choi_modified=args.modified_choi,
        choi_pd_reference=args.choi_reference,
    )
    cases = [PatientCase(series, assess_patient(series, criteria, options)) for series in cohort]
    disclosure = Disclosure(deidentify=args.deidentify, salt=args.salt)
    with output_directory(args.out, args.force, inputs=inputs) as staging:
        write_assessment_outputs(
            staging,
            cases,
            info,
            criteria,
            disclosure,
            guide=guide,
            wbdwi_rows=wbdwi_rows,
            pdf_patients=pdf_patients,
        )
    return 0


def _read_dwi_exams(items: list[str]) -> list[dict[str, object]]:
    """Rows of the WB-DWI exams given as ``--dwi-exam LABEL=DIR``."""
    from tumorboard.pipeline.dwi_compare import comparison_rows, read_assessed_exam

    exams = []
    for item in items:
        label, sep, directory = item.partition("=")
        if not sep or not label or not directory:
            raise InputError(f"--dwi-exam {item!r}: expected LABEL=DIR")
        exams.append(read_assessed_exam(label, Path(directory)))
    if len(exams) == 1:
        summary = exams[0].summary
        return [
            {
                "exam": exams[0].label,
                "total_diffusion_volume_ml": summary["total_diffusion_volume_ml"],
                "adc_mean_um2_per_s": summary["adc_um2_per_s"]["mean"],
                "adc_median_um2_per_s": summary["adc_um2_per_s"]["median"],
                "adc_p95_um2_per_s": summary["adc_um2_per_s"]["p95"],
                "adc_kurtosis": summary["adc_um2_per_s"]["kurtosis"],
            }
        ]
    return comparison_rows(exams)
