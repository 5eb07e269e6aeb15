"""``tumorboard export``: a patient's results as DICOM objects, one folder per type.

From the record (never recomputing a result the record holds) this writes

* ``seg/``: per WB-DWI analysis the SEG of the tumour mask and its
  green/yellow/red classes; per PET analysis with lesions the SEG of the
  lesions, with the record's tracking UIDs;
* ``pm/``: the stored computed b image and SUVbw map, and the ADC map, which
  the WB-DWI analysis does not store: it is fitted again here from the same
  input series with the analysis's own fit (:func:`tumorboard.dwi.adc.fit_adc`,
  default settings, as ``tumorboard run``), on the same grid;
* ``sr/``: per study of an exam a TID 1500 SR of the tumour load, ADC
  statistics and class volumes (referencing the SEG segments), the PET
  lesion values and the reader's measurements of the exam;
* ``sc/``: per WB-DWI analysis the coronal MIP of ``tumorboard report``
  (:func:`tumorboard.workflow.record_report.dwi_mip_png`) as a Secondary
  Capture in the exam's study;
* ``pdf/``: the newest signed version of the case-report form
  (:func:`tumorboard.workflow.sign_off.signed_forms`) as Encapsulated PDF in
  the study of the patient's latest exam. The frozen PDF names the patient,
  so it is refused with ``deidentify``.

Without ``what`` every type is written, the PDF only once a form is signed
(and not when de-identifying); asking for ``pdf`` with no signed form is an
error.

**Versions.** An object's version is numbered from the record, so the same
record always gives the same objects: the SEG, maps and MIP of an exam (or
PET series) are version *n* when they come from the *n*-th analysis of it;
the SR of a study is version 1 plus every replacement among its inputs (an
analysis of the study replaced by a newer one, a reader's value replaced by
a different one); the PDF's version is the sign-off's. Version 1 is as an
unversioned object; a later version has new UIDs (a new series) and says
"v2, replaces v1" in its SeriesDescription, and the older version stays
where it was sent. What adds to an SR without replacing anything (a first
analysis, a newly read lesion, a lesion renamed) changes its content, so
its UIDs, without a new version number.

Only the newest finished analysis of each exam (WB-DWI) or series (PET) is
exported. File names carry no identifier or date (``exam2-wbdwi-classes.dcm``).
With ``deidentify`` the source headers go through
:meth:`tumorboard.privacy.Deidentifier.dataset` before any object is built
(patient and study attributes replaced, UIDs replaced consistently) and the
free text (exam labels, lesion names) through its text rules; give the same
salt to get the same objects again.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tumorboard.errors import InputError

__all__ = ["EXPORT_KINDS", "ExportSummary", "export_patient", "parse_what"]

#: Object types ``--what`` selects, in export order.
EXPORT_KINDS = ("seg", "pm", "sr", "sc", "pdf")


def parse_what(text: str) -> tuple[str, ...]:
    """The object types of ``--what`` (comma-separated), in export order.

    Examples
    --------
    >>> parse_what("sr,seg")
    ('seg', 'sr')
    >>> parse_what("pm , pm")
    ('pm',)
    >>> parse_what("pdf,sc,seg")
    ('seg', 'sc', 'pdf')
    """
    items = {part.strip().lower() for part in text.split(",") if part.strip()}
    if not items:
        raise InputError("--what: give at least one of " + ",".join(EXPORT_KINDS))
    unknown = sorted(items - set(EXPORT_KINDS))
    if unknown:
        raise InputError(
            f"--what: unknown object type {unknown[0][:20]!r} (choose from "
            f"{', '.join(EXPORT_KINDS)})"
        )
    return tuple(kind for kind in EXPORT_KINDS if kind in items)


@dataclass
class ExportSummary:
    """What :func:`export_patient` wrote.

    Attributes
    ----------
    files : dict of str to list of str
        Per object type, the files written (relative to the export folder).
    """

    files: dict[str, list[str]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The JSON printed by ``tumorboard export --json``."""
        return {
            "files": {kind: sorted(names) for kind, names in sorted(self.files.items())},
            "counts": {kind: len(names) for kind, names in sorted(self.files.items())},
        }


@dataclass(frozen=True)
class _SeriesInfo:
    uid: str
    kind: str
    modality: str
    study_uid: str
    tracer: str
    b_min: float
    instance_sha256: tuple[str, ...]


@dataclass(frozen=True)
class _AnalysisInfo:
    id: int
    kind: str
    exam_id: int
    key: str
    when: dt.datetime
    result: dict[str, Any]
    outputs: dict[str, str]
    series: tuple[str, ...]


@dataclass(frozen=True)
class _Record:
    patient_key: str
    patient_name: str
    exams: dict[int, tuple[dt.date, str]]
    series: dict[str, _SeriesInfo]
    analyses: list[_AnalysisInfo]
    lesions: dict[str, tuple[int, str, str | None]]  # label -> (id, tracking uid, organ)
    reads: dict[int, dict[int, dict[str, tuple[float, dt.datetime]]]]  # exam -> lesion -> values
    read_history: list[tuple[int, int, str, float, dt.datetime]]  # exam, lesion, quantity, ...
    read_modality: dict[int, str]  # exam -> modality of its reads
    lesion_labels: dict[int, str]
    study_exams: dict[str, int]


def export_patient(
    workspace: Any,
    patient_key: str,
    staging: Path,
    *,
    what: Sequence[str] | None = None,
    deidentify: bool = False,
    salt: str | None = None,
) -> ExportSummary:
    """Write a patient's DICOM objects into ``staging/seg|pm|sr|sc|pdf``.

    Parameters
    ----------
    workspace : Workspace
    patient_key : str
    staging : Path
        A staging folder of :func:`tumorboard.outputs.output_directory`.
    what : sequence of str, optional
        Object types to write (see :func:`parse_what`); default: every type
        the record has (the PDF once a form is signed, and not with ``deidentify``).
    deidentify : bool
        De-identify every object (see the module notes).
    salt : str, optional
        Salt of the de-identifier (the same salt gives the same objects).

    Returns
    -------
    ExportSummary

    Raises
    ------
    InputError
        Unknown patient, a patient with nothing to export, ``pdf`` asked for
        with no signed form or with ``deidentify``.
    """
    from tumorboard.workflow.sign_off import signed_forms

    record = _read_record(workspace, patient_key)
    if not record.analyses and not record.reads:
        raise InputError(
            "export: the patient has no analyses and no measurements (run 'tumorboard run' "
            "or 'tumorboard lesion import' first)"
        )
    forms = signed_forms(workspace, patient_key)
    if what is None:
        kinds = {k for k in EXPORT_KINDS if k != "pdf" or (forms and not deidentify)}
    else:
        kinds = set(what)
    if "pdf" in kinds and deidentify:
        raise InputError(
            "export: the signed form cannot be de-identified (its PDF is frozen as signed, "
            "with the patient's name); leave pdf out of --what"
        )
    if "pdf" in kinds and not forms:
        raise InputError(
            "export: the case-report form is not signed; sign the form first: "
            "tumorboard sign --workspace W PATIENT_ID --signer NAME"
        )
    exporter = _Exporter(workspace, record, staging, kinds, deidentify, salt)
    exporter.form = forms[-1] if forms else None
    exporter.run()
    return exporter.summary


def _read_record(workspace: Any, patient_key: str) -> _Record:
    from tumorboard.store.models import (
        Analysis,
        AnalysisInput,
        AnalysisOutput,
        Exam,
        Instance,
        Lesion,
        LesionRead,
        Measurement,
        Patient,
        Series,
        Study,
    )
    from tumorboard.workflow.lesion_reads import current_measurements

    with workspace.session() as session:
        patient = session.scalars(
            select(Patient).where(Patient.patient_key == patient_key)
        ).one_or_none()
        if patient is None:
            raise InputError(f"export: no patient with that id in workspace {workspace.root}")
        exams = {
            exam.id: (exam.exam_date, exam.label or "")
            for exam in session.scalars(select(Exam).where(Exam.patient_id == patient.id))
        }
        series: dict[str, _SeriesInfo] = {}
        study_exams: dict[str, int] = {}
        instances: dict[str, list[str]] = defaultdict(list)
        rows = session.execute(
            select(Series, Study.study_instance_uid, Study.exam_id, Instance.sha256)
            .join(Study, Study.id == Series.study_id)
            .join(Instance, Instance.series_id == Series.id)
            .where(Study.patient_id == patient.id)
        )
        meta: dict[str, tuple[Any, str]] = {}
        for row, study_uid, exam_id, sha in rows:
            instances[row.series_instance_uid].append(sha)
            meta[row.series_instance_uid] = (row, study_uid)
            if exam_id is not None:
                study_exams[study_uid] = exam_id
        for uid, (row, study_uid) in meta.items():
            series[uid] = _SeriesInfo(
                uid=uid,
                kind=row.kind,
                modality=row.modality,
                study_uid=study_uid,
                tracer=row.tracer or "",
                b_min=min(row.b_values_s_per_mm2 or [0.0]),
                instance_sha256=tuple(sorted(instances[uid])),
            )
        outputs: dict[int, dict[str, str]] = defaultdict(dict)
        inputs: dict[int, list[str]] = defaultdict(list)
        analyses = list(
            session.scalars(
                select(Analysis)
                .where(Analysis.patient_id == patient.id, Analysis.status == "done")
                .order_by(Analysis.finished_at, Analysis.id)
            )
        )
        ids = [a.id for a in analyses]
        for analysis_id, name, sha in session.execute(
            select(
                AnalysisOutput.analysis_id, AnalysisOutput.name, AnalysisOutput.object_sha256
            ).where(AnalysisOutput.analysis_id.in_(ids))
        ):
            outputs[analysis_id][name] = sha
        for analysis_id, uid in session.execute(
            select(AnalysisInput.analysis_id, AnalysisInput.series_instance_uid).where(
                AnalysisInput.analysis_id.in_(ids)
            )
        ):
            inputs[analysis_id].append(uid)
        infos = [
            _AnalysisInfo(
                id=a.id,
                kind=a.kind,
                exam_id=a.exam_id or 0,
                key=f"{a.kind}/{a.inputs_sha256}/{a.settings_sha256}",
                when=_aware(a.finished_at or a.started_at),
                result=a.result or {},
                outputs=dict(outputs[a.id]),
                series=tuple(sorted(inputs[a.id])),
            )
            for a in analyses
            if a.exam_id is not None and isinstance(a.result, dict)
        ]
        lesions = {
            lesion.label: (lesion.id, lesion.tracking_uid, lesion.organ)
            for lesion in session.scalars(select(Lesion).where(Lesion.patient_id == patient.id))
        }
        lesion_labels = {lesion_id: label for label, (lesion_id, _, _) in lesions.items()}
        reads: dict[int, dict[int, dict[str, tuple[float, dt.datetime]]]] = defaultdict(
            lambda: defaultdict(dict)
        )
        read_history: list[tuple[int, int, str, float, dt.datetime]] = []
        for measurement in session.scalars(
            select(Measurement)
            .where(Measurement.lesion_id.in_(list(lesion_labels)))
            .order_by(Measurement.created_at, Measurement.id)
        ):
            if measurement.value is None:
                continue
            read_history.append(
                (
                    measurement.exam_id,
                    measurement.lesion_id,
                    measurement.quantity,
                    float(measurement.value),
                    _aware(measurement.created_at),
                )
            )
        # the value each quantity uses is the criteria's: a reader's over run's (one rule)
        for (lesion_id, exam_id, quantity), used in current_measurements(
            session, list(lesion_labels)
        ).items():
            if used.value is not None:
                reads[exam_id][lesion_id][quantity] = (
                    float(used.value),
                    _aware(used.created_at),
                )
        read_modality = {
            exam_id: modality
            for exam_id, modality in session.execute(
                select(LesionRead.exam_id, LesionRead.modality).where(
                    LesionRead.lesion_id.in_(list(lesion_labels))
                )
            )
        }
        return _Record(
            patient_key=patient.patient_key,
            patient_name=patient.name or "",
            exams=exams,
            series=series,
            analyses=infos,
            lesions=lesions,
            reads={k: dict(v) for k, v in reads.items()},
            read_history=read_history,
            read_modality=read_modality,
            lesion_labels=lesion_labels,
            study_exams=study_exams,
        )


class _Exporter:
    """One export: headers read once, objects built in order, files written."""

    def __init__(
        self,
        workspace: Any,
        record: _Record,
        staging: Path,
        what: set[str],
        deidentify: bool,
        salt: str | None,
    ) -> None:
        self.workspace = workspace
        self.record = record
        self.staging = Path(staging)
        self.what = what
        self.summary = ExportSummary()
        self._headers: dict[str, tuple[Any, ...]] = {}
        self.deidentifier: Any = None
        self.identity: Any = None
        if deidentify:
            from tumorboard.privacy import Deidentifier, Identity

            self.deidentifier = Deidentifier(salt=salt)
            names = (record.patient_name,) if record.patient_name else ()
            self.identity = Identity(record.patient_key, names)
        exam_order = sorted(record.exams, key=lambda e: (record.exams[e][0], e))
        self.exam_number = {exam_id: n for n, exam_id in enumerate(exam_order, start=1)}
        # findings of each study: (exam id, study uid) -> findings, evidence, when
        self.findings: dict[tuple[int, str], list[Any]] = defaultdict(list)
        self.evidence: dict[tuple[int, str], dict[str, Any]] = defaultdict(dict)
        self.when: dict[tuple[int, str], dt.datetime] = {}
        self.wb_dwi_studies: set[str] = set()
        self.form: Any = None  # the newest signed form (SignedForm), if any
        # analyses of each lineage (an exam's WB-DWI, a PET series), in finishing order
        self.lineages: dict[tuple[str, Any], list[_AnalysisInfo]] = defaultdict(list)
        for analysis in record.analyses:
            lineage = self.lineage(analysis)
            if lineage is not None:
                self.lineages[lineage].append(analysis)

    # -- helpers -----------------------------------------------------------------
    def text(self, value: str) -> str:
        if self.deidentifier is None:
            return value
        return str(self.deidentifier.text(value, self.identity))

    def uid(self, value: str) -> str:
        return value if self.deidentifier is None else str(self.deidentifier.uid(value))

    @property
    def tracking_key(self) -> str:
        key = self.record.patient_key
        return key if self.deidentifier is None else str(self.deidentifier.pseudonym(key))

    def headers(self, series_uid: str) -> tuple[Any, ...]:
        """The (de-identified) headers of a series, sorted by SOPInstanceUID."""
        if series_uid not in self._headers:
            import pydicom

            from tumorboard.dicom_export.sources import headers

            info = self.record.series[series_uid]
            read = []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for sha in info.instance_sha256:
                    dataset = pydicom.dcmread(
                        self.workspace.objects.path(sha), stop_before_pixels=True
                    )
                    if self.deidentifier is not None:
                        dataset = self.deidentifier.dataset(dataset)
                    read.append(dataset)
            self._headers[series_uid] = headers(read)
        return self._headers[series_uid]

    def write(self, kind: str, dataset: Any, name: str) -> None:
        from tumorboard.dicom_export.files import FOLDERS, write_object

        if kind not in self.what:
            return
        path = write_object(dataset, self.staging / FOLDERS[kind], name)
        self.summary.files.setdefault(kind, []).append(f"{FOLDERS[kind]}/{path.name}")

    def exam_name(self, exam_id: int) -> str:
        return f"exam{self.exam_number.get(exam_id, 0)}"

    def time_point(self, exam_id: int) -> str:
        date, label = self.record.exams.get(exam_id, (None, ""))
        text = label or (date.isoformat() if date else "unknown")
        return self.text(text)

    def add(
        self,
        exam_id: int,
        study_uid: str,
        findings: Iterable[Any],
        evidence: Iterable[Any],
        when: dt.datetime,
    ) -> None:
        key = (exam_id, study_uid)
        self.findings[key].extend(findings)
        for dataset in evidence:
            self.evidence[key][str(dataset.SOPInstanceUID)] = dataset
        self.when[key] = max(self.when.get(key, when), when)

    def lineage(self, analysis: _AnalysisInfo) -> tuple[str, Any] | None:
        """What successive analyses replace each other: an exam's WB-DWI, a PET series's SUV."""
        if analysis.kind == "wbdwi":
            return ("wbdwi", analysis.exam_id)
        if analysis.kind == "pet_suv":
            pet = [u for u in analysis.series if self.record.series[u].kind == "pet"]
            return ("pet_suv", tuple(pet))
        return None

    def version(self, analysis: _AnalysisInfo) -> int:
        """The number of ``analysis`` among the analyses of its lineage (1, 2, ...)."""
        lineage = self.lineage(analysis)
        keys: list[str] = []
        for earlier in self.lineages.get(lineage, []) if lineage else []:
            if earlier.key not in keys:
                keys.append(earlier.key)
        return keys.index(analysis.key) + 1 if analysis.key in keys else 1

    # -- the export ---------------------------------------------------------------
    def run(self) -> None:
        # in finishing order: the newest of each lineage wins
        newest = {lineage: analyses[-1] for lineage, analyses in self.lineages.items()}
        with tempfile.TemporaryDirectory() as folder:
            for (kind, _), analysis in sorted(
                newest.items(), key=lambda item: (item[1].exam_id, item[0][0], item[1].id)
            ):
                if kind == "wbdwi":
                    self.export_wbdwi(analysis, Path(folder))
                else:
                    self.export_pet(analysis, Path(folder))
        self.add_reads()
        if "sr" in self.what:
            self.write_reports()
        if "pdf" in self.what and self.form is not None:
            self.export_form()

    def stored_volume(self, analysis: _AnalysisInfo, name: str, folder: Path) -> Any:
        from tumorboard.imaging.nifti import read_nifti

        sha = analysis.outputs.get(name)
        if sha is None:
            raise InputError(f"export: analysis {analysis.id} has no stored {name}")
        target = folder / f"{sha[:16]}-{name}"
        if not target.exists():
            try:
                os.link(self.workspace.objects.path(sha), target)
            except OSError:
                shutil.copyfile(self.workspace.objects.path(sha), target)
        return read_nifti(target, what=f"stored {name} of analysis {analysis.id}")

    def sources(self, series_uids: Sequence[str]) -> Any:
        from tumorboard.dicom_export.sources import SourceImages

        ordered = sorted(series_uids, key=lambda u: (self.record.series[u].b_min, u))
        primary = self.headers(ordered[0])
        further = tuple(h for uid in ordered[1:] for h in self.headers(uid))
        return SourceImages(primary, further)

    def export_wbdwi(self, analysis: _AnalysisInfo, folder: Path) -> None:
        from tumorboard.dicom_export.dwi_classes import (
            CLASS_SEGMENTS,
            TUMOUR_SEGMENT,
            wbdwi_class_segmentation,
        )
        from tumorboard.dicom_export.measurement_report import Finding, SegmentReference
        from tumorboard.dicom_export.parametric_map import QUANTITIES, parametric_map
        from tumorboard.dicom_export.uids import stable_uid
        from tumorboard.dwi.response_classes import ResponseClass

        dwi = [u for u in analysis.series if self.record.series[u].kind == "wbdwi"]
        if not dwi:
            return
        sources = self.sources(dwi)
        classes = self.stored_volume(analysis, "classes.nii.gz", folder)
        name = f"{self.exam_name(analysis.exam_id)}-wbdwi"
        version = self.version(analysis)
        seg = None
        if "seg" in self.what or "sr" in self.what:
            seg = wbdwi_class_segmentation(
                classes,
                sources,
                key=analysis.key,
                tracking_key=self.tracking_key,
                when=analysis.when,
                version=version,
            )
            self.write("seg", seg, f"{name}-classes")
        if "pm" in self.what:
            computed = self.stored_volume(analysis, "computed_b.nii.gz", folder)
            b_value = analysis.result.get("computed_b_s_per_mm2", 1000.0)
            pm = parametric_map(
                computed,
                QUANTITIES["computed_b"],
                sources,
                key=analysis.key,
                when=analysis.when,
                description=f"tumorboard computed b{float(b_value):g} image",
                version=version,
            )
            self.write("pm", pm, f"{name}-computed-b")
            adc = self.fitted_adc(analysis, dwi, classes, folder)
            pm = parametric_map(
                adc,
                QUANTITIES["adc"],
                sources,
                key=analysis.key,
                when=analysis.when,
                version=version,
            )
            self.write("pm", pm, f"{name}-adc")
        if "sc" in self.what:
            self.export_mip(analysis, sources, version, folder, f"{name}-mip")
        if seg is None:
            return
        result = analysis.result
        adc_stats = result.get("adc_um2_per_s") or {}
        values = [("total_diffusion_volume_ml", result.get("total_diffusion_volume_ml"))]
        values += [
            (f"adc_{stat}_um2_per_s", adc_stats.get(stat)) for stat in ("mean", "median", "p95")
        ]
        site = _entire_body()
        findings = [
            Finding(
                tracking_uid=stable_uid("wbdwi-tracking", self.tracking_key, "tumour"),
                tracking_id="WB-DWI tumour load",
                values=tuple((q, float(v)) for q, v in values if v is not None),
                site=site,
                segment=SegmentReference(seg, TUMOUR_SEGMENT),
            )
        ]
        volumes = result.get("classes_ml") or {}
        for response_class, (number, _, _) in CLASS_SEGMENTS.items():
            volume = volumes.get(response_class.name.lower())
            if volume is None:
                continue
            findings.append(
                Finding(
                    tracking_uid=stable_uid(
                        "wbdwi-tracking", self.tracking_key, ResponseClass(response_class).name
                    ),
                    tracking_id=f"WB-DWI {response_class.name.lower()} class",
                    values=(("volume_ml", float(volume)),),
                    site=site,
                    segment=SegmentReference(seg, number),
                )
            )
        study = str(sources.primary[0].StudyInstanceUID)
        self.wb_dwi_studies.add(study)
        self.add(analysis.exam_id, study, findings, [*sources.all, seg], analysis.when)

    def fitted_adc(
        self, analysis: _AnalysisInfo, dwi: Sequence[str], grid: Any, folder: Path
    ) -> Any:
        """The ADC map (um2/s) of the analysis's input series, fitted as the analysis did."""
        from tumorboard.dwi.adc import fit_adc
        from tumorboard.imaging.diffusion_dicom import read_diffusion_series

        target = folder / f"adc-{analysis.id}"
        for number, uid in enumerate(dwi):
            series_folder = target / f"series{number}"
            series_folder.mkdir(parents=True)
            for index, sha in enumerate(self.record.series[uid].instance_sha256):
                link = series_folder / f"{index:06d}.dcm"
                try:
                    os.link(self.workspace.objects.path(sha), link)
                except OSError:
                    shutil.copyfile(self.workspace.objects.path(sha), link)
        diffusion = read_diffusion_series(target, what=f"WB-DWI of analysis {analysis.id}")
        settings = analysis.result.get("settings") or {}
        fit = fit_adc(
            {b: image.array for b, image in diffusion.images.items()},
            min_b_s_per_mm2=float(settings.get("min_b_s_per_mm2", 0.0) or 0.0),
            weighted=bool(settings.get("weighted", False)),
        )
        first = diffusion.images[min(diffusion.images)]
        if first.spatial_shape != grid.spatial_shape or not _same_grid(first, grid):
            raise InputError(
                f"export: the WB-DWI series of analysis {analysis.id} are not on the grid of "
                "its stored class map (re-run 'tumorboard run')"
            )
        shutil.rmtree(target, ignore_errors=True)
        return grid.with_array(fit.adc_um2_per_s.astype("float32"), unit="um2/s")

    def export_pet(self, analysis: _AnalysisInfo, folder: Path) -> None:
        from tumorboard.dicom_export.measurement_report import (
            Finding,
            SegmentReference,
            finding_site,
        )
        from tumorboard.dicom_export.parametric_map import QUANTITIES, parametric_map
        from tumorboard.dicom_export.pet_lesions import PetLesion, pet_lesion_segmentation
        from tumorboard.dicom_export.uids import stable_uid

        pet = [u for u in analysis.series if self.record.series[u].kind == "pet"]
        if not pet:
            return
        sources = self.sources(pet[:1])
        name = f"{self.exam_name(analysis.exam_id)}-pet{pet[0][-6:].replace('.', '')}"
        if "pm" in self.what:
            suv = self.stored_volume(analysis, "suvbw.nii.gz", folder)
            pm = parametric_map(
                suv,
                QUANTITIES["suvbw"],
                sources,
                key=analysis.key,
                when=analysis.when,
                version=self.version(analysis),
            )
            self.write("pm", pm, f"{name}-suvbw")
        rows = [r for r in analysis.result.get("lesions") or [] if isinstance(r, dict)]
        if "lesions.nii.gz" not in analysis.outputs or not rows:
            return
        if not ({"seg", "sr"} & self.what):
            return
        labels = self.stored_volume(analysis, "lesions.nii.gz", folder)
        lesions = []
        for row in sorted(rows, key=lambda r: int(r["label"])):
            lesion_name = str(row.get("name") or row["label"])
            tracked = self.record.lesions.get(lesion_name)
            uid = tracked[1] if tracked else stable_uid("pet-lesion", analysis.key, lesion_name)
            lesions.append(PetLesion(int(row["label"]), self.text(lesion_name), self.uid(uid)))
        seg = pet_lesion_segmentation(
            labels,
            lesions,
            sources,
            key=analysis.key,
            when=analysis.when,
            version=self.version(analysis),
        )
        self.write("seg", seg, f"{name}-lesions")
        findings = []
        quantities = {
            "suvbw_max": "suv_max",
            "suvbw_mean": "suv_mean",
            "suvbw_peak": "suv_peak",
            "sul_peak": "sul_peak",
            "mtv_ml": "mtv_ml",
            "tlg": "tlg_g",
            "volume_ml": "volume_ml",
        }
        for number, (row, lesion) in enumerate(
            zip(sorted(rows, key=lambda r: int(r["label"])), lesions, strict=True), start=1
        ):
            tracked = self.record.lesions.get(str(row.get("name") or row["label"]))
            values = tuple(
                (quantity, float(row[column]))
                for column, quantity in quantities.items()
                if isinstance(row.get(column), int | float)
            )
            findings.append(
                Finding(
                    tracking_uid=lesion.tracking_uid,
                    tracking_id=lesion.name,
                    values=values,
                    site=finding_site(tracked[2]) if tracked else None,
                    segment=SegmentReference(seg, number),
                )
            )
        study = str(sources.primary[0].StudyInstanceUID)
        self.add(analysis.exam_id, study, findings, [*sources.all, seg], analysis.when)

    def add_reads(self) -> None:
        """The reader's measurements of each exam, into the exam's study of their modality."""
        from tumorboard.dicom_export.measurement_report import MEASUREMENTS, Finding, finding_site

        if "sr" not in self.what:
            return
        for exam_id, by_lesion in sorted(self.record.reads.items()):
            study = self.read_study(exam_id)
            if study is None:
                continue  # measurements without images: nothing to attach a DICOM SR to
            findings = []
            latest = None
            for lesion_id, values in sorted(by_lesion.items()):
                label = self.record.lesion_labels[lesion_id]
                _, tracking_uid, organ = self.record.lesions[label]
                kept = tuple(
                    (quantity, value)
                    for quantity, (value, _) in sorted(values.items())
                    if quantity in MEASUREMENTS
                )
                if not kept:
                    continue
                latest = max(
                    [latest or dt.datetime.min.replace(tzinfo=dt.UTC)]
                    + [when for _, when in values.values()]
                )
                findings.append(
                    Finding(
                        tracking_uid=self.uid(tracking_uid),
                        tracking_id=self.text(label),
                        values=kept,
                        site=finding_site(organ),
                    )
                )
            if findings and latest is not None:
                images = self.study_images(study)
                self.add(exam_id, self.uid(study), findings, images, latest)

    def read_study(self, exam_id: int) -> str | None:
        """The study of an exam whose modality matches its reads (else its first study)."""
        studies = sorted({s for s, e in self.record.study_exams.items() if e == exam_id})
        if not studies:
            return None
        wanted = {"ct": "CT", "mr": "MR", "mri": "MR", "pet": "PT", "pt": "PT"}.get(
            self.record.read_modality.get(exam_id, "").lower()
        )
        for study in studies:
            if any(
                s.modality == wanted and s.study_uid == study for s in self.record.series.values()
            ):
                return study
        return studies[0]

    def study_images(self, study_uid: str) -> list[Any]:
        """Every image of a study's image series (the evidence of the reader's values)."""
        images: list[Any] = []
        for uid, info in sorted(self.record.series.items()):
            if info.study_uid == study_uid and info.modality in ("MR", "CT", "PT"):
                images.extend(self.headers(uid))
        return images

    def write_reports(self) -> None:
        from tumorboard.dicom_export.measurement_report import (
            build_measurement_report,
            procedure_codes,
        )

        for exam_id, study in sorted(self.findings):
            key = (exam_id, study)
            evidence = list(self.evidence[key].values())
            if not evidence:
                continue
            original_study = self.original_study(study)
            modalities = sorted(
                {
                    info.modality
                    for info in self.record.series.values()
                    if info.study_uid == original_study and info.modality in ("MR", "CT", "PT")
                }
            )
            fdg = any(
                "FDG" in info.tracer.upper() or "FLUORODEOXY" in info.tracer.upper()
                for info in self.record.series.values()
                if info.study_uid == original_study
            )
            sr = build_measurement_report(
                self.findings[key],
                sorted(evidence, key=lambda d: str(d.SOPInstanceUID)),
                procedure_codes(
                    modalities or ["MR"], whole_body_dwi=study in self.wb_dwi_studies, fdg=fdg
                ),
                time_point=self.time_point(exam_id),
                key=f"sr/{study}",
                when=self.when[key],
                version=self.report_version(exam_id, original_study),
            )
            modality = (modalities[0] if modalities else "study").lower()
            self.write("sr", sr, f"{self.exam_name(exam_id)}-{modality}-measurements")

    def report_version(self, exam_id: int, study: str) -> int:
        """The SR's version: 1 plus every replacement among its inputs (see the module notes).

        The inputs are the newest analysis of each lineage whose images are in
        the study (an analysis that is version *n* of its lineage replaced
        *n - 1* others) and, when the exam's reads are reported in the study,
        the reader's values (each recorded value that differs from the one
        before it for the same lesion and quantity replaced it).
        """
        from tumorboard.dicom_export.measurement_report import MEASUREMENTS

        version = 1
        for analyses in self.lineages.values():
            newest = analyses[-1]
            if newest.exam_id == exam_id and any(
                self.record.series[u].study_uid == study
                for u in newest.series
                if self.record.series[u].kind in ("wbdwi", "pet")
            ):
                version += self.version(newest) - 1
        if exam_id in self.record.reads and self.read_study(exam_id) == study:
            last: dict[tuple[int, str], float] = {}
            for exam, lesion, quantity, value, _ in self.record.read_history:
                if exam != exam_id or quantity not in MEASUREMENTS:
                    continue
                if (lesion, quantity) in last and last[(lesion, quantity)] != value:
                    version += 1
                last[(lesion, quantity)] = value
        return version

    def export_mip(
        self, analysis: _AnalysisInfo, sources: Any, version: int, folder: Path, name: str
    ) -> None:
        """The exam's coronal MIP, drawn as for ``tumorboard report``, as a Secondary Capture."""
        import numpy as np
        from PIL import Image

        from tumorboard.dicom_export.secondary_capture import secondary_capture
        from tumorboard.workflow.record_report import dwi_mip_png

        summary: dict[str, Any] = analysis.result
        if self.deidentifier is not None:  # the same scrub as the report's figure text
            summary = self.deidentifier.record(summary, self.identity)
        png = folder / f"mip-{analysis.id}.png"
        if not dwi_mip_png(self.workspace, summary, analysis.outputs, png):
            return
        with Image.open(png) as picture:
            rgb = np.asarray(picture.convert("RGB"), dtype=np.uint8)
        sc = secondary_capture(
            rgb,
            sources.all,
            key=analysis.key,
            when=analysis.when,
            description="tumorboard WB-DWI coronal MIP with ADC classes",
            burned_in_annotation=self.deidentifier is None,
            version=version,
        )
        self.write("sc", sc, name)

    def export_form(self) -> None:
        """The newest signed form as Encapsulated PDF, in the study of the latest exam."""
        from tumorboard.dicom_export.encapsulated_pdf import encapsulated_pdf

        form = self.form
        series = self.form_series()
        if series is None:
            raise InputError(
                "export: the patient has no imported images, so the signed form has no study "
                "to go into"
            )
        pdf = Path(self.workspace.objects.path(form.pdf_object_sha256)).read_bytes()
        document = encapsulated_pdf(
            pdf,
            self.headers(series)[0],
            title="tumorboard case report form (signed)",
            when=_aware(form.signed_at),
            version=int(form.version),
        )
        self.write("pdf", document, "case-report-form")

    def form_series(self) -> str | None:
        """A series of the latest exam's study (the WB-DWI one when there is one)."""
        exams = sorted(
            {e for e in self.record.study_exams.values()},
            key=lambda e: (self.record.exams.get(e, (dt.date.min, ""))[0], e),
        )
        if not exams:
            return None
        studies = {s for s, e in self.record.study_exams.items() if e == exams[-1]}
        candidates = sorted(
            (
                (info.kind != "wbdwi", info.modality not in ("MR", "CT", "PT"), uid)
                for uid, info in self.record.series.items()
                if info.study_uid in studies and info.instance_sha256
            )
        )
        return candidates[0][2] if candidates else None

    def original_study(self, study: str) -> str:
        """The record's StudyInstanceUID of a (possibly de-identified) study UID."""
        if self.deidentifier is None:
            return study
        for info in self.record.series.values():
            if self.uid(info.study_uid) == study:
                return info.study_uid
        return study


def _entire_body() -> Any:
    from tumorboard.dicom_export.measurement_report import finding_site

    return finding_site("entire body")


def _aware(when: dt.datetime) -> dt.datetime:
    """In UTC (SQLite gives naive UTC times, PostgreSQL aware ones in its own zone)."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)
    return aware.astimezone(dt.UTC)


def _same_grid(a: Any, b: Any) -> bool:
    import numpy as np

    return bool(np.allclose(a.affine_lps, b.affine_lps, atol=1e-3))
