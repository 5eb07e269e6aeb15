"""The coronal MIP is drawn as radiologists read it, whatever the array orientation."""

import numpy as np
import pytest

from tumorboard.dwi.response_classes import ResponseClass
from tumorboard.imaging.volume import Volume
from tumorboard.report.dwi_figures import class_legend_labels, coronal_mip, mip_figure

SHAPE = (12, 8, 10)  # z, y, x
SPACING = (6.0, 4.0, 3.0)


def marked_volume(direction):
    """A bright voxel at the patient's right (-x), superior (+z) corner, in LPS."""
    base = Volume(np.zeros(SHAPE, np.float32), SPACING, (0.0, 0.0, 0.0), direction)
    lps = np.array([[-1000.0, 0.0, 1000.0]])
    corners = np.array(
        [[z, y, x] for z in (0, SHAPE[0] - 1) for y in (0, SHAPE[1] - 1) for x in (0, SHAPE[2] - 1)]
    )
    positions = base.index_to_lps(corners.astype(float))
    target = corners[int(np.argmin(np.linalg.norm(positions - lps, axis=1)))]
    array = np.zeros(SHAPE, np.float32)
    array[tuple(target)] = 100.0
    classes = np.zeros(SHAPE, np.uint8)
    classes[tuple(target)] = ResponseClass.RED
    return base.with_array(array), base.with_array(classes)


@pytest.mark.parametrize(
    "direction",
    [
        np.eye(3),  # DICOM axial, head-first supine
        np.diag([-1.0, -1.0, 1.0]),  # as from a RAS-stored NIfTI
        np.diag([1.0, 1.0, -1.0]),  # slices stored feet first
    ],
)
def test_patient_right_is_viewer_left_and_head_is_up(direction):
    image, classes = marked_volume(direction)
    mip, ray_class, extent = coronal_mip(image, classes)
    rows, cols = np.nonzero(mip)
    # rows run inferior -> superior (drawn with origin="lower"), columns right -> left
    assert rows.tolist() == [SHAPE[0] - 1] and cols.tolist() == [0]
    assert ray_class is not None and ray_class[rows[0], cols[0]] == ResponseClass.RED
    assert extent == (0.0, SHAPE[2] * SPACING[2], 0.0, SHAPE[0] * SPACING[0])


def test_worst_class_wins_a_tied_ray():
    image = Volume(np.ones((3, 2, 3), np.float32), (1.0, 1.0, 1.0))
    classes = np.zeros((3, 2, 3), np.uint8)
    classes[1, 0, 1], classes[1, 1, 1] = ResponseClass.GREEN, ResponseClass.RED
    _, ray_class, _ = coronal_mip(image, image.with_array(classes))
    assert ray_class is not None and ray_class[1, 1] == ResponseClass.RED


def test_legend_names_the_class_ranges():
    labels = class_legend_labels(1040.0)
    assert labels[ResponseClass.RED] == "red: ADC < 1040"
    assert labels[ResponseClass.YELLOW] == "yellow: 1040\u20131500"
    assert labels[ResponseClass.GREEN] == "green: ADC \u2265 1500"
    assert "none" in class_legend_labels(1600.0)[ResponseClass.YELLOW]


def test_mip_figure_is_written(tmp_path):
    image, classes = marked_volume(np.eye(3))
    mip_figure(image, classes, tmp_path / "mip.png", title="Exam 1", yellow_lower_um2_per_s=900)
    assert (tmp_path / "mip.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_coronal_acquisition_is_drawn_the_same_way():
    # DICOM coronal: rows along +x (left), columns along -z (down), slices along +y
    direction = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
    image, classes = marked_volume(direction)
    mip, ray_class, extent = coronal_mip(image, classes)
    # array axes (z, y, x) = (A-P, S-I, R-L): the picture is SI rows by RL columns
    assert mip.shape == (SHAPE[1], SHAPE[2])
    rows, cols = np.nonzero(mip)
    assert rows.tolist() == [SHAPE[1] - 1] and cols.tolist() == [0]
    assert ray_class is not None and ray_class[rows[0], cols[0]] == ResponseClass.RED
    assert extent == (0.0, SHAPE[2] * SPACING[2], 0.0, SHAPE[1] * SPACING[1])
