"""UV-seam splitting against slow, loop-based references (normals: tests/util/test_geometry.py)."""

from __future__ import annotations

import numpy as np
import pytest

from avatarforge.export.geometry import split_uv_seams


def test_split_uv_seams_makes_one_vertex_per_unique_pair() -> None:
    faces = np.array([[0, 1, 2], [2, 1, 3], [3, 1, 0]])
    uv_faces = np.array([[0, 1, 2], [2, 1, 3], [4, 1, 5]])  # v0 also has uv 5, v3 also uv 4
    split = split_uv_seams(faces, uv_faces, n_vertices=5, n_uvs=6)
    pairs = sorted({(v, t) for f, tf in zip(faces, uv_faces) for v, t in zip(f, tf)})
    assert len(split.source_vertex) == len(pairs)
    assert sorted(zip(split.source_vertex.tolist(), split.source_uv.tolist())) == pairs
    # Every corner still points at its original vertex and UV.
    np.testing.assert_array_equal(split.source_vertex[split.faces], faces)
    np.testing.assert_array_equal(split.source_uv[split.faces], uv_faces)
    assert 4 not in split.source_vertex  # unreferenced vertex has no UV: dropped


def test_split_without_uvs_is_identity() -> None:
    faces = np.array([[0, 1, 2]])
    split = split_uv_seams(faces, None, n_vertices=4)
    np.testing.assert_array_equal(split.source_vertex, np.arange(4))
    assert split.source_uv is None
    np.testing.assert_array_equal(split.faces, faces)


@pytest.mark.wrong_types  # validation of untrusted input
@pytest.mark.parametrize("bad", ["vertex", "uv", "shape"])
def test_split_rejects_bad_indices(bad: str) -> None:
    faces = np.array([[0, 1, 2]])
    uv_faces = np.array([[0, 1, 2]])
    if bad == "vertex":
        faces = np.array([[0, 1, 3]])
    elif bad == "uv":
        uv_faces = np.array([[0, 1, 3]])
    else:
        uv_faces = np.array([[0, 1, 2], [0, 1, 2]])
    with pytest.raises(ValueError):
        split_uv_seams(faces, uv_faces, n_vertices=3, n_uvs=3)
