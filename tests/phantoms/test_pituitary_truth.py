"""The pituitary phantom writes its known misalignment with numpy; ITK must agree."""

import numpy as np

from tumorboard.pet.registration import RigidTransform
from tumorboard.phantoms import pituitary_case


def test_numpy_matrix_equals_the_itk_euler_transform():
    ours = pituitary_case.true_transform()
    itk = RigidTransform.from_euler(
        pituitary_case.TRUE_ANGLES_DEG, pituitary_case.TRUE_TRANSLATION_MM, (0.0, 0.0, 0.0)
    )
    np.testing.assert_allclose(ours, itk.matrix, atol=1e-12)
    points = np.array([[10.0, -5.0, 3.0], [-20.0, 15.0, 40.0]])
    np.testing.assert_allclose(
        pituitary_case._apply_inverse(ours, points), itk.inverse().apply(points), atol=1e-9
    )
    assert np.abs(ours[:3, 3]).max() > 0 and not np.allclose(ours[:3, :3], np.eye(3))
