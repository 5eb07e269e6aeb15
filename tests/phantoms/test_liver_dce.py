"""The liver DCE phantom: built on the reference anatomy, deterministic, written as DICOM."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest

from tumorboard.dce.aif import InputFunction, bolus_arrival_time
from tumorboard.dce.fit import simulate
from tumorboard.dce.signal_to_concentration import signal_to_concentration
from tumorboard.errors import InputError
from tumorboard.imaging.dicom_dynamic import read_dicom_dynamic
from tumorboard.imaging.nifti import read_nifti
from tumorboard.phantoms.liver_dce import (
    AIF_DELAY_S,
    LESIONS,
    SLAB_MARGIN_VOX,
    Visit,
    liver_dce_case,
    reference_ktrans,
    slab_grid,
    write_into_reference_patient,
)
from tumorboard.phantoms.torso import Tissue, reference_anatomy


@pytest.fixture(scope="module")
def baseline():
    return liver_dce_case("baseline")


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    reference_anatomy()  # computed once per process by the cache builder anyway
    liver_dce_case("baseline")  # warm the reference Ktrans fit
    root = tmp_path_factory.mktemp("patient")
    write_into_reference_patient(root)
    return root


def test_deterministic_and_visits_differ(baseline):
    b = liver_dce_case(Visit.BASELINE)
    c = liver_dce_case("follow-up")
    np.testing.assert_array_equal(baseline.dynamic.array, b.dynamic.array)
    np.testing.assert_array_equal(baseline.vfa.array, b.vfa.array)
    assert not np.array_equal(baseline.dynamic.array, c.dynamic.array)
    assert liver_dce_case("followup").visit is Visit.FOLLOW_UP
    assert Visit.FOLLOW_UP.folder == "followup"
    with pytest.raises(InputError, match="unknown visit"):
        liver_dce_case("later")


def test_slab_is_the_reference_liver_with_a_margin(baseline):
    anatomy = reference_anatomy()
    labels = anatomy.labels
    grid = slab_grid()
    assert grid.spacing_mm == labels.spacing_mm
    # the slab's voxels sit exactly on the whole-body grid
    index = labels.lps_to_index(np.asarray(grid.origin_mm))
    np.testing.assert_allclose(index, np.round(index), atol=1e-6)
    z0, y0, x0 = (int(v) for v in np.round(index))
    nz, ny, nx = grid.spatial_shape
    np.testing.assert_array_equal(
        grid.array, labels.array[z0 : z0 + nz, y0 : y0 + ny, x0 : x0 + nx]
    )
    # the whole liver is inside, with the margin
    liver_full = anatomy.mask(Tissue.LIVER)
    assert liver_full.sum() == (grid.array == Tissue.LIVER).sum()
    first = np.argwhere(liver_full).min(axis=0)
    assert tuple(int(v) for v in first - (z0, y0, x0)) == SLAB_MARGIN_VOX
    # the liver mask is the anatomy's liver minus the portal vein
    anatomy_liver = grid.array == Tissue.LIVER
    np.testing.assert_array_equal(baseline.liver.array, anatomy_liver & ~baseline.portal_vein.array)
    assert baseline.dynamic.same_geometry(grid) and baseline.vfa.same_geometry(grid)


def test_vessels_and_lesions(baseline):
    labels = baseline.lesions.array
    assert sorted(np.unique(labels)) == [0, 1, 2, 3, 4]
    assert np.all(baseline.liver.array[labels > 0])
    for lesion in LESIONS:
        assert (labels == lesion.label).sum() >= 40  # at least ~5 ml
    assert not np.any(baseline.liver.array & baseline.aorta.array)
    assert not np.any(baseline.portal_vein.array & baseline.aorta.array)
    assert baseline.portal_vein.array.sum() >= 30
    # the aorta runs through every slice of the slab
    assert np.all(baseline.aorta.array.sum(axis=(1, 2)) >= 1)
    assert baseline.aorta.array.sum() >= 250


def test_signal_encodes_the_lesion_concentration(baseline):
    times = baseline.dynamic.times_s
    inside = baseline.lesions.array == 1
    signal = baseline.dynamic.array[:, inside].mean(axis=1)
    conc = signal_to_concentration(
        signal, t1_s=1.1, flip_deg=baseline.flip_deg, tr_s=baseline.tr_ms / 1000, baseline_frames=5
    )
    inputs = InputFunction(times, baseline.inputs.cp_mM, baseline.inputs.cv_mM)
    truth = simulate(times, inputs, "dual-input", LESIONS[0].baseline)[0]
    assert np.max(np.abs(conc - truth)) < 0.03 * truth.max()
    assert abs(bolus_arrival_time(times, baseline.inputs.cp_mM) - AIF_DELAY_S) < 4.0


def test_responders_lose_flow_and_ktrans():
    base, follow = reference_ktrans("baseline"), reference_ktrans("follow-up")
    for lesion in LESIONS:
        flow = (
            lesion.follow_up["fp_ml_per_100ml_per_min"] < lesion.baseline["fp_ml_per_100ml_per_min"]
        )
        assert flow == lesion.responder
        assert (follow[lesion.label] < base[lesion.label]) == lesion.responder
        assert lesion.baseline["arterial_fraction"] == 1.0  # arterially fed metastases


def test_written_visits_read_back_through_the_dicom_path(written, baseline):
    root = written
    for visit in Visit:
        folder = root / "dce" / visit.folder
        names = {p.name for p in folder.iterdir()}
        assert names == {
            "dicom",
            "vfa.nii.gz",
            "liver.nii.gz",
            "aorta.nii.gz",
            "portal_vein.nii.gz",
            "lesions.nii.gz",
            "t1_ms.nii.gz",
            "truth.json",
        }
    folder = root / "dce" / "baseline"
    volume, acquisition = read_dicom_dynamic(folder / "dicom")
    assert volume.same_geometry(baseline.dynamic)
    np.testing.assert_array_equal(volume.array, baseline.dynamic.array)
    np.testing.assert_allclose(volume.times_s, baseline.dynamic.times_s, atol=1e-4)
    assert acquisition.flip_deg == baseline.flip_deg
    assert acquisition.tr_s == pytest.approx(baseline.tr_ms / 1000)
    lesions = read_nifti(folder / "lesions.nii.gz")
    np.testing.assert_array_equal(lesions.array, baseline.lesions.array)
    assert lesions.same_geometry(baseline.lesions)
    vfa = read_nifti(folder / "vfa.nii.gz")
    np.testing.assert_array_equal(vfa.array, baseline.vfa.array)


def test_dicom_frames_carry_scanner_timing(written, baseline):
    root = written
    files = sorted((root / "dce" / "followup" / "dicom").glob("*.dcm"))
    nt = baseline.dynamic.array.shape[0]
    nz = baseline.dynamic.spatial_shape[0]
    assert len(files) == nt * nz
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in files[:: nz // 3 + 1]]
    assert len({h.SeriesInstanceUID for h in headers}) == 1
    assert len({h.SOPInstanceUID for h in headers}) == len(headers)
    for header in headers:
        assert header.file_meta.MediaStorageSOPInstanceUID == header.SOPInstanceUID
        assert float(header.EchoTime) > 0 and float(header.FlipAngle) == baseline.flip_deg
        assert float(header.RepetitionTime) == baseline.tr_ms
        assert int(header.NumberOfTemporalPositions) == nt
    first, last = (pydicom.dcmread(f, stop_before_pixels=True) for f in (files[0], files[-1]))
    assert (int(first.TemporalPositionIdentifier), int(last.TemporalPositionIdentifier)) == (1, nt)
    assert last.AcquisitionTime > first.AcquisitionTime
    assert (
        first.StudyDate
        != pydicom.dcmread(
            next((root / "dce" / "baseline" / "dicom").glob("*.dcm")), stop_before_pixels=True
        ).StudyDate
    )


def test_truth_json(written):
    root = written
    for visit in Visit:
        truth = json.loads((root / "dce" / visit.folder / "truth.json").read_text())
        assert truth["visit"] == visit.value
        ktrans = reference_ktrans(visit)
        labels = read_nifti(root / "dce" / visit.folder / "lesions.nii.gz").array
        for entry, lesion in zip(truth["lesions"], LESIONS, strict=True):
            assert entry["label"] == lesion.label and entry["responder"] == lesion.responder
            assert entry["n_voxels"] == int((labels == lesion.label).sum())
            assert entry["parameters"]["ktrans_per_min"] == pytest.approx(ktrans[lesion.label])
            for name, value in lesion.parameters(visit).items():
                assert entry["parameters"][name] == value
        assert truth["acquisition"]["vfa_flip_deg"] == [2.0, 5.0, 10.0, 15.0, 20.0]
