"""Left/right mirror: vertex map from MakeHuman's table, mirrored triangles, texel lookup."""

from __future__ import annotations

import numpy as np
import pytest

from avatarforge.errors import AvatarforgeError
from avatarforge.texture.layout import texel_layout, texel_surface, unpack
from avatarforge.texture.mirror import (
    face_mirror,
    mirror_from_table,
    sample_texels,
    texel_mirror_coords,
    vertex_mirror_map,
)


@pytest.fixture(scope="module")
def rest(body):
    out = body.forward_params({})
    return out.vertices[0].numpy().astype(np.float64), out.faces.numpy(), out.uvs.numpy(), out.uv_faces.numpy()


@pytest.fixture(scope="module")
def mirror(body):
    return vertex_mirror_map(body)


def test_vertex_mirror_is_an_involution_onto_the_reflection(rest, mirror):
    v = rest[0]
    m = mirror.vertex
    np.testing.assert_array_equal(m[m], np.arange(len(v)))
    err = np.linalg.norm(v[m] - v * [-1, 1, 1], axis=1)
    assert err.max() < 0.003  # metres
    assert mirror.from_table == len(v)  # the MakeHuman table covers every Anny vertex
    centre = m == np.arange(len(v))
    assert 50 < centre.sum() < 1000 and np.abs(v[centre, 0]).max() < 1e-4


def test_table_gaps_fall_back_to_nearest_neighbours():
    rng = np.random.default_rng(1)
    half = rng.normal(size=(40, 3)) + [2.0, 0, 0]
    v = np.concatenate([half, half * [-1, 1, 1]])
    table = np.stack([np.arange(40), np.arange(40) + 40], 1)
    table = np.concatenate([table, table[:, ::-1]])
    broken = table.copy()
    broken[3] = [3, 77]  # a wrong entry
    keep = np.ones(len(broken), bool)
    keep[[5, 45]] = False  # a missing pair
    mm = mirror_from_table(np.arange(80), broken[keep], v)
    np.testing.assert_array_equal(mm.vertex, table[np.argsort(table[:, 0]), 1])
    assert mm.from_table == 80 - 3  # vertex 3 (wrong entry), 5 and 45 (missing) by nearest neighbour
    assert mm.error_m.max() < 1e-9


def test_mirrored_triangles_exist_with_consistent_corners(rest, mirror):
    faces = rest[1]
    mf, corner = face_mirror(faces, mirror.vertex)
    np.testing.assert_array_equal(faces[mf[:, None], corner], mirror.vertex[faces])
    np.testing.assert_array_equal(mf[mf], np.arange(len(faces)))
    with pytest.raises(AvatarforgeError, match="not triangles of the mesh"):
        face_mirror(faces, np.roll(mirror.vertex, 1))


def test_texel_mirror_lands_on_the_reflected_surface_point(rest, mirror):
    v, f, uvs, uvf = rest
    lay = texel_layout(uvs, uvf, 256)
    coords = texel_mirror_coords(lay, f, uvs, uvf, mirror.vertex)
    pos = texel_surface(v, f, lay).positions
    image = unpack(pos, lay)
    at_mirror, w = sample_texels(image, coords, lay.mask.astype(np.float32))
    err = np.linalg.norm(at_mirror - pos * [-1, 1, 1], axis=1)
    ok = w > 0.99  # away from island borders, where bilinear taps leave the island
    assert ok.mean() > 0.8
    assert np.median(err[ok]) < 0.001 and np.percentile(err[ok], 95) < 0.004
    # Mirror of the mirror: back to the texel itself.
    again = texel_mirror_coords(lay, f, uvs, uvf, mirror.vertex)
    assert again is coords  # cached
    j, i = np.clip(coords.astype(int), 0, 255).T
    back = np.full(256 * 256, -1)
    back[lay.index] = np.arange(len(lay.index))
    k = back[i * 256 + j]
    found = k >= 0
    d = np.linalg.norm(coords[k[found]] - (np.stack(np.divmod(lay.index[found], 256), 1)[:, ::-1] + 0.5), axis=1)
    assert np.median(d) < 1.0
