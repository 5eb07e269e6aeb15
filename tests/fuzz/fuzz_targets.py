"""Properties checked by the fuzz tests and replayed on the kept regression files.

Each ``check_*`` function feeds one input to a reader and asserts the only
acceptable outcomes: a result, or a :class:`~tumorboard.errors.TumorboardError`
(one line for the user). Any other exception is a crash. Set the environment
variable ``TUMORBOARD_FUZZ_SAVE=1`` to keep every crashing input under
``regressions/<target>/`` (named by its hash); keep the smallest ones and the
replay test runs them forever after.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, MRImageStorage

from tumorboard.errors import TumorboardError

#: The environment variable of :mod:`tumorboard.imaging.input_limits` (spelt out
#: so that the harness also runs against versions without that module).
MAX_VOXELS_VARIABLE = "TUMORBOARD_MAX_VOXELS"

REGRESSIONS = Path(__file__).resolve().parent / "regressions"
#: Voxel limit while fuzzing: mutated headers may claim anything up to it.
FUZZ_MAX_VOXELS = 1 << 16


@contextlib.contextmanager
def small_voxel_limit() -> Iterator[None]:
    """Lower the voxel limit so that no mutated header can make a reader allocate much."""
    previous = os.environ.get(MAX_VOXELS_VARIABLE)
    os.environ[MAX_VOXELS_VARIABLE] = str(FUZZ_MAX_VOXELS)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(MAX_VOXELS_VARIABLE, None)
        else:
            os.environ[MAX_VOXELS_VARIABLE] = previous


def _save_on_crash(target: str, suffix: str, data: bytes) -> None:
    if os.environ.get("TUMORBOARD_FUZZ_SAVE"):
        folder = REGRESSIONS / target
        folder.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(data).hexdigest()[:16] + suffix
        (folder / name).write_bytes(data)


# --------------------------------------------------------------------------- DICOM seeds
def seed_dicom(implicit: bool = False) -> bytes:
    """A valid 4 x 4 MR slice with a nested undefined-length sequence (for the walker)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MRImageStorage
    meta.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.8.498.77"
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MRImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "MR"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.78"
    ds.SeriesNumber = 3
    ds.InstanceNumber = 1
    inner = Dataset()
    inner.CodeValue = "T-1"
    outer = Dataset()
    outer.ConceptNameCodeSequence = DicomSequence([inner])
    ds.ReferencedImageSequence = DicomSequence([outer])
    ds.ImagePositionPatient = [0.0, 0.0, 0.0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [0.5, 0.5]
    ds.RescaleSlope = "2"
    ds.RescaleIntercept = "-1"
    ds.Rows = 4
    ds.Columns = 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 0
    ds.PixelData = np.arange(16, dtype="<u2").tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    data = buffer.getvalue()
    if not implicit:  # make the sequences undefined-length, as scanners write them
        data = _undefined_length_sequences(data)
    return data


def _undefined_length_sequences(data: bytes) -> bytes:
    """Rewrite pydicom's explicit-length sequence (0008,1140) as undefined length."""
    from pydicom import dcmread
    from pydicom.filewriter import dcmwrite

    ds = dcmread(io.BytesIO(data))
    ds["ReferencedImageSequence"].is_undefined_length = True
    for item in ds.ReferencedImageSequence:
        item.is_undefined_length_sequence_item = True
    buffer = io.BytesIO()
    dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def check_dicom_bytes(data: bytes) -> None:
    """Scan a folder holding ``data`` as one file and read its volume: result or one-line error."""
    from tumorboard.imaging.dicom_volume import read_series_volume

    with tempfile.TemporaryDirectory() as folder, small_voxel_limit():
        (Path(folder) / "slice.dcm").write_bytes(data)
        try:
            volume = read_series_volume(folder)
        except TumorboardError as error:
            assert "\n" not in str(error)
            return
        except BaseException:
            _save_on_crash("dicom", ".dcm", data)
            raise
        assert volume.array.size <= FUZZ_MAX_VOXELS
        assert np.isfinite(volume.array).all()


# --------------------------------------------------------------------------- CSV
MEASUREMENT_HEADER = (
    "patient_id,timepoint,date,modality,lesion_id,organ,role,is_node,longest_diameter_mm,"
    "short_axis_mm,mean_hu,viable_diameter_mm,sul_peak,status"
)
MEASUREMENT_ROWS = (
    "P1,baseline,2024-01-01,ct,L1,liver,target,false,40,,80,,,present",
    "P1,baseline,2024-01-01,ct,N1,lymph node,target,true,25,17,,,,present",
    "P1,week8,2024-03-01,ct,L1,liver,target,false,30,,60,,,present",
    "P1,week8,2024-03-01,ct,N1,lymph node,target,true,20,12,,,,present",
)


def check_measurement_csv(text: str) -> None:
    """Read a measurement table and run every criterion on it: result or one-line error."""
    from tumorboard.criteria.engine import assess_patient
    from tumorboard.criteria.measurements_csv import read_measurements_csv
    from tumorboard.criteria.response_table import response_rows

    data = text.encode("utf-8", "surrogatepass")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.csv"
        path.write_bytes(data)
        try:
            for series in read_measurements_csv(path):
                response_rows(assess_patient(series))
        except TumorboardError as error:
            assert "\n" not in str(error).strip()
        except BaseException:
            _save_on_crash("csv", ".csv", data)
            raise


# --------------------------------------------------------------------------- JSON
def check_facts_json(data: bytes) -> None:
    """Load a FACTS.json: facts or a one-line error."""
    from tumorboard.guide.facts import load_facts_json

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "FACTS.json"
        path.write_bytes(data)
        try:
            load_facts_json(path)
        except TumorboardError as error:
            assert "\n" not in str(error).strip()
        except BaseException:
            _save_on_crash("facts", ".json", data)
            raise


def check_summary_json(data: bytes) -> None:
    """Use a summary.json as 'dwi compare' (twice) and 'dwi assess --reference' do."""
    from tumorboard.pipeline.dwi_assess import ReferenceExam
    from tumorboard.pipeline.dwi_compare import comparison_rows, read_assessed_exam

    with tempfile.TemporaryDirectory() as folder:
        exam = Path(folder) / "exam"
        exam.mkdir()
        (exam / "summary.json").write_bytes(data)
        rows = ["bin_lower_um2_per_s,bin_upper_um2_per_s,voxels", "500,550,10"]
        (exam / "histogram.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
        try:
            try:
                ReferenceExam.from_summary_json(exam / "summary.json")
            except TumorboardError:
                pass
            assessed = read_assessed_exam("a", exam)
            comparison_rows([assessed, assessed])
        except TumorboardError as error:
            assert "\n" not in str(error).strip()
        except BaseException:
            _save_on_crash("summary", ".json", data)
            raise


# --------------------------------------------------------------------------- CLI
def check_argv(argv: Sequence[str], folder: Path) -> None:
    """Run the command line in ``folder``: exit status 0, 1 or 2, never another exception."""
    from tumorboard.cli.main import main

    previous = Path.cwd()
    os.chdir(folder)
    try:
        with (
            contextlib.redirect_stdout(io.StringIO()),
            contextlib.redirect_stderr(io.StringIO()) as err,
        ):
            try:
                code = main(list(argv))
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 2
    except BaseException:
        _save_on_crash("argv", ".json", json.dumps(list(argv)).encode("utf-8"))
        raise
    finally:
        os.chdir(previous)
    assert code in (0, 1, 2), (argv, code)
    if code == 1:
        assert "Traceback" not in err.getvalue()
