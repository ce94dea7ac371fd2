"""The jaxtyping/beartype runtime checks (installed by conftest.py) are on in the test run."""

from __future__ import annotations

import jaxtyping
import numpy as np
import pytest

from avatarforge.util.geometry import face_normals, vertex_normals


def test_a_wrong_shape_is_refused_at_the_call():
    faces = np.array([[0, 1, 2]])
    with pytest.raises(jaxtyping.TypeCheckError):
        vertex_normals(np.zeros((3, 2)), faces)  # "V 3" vertices
    with pytest.raises(jaxtyping.TypeCheckError):
        face_normals(np.zeros((3, 3)), faces.astype(np.float64))  # Int faces


@pytest.mark.wrong_types
def test_the_wrong_types_marker_turns_them_off():
    with pytest.raises(IndexError):  # numpy's own error, past the annotations
        vertex_normals(np.zeros((3, 2)), np.array([[0, 1, 2]]))
