"""``pet suv`` / ``pet register`` as library calls (the CLI only parses)."""

import json

import pytest

from tumorboard.errors import InputError
from tumorboard.imaging.nifti import read_nifti
from tumorboard.phantoms import pet_case
from tumorboard.pipeline.pet_suv import PetSuvRequest, compute_pet_suv, write_pet_suv


@pytest.fixture(scope="module")
def pet_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pet")
    pet_case.write_pet_case(pet_case.build_pet_case(), folder, timepoints=("fdg_baseline",))
    return folder


def test_request_refuses_an_impossible_weight(tmp_path):
    with pytest.raises(InputError, match="--weight-kg must be between 0 and 500"):
        PetSuvRequest(series_dir=tmp_path, weight_kg=900.0)


def test_compute_and_write(pet_dir, tmp_path):
    truth = json.loads((pet_dir / "truth.json").read_text())["timepoints"]["fdg_baseline"]
    request = PetSuvRequest(
        series_dir=pet_dir / "fdg_baseline",
        lesions=pet_dir / "lesions.nii.gz",
        liver=pet_dir / "liver.nii.gz",
    )
    result = compute_pet_suv(request)
    summary = result.summary
    assert summary["suvbw_scale_g_per_bq"] == pytest.approx(truth["suvbw_scale_g_per_bq"], rel=1e-6)
    assert [row["label"] for row in summary["lesions"]] == [1, 2, 3, 4, 5]
    assert result.sul is not None and "liver" in summary
    out = tmp_path / "out"
    write_pet_suv(result, out, False, inputs=request.inputs)
    assert {p.name for p in out.iterdir()} == {"suvbw.nii.gz", "sul.nii.gz", "summary.json"}
    assert read_nifti(out / "suvbw.nii.gz").same_geometry(result.suvbw)
    with pytest.raises(InputError, match="lesion labels .*x.nii.gz: file not found"):
        compute_pet_suv(
            PetSuvRequest(series_dir=pet_dir / "fdg_baseline", lesions=pet_dir / "x.nii.gz")
        )
