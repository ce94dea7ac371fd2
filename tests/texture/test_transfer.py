"""Texture transfer between UV layouts: identity, shuffled charts, other triangulations,
surface embeddings, closest points; and the private fast paths against their references."""

from __future__ import annotations

import numpy as np
import pytest

from avatarforge.errors import UserInputError
from avatarforge.render import TexturedMesh, rasterize_uv, uv_sphere
from avatarforge.texture.transfer import (
    SurfaceEmbedding,
    apply_mapping,
    closest_point_mapping,
    correspondence_from_ids,
    correspondence_mapping,
    transfer_texture,
)
from avatarforge.texture.uv_geometry import bilinear_taps, closest_among, pad, sample, uv_to_texel

# Cube faces: (outward normal, u axis, v axis) with u x v = normal (counter-clockwise outside).
FRAMES = [((1, 0, 0), (0, 0, -1), (0, 1, 0)), ((-1, 0, 0), (0, 0, 1), (0, 1, 0)),
          ((0, 1, 0), (1, 0, 0), (0, 0, -1)), ((0, -1, 0), (1, 0, 0), (0, 0, 1)),
          ((0, 0, 1), (1, 0, 0), (0, 1, 0)), ((0, 0, -1), (-1, 0, 0), (0, 1, 0))]


def cube(n: int = 4, shuffle_seed: int | None = None, flip: bool = False) -> TexturedMesh:
    """The cube [-1, 1]^3, each side an n x n grid of quads and one UV chart of its own.

    Charts sit in a 3 x 2 grid of slots; ``shuffle_seed`` permutes the slots, rotates each chart
    by a multiple of 90 degrees, mirrors some and varies their sizes. ``flip`` splits the quads
    along the other diagonal. Vertices are shared between sides (welded), UVs are not.
    """
    rng = np.random.default_rng(shuffle_seed)
    slots = rng.permutation(6) if shuffle_seed is not None else np.arange(6)
    s = np.linspace(-1, 1, n + 1)
    points, uvs, quads = [], [], []
    for side, (normal, u_axis, v_axis) in enumerate(FRAMES):
        gs, gt = np.meshgrid(s, s, indexing="ij")  # (i, j) -> (u, v) grid
        points.append(np.asarray(normal) + gs[..., None] * u_axis + gt[..., None] * v_axis)
        local = np.stack([(gs + 1) / 2, (gt + 1) / 2], -1).reshape(-1, 2)
        if shuffle_seed is not None:
            k = rng.integers(4)
            c, sn = np.cos(k * np.pi / 2), np.sin(k * np.pi / 2)
            local = (local - 0.5) @ np.array([[c, -sn], [sn, c]]).T + 0.5
            if rng.random() < 0.5:
                local[:, 0] = 1 - local[:, 0]
        size = 0.26 if shuffle_seed is None else rng.uniform(0.18, 0.3)
        col, row = slots[side] % 3, slots[side] // 3
        uvs.append(np.array([col / 3 + 0.03, row / 2 + 0.1]) + size * local)
        base = side * (n + 1) ** 2
        for i in range(n):
            for j in range(n):
                a, b = base + i * (n + 1) + j, base + (i + 1) * (n + 1) + j
                c_, d = a + 1, b + 1
                quads += [[a, b, c_], [b, d, c_]] if flip else [[a, b, d], [a, d, c_]]
    pts = np.concatenate([p.reshape(-1, 3) for p in points])
    vertices, weld = np.unique(np.round(pts, 9), axis=0, return_inverse=True)
    uv_faces = np.asarray(quads, np.int64)
    return TexturedMesh(vertices, weld.ravel()[uv_faces], np.concatenate(uvs), uv_faces)


def closest_on_triangles(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reference for ``closest_among``: closest point of each ``p`` on triangle ``(a, b, c)``,
    as barycentrics and squared distance.

    Vectorised form of the Voronoi-region test of Ericson, *Real-Time Collision Detection*
    5.1.5; degenerate triangles fall back to their closest edge or vertex.
    """
    dot = lambda u, v: np.einsum("nd,nd->n", u, v)  # noqa: E731 - n: point, d: xyz
    ab, ac, ap, bp, cp = b - a, c - a, p - a, p - b, p - c
    d1, d2, d3, d4, d5, d6 = dot(ab, ap), dot(ac, ap), dot(ab, bp), dot(ac, bp), dot(ab, cp), dot(ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        v, w = vb / denom, vc / denom
        bary = np.stack([1 - v - w, v, w], -1)  # inside the face; overridden below, last wins
        t = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        regions = [
            ((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0), np.stack([0 * t, 1 - t, t], -1)),  # edge BC
            ((vb <= 0) & (d2 >= 0) & (d6 <= 0), _edge(d2 / (d2 - d6), 0, 2)),  # edge AC
            ((d6 >= 0) & (d5 <= d6), _vertex(len(p), 2)),  # vertex C
            ((vc <= 0) & (d1 >= 0) & (d3 <= 0), _edge(d1 / (d1 - d3), 0, 1)),  # edge AB
            ((d3 >= 0) & (d4 <= d3), _vertex(len(p), 1)),  # vertex B
            ((d1 <= 0) & (d2 <= 0), _vertex(len(p), 0)),  # vertex A
        ]
    for cond, value in regions:
        bary = np.where(cond[:, None], value, bary)
    bad = ~np.isfinite(bary).all(1)
    if bad.any():  # degenerate (zero-area) triangles: best of the three closed segments
        bary[bad] = _degenerate(p[bad], a[bad], b[bad], c[bad])
    q = bary[:, :1] * a + bary[:, 1:2] * b + bary[:, 2:] * c
    return bary, ((p - q) ** 2).sum(1)


def _edge(t: np.ndarray, i: int, j: int) -> np.ndarray:
    out = np.zeros((len(t), 3))
    out[:, i], out[:, j] = 1 - t, t
    return out


def _vertex(n: int, i: int) -> np.ndarray:
    out = np.zeros((n, 3))
    out[:, i] = 1
    return out


def _degenerate(p, a, b, c) -> np.ndarray:
    corners = (a, b, c)
    best, best_d = np.zeros((len(p), 3)), np.full(len(p), np.inf)
    for i, j in ((0, 1), (1, 2), (0, 2)):
        e = corners[j] - corners[i]
        t = np.clip(np.einsum("nd,nd->n", p - corners[i], e) / np.maximum((e * e).sum(1), 1e-300), 0, 1)
        d = ((corners[i] + t[:, None] * e - p) ** 2).sum(1)
        better = d < best_d
        best[better], best_d[better] = _edge(t, i, j)[better], d[better]
    return best


def pattern(p: np.ndarray) -> np.ndarray:
    """A smooth RGB function of 3D position, in [0, 1]."""
    x, y, z = p.T
    return 0.5 + 0.4 * np.sin(np.stack([1.7 * x + 0.3, 1.3 * y - 0.5 * z, 1.1 * z + x], 1))


def surface_points(mesh: TexturedMesh, size: int):
    """Covered-texel mask and the 3D point of each covered texel."""
    r = rasterize_uv(mesh.uvs, mesh.uv_faces, size)
    idx = r.covered()
    corners = mesh.vertices[mesh.faces[r.triangle_id[idx]]]  # (N, 3 corners, xyz)
    return r.mask, np.einsum("nk,nkd->nd", r.bary[idx].astype(np.float64), corners)  # n: texel, k: corner


def bake(mesh: TexturedMesh, size: int) -> np.ndarray:
    mask, p = surface_points(mesh, size)
    tex = np.zeros((size, size, 3), np.float32)
    tex[mask] = pattern(p)
    return tex


def pattern_error(result, mesh: TexturedMesh, size: int) -> np.ndarray:
    """|transferred - true pattern| at the destination's valid texels, (N, 3)."""
    mask, p = surface_points(mesh, size)
    truth = np.zeros((size, size, 3))
    truth[mask] = pattern(p)
    return np.abs(result.texture[result.valid] - truth[result.valid])


def test_identity_correspondence_reproduces_the_texture_exactly():
    mesh = cube(4)
    rng = np.random.default_rng(0)
    tex = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)  # white noise: any shift shows
    res = transfer_texture(tex, mesh, mesh, 128, correspondence=np.arange(len(mesh.vertices)))
    covered = rasterize_uv(mesh.uvs, mesh.uv_faces, 128).mask
    assert res.texture.dtype == np.uint8 and res.valid.sum() == covered.sum()
    np.testing.assert_array_equal(res.texture[res.valid], tex[res.valid])
    assert (res.filled & ~covered).sum() > 0 and not (res.valid & ~covered).any()  # padded outwards


def test_same_triangles_renumbered_map_linearly(monkeypatch):
    """Destination = the source with vertices renumbered and triangles reordered and rotated:
    every destination triangle is a source triangle, so no texel needs the projection."""
    import avatarforge.texture.transfer as transfer_module

    src = cube(4)
    rng = np.random.default_rng(4)
    q = rng.permutation(len(src.vertices))  # destination vertex i is source vertex q[i]
    order, roll = rng.permutation(len(src.faces)), rng.integers(3, size=(len(src.faces), 1))
    corner = (np.arange(3) + roll) % 3
    faces = np.take_along_axis(np.argsort(q)[src.faces[order]], corner, 1)
    dst = TexturedMesh(src.vertices[q], faces, src.uvs, np.take_along_axis(src.uv_faces[order], corner, 1))

    def no_projection(*args, **kwargs):
        raise AssertionError("the per-texel projection was used")

    monkeypatch.setattr(transfer_module, "closest_among", no_projection)
    tex = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    res = transfer_texture(tex, src, dst, 128, correspondence=q)
    assert res.valid.sum() == rasterize_uv(src.uvs, src.uv_faces, 128).mask.sum()
    np.testing.assert_array_equal(res.texture[res.valid], tex[res.valid])


def test_shuffled_rotated_charts_move_the_pattern_to_the_same_3d_points():
    src, dst = cube(6), cube(6, shuffle_seed=3)
    assert not np.allclose(src.uvs, dst.uvs)
    res = transfer_texture(bake(src, 256), src, dst, 192, correspondence=np.arange(len(dst.vertices)))
    covered = rasterize_uv(dst.uvs, dst.uv_faces, 192).mask
    assert res.valid.sum() >= 0.99 * covered.sum()
    err = pattern_error(res, dst, 192)
    assert err.mean() < 2e-3 and err.max() < 0.03  # bilinear error, larger only at chart borders


def test_other_triangulation_maps_corners_on_different_charts_per_texel():
    """The destination splits the quads along the other diagonal: its triangles are no source
    triangles and those along the cube's edges have corners whose source UVs lie on other
    charts. Interpolating per-vertex source UVs would smear whole charts across the atlas."""
    src, dst = cube(5), cube(5, shuffle_seed=1, flip=True)
    np.testing.assert_array_equal(src.vertices, dst.vertices)
    res = transfer_texture(bake(src, 256), src, dst, 192, correspondence=np.arange(len(dst.vertices)))
    err = pattern_error(res, dst, 192)
    assert res.valid.mean() > 0.3 and err.mean() < 2e-3 and err.max() < 0.03
    # The naive way (one UV per source vertex, interpolated over the destination triangle)
    # puts the texels along the cube's edges on the wrong chart or across the atlas.
    one_uv = np.zeros((len(src.vertices), 2))
    one_uv[src.faces.ravel()] = src.uvs[src.uv_faces.ravel()]
    r = rasterize_uv(dst.uvs, dst.uv_faces, 192)
    idx = r.covered()
    uv = np.einsum("nk,nkc->nc", r.bary[idx], one_uv[dst.faces[r.triangle_id[idx]]])  # n: texel, k: corner
    naive, _ = sample(bake(src, 256), *uv_to_texel(uv, (256, 256)))
    _, p = surface_points(dst, 192)
    assert np.abs(naive - pattern(p)).max() > 0.3


def test_surface_embedding_of_a_finer_mesh():
    """Destination vertices embedded in source triangles (computed by brute force)."""
    src, dst = cube(3), cube(7, shuffle_seed=5)
    corners = src.vertices[src.faces]
    n, f = len(dst.vertices), len(src.faces)
    bary, d2 = closest_on_triangles(np.repeat(dst.vertices, f, 0), *(np.tile(corners[:, k], (n, 1)) for k in range(3)))
    best = d2.reshape(n, f).argmin(1)
    emb = SurfaceEmbedding(best, bary.reshape(n, f, 3)[np.arange(n), best])
    res = apply_mapping(bake(src, 256), correspondence_mapping(src, dst, emb, 192))
    err = pattern_error(res, dst, 192)
    assert res.valid.mean() > 0.3 and err.mean() < 2e-3 and err.max() < 0.03


def test_unmatched_vertices_leave_their_triangles_empty():
    src = cube(4)
    corr = np.arange(len(src.vertices))
    corr[src.vertices[:, 0] > 0.99] = -1  # the +x side has no correspondence
    mapping = correspondence_mapping(src, src, corr, 128)
    res = apply_mapping(bake(src, 128), mapping)
    r = rasterize_uv(src.uvs, src.uv_faces, 128)
    touches = (corr[src.faces] < 0).any(1)  # triangles with an unmatched corner
    lost = r.mask & touches[r.triangle_id]
    assert lost.sum() > 0.25 * r.mask.sum()
    assert not res.valid[lost].any() and not res.filled[lost].any()  # not padded into either
    assert res.valid[r.mask & ~lost].all()


def test_closest_point_mode_on_a_perturbed_copy():
    src = cube(8)
    rng = np.random.default_rng(2)
    dst = cube(8, shuffle_seed=4)
    moved = dst.vertices * (1 + rng.uniform(-0.004, 0.004, (len(dst.vertices), 1)))  # along the normals
    dst = TexturedMesh(moved, dst.faces, dst.uvs, dst.uv_faces)
    res = transfer_texture(bake(src, 256), src, dst, 192)
    exact = transfer_texture(bake(src, 256), src, dst, 192, correspondence=np.arange(len(dst.vertices)))
    both = res.valid & exact.valid
    assert both.sum() > 0.98 * exact.valid.sum()
    diff = np.abs(res.texture[both] - exact.texture[both])
    assert diff.mean() < 5e-3 and np.quantile(diff, 0.99) < 0.03


def test_closest_point_mode_leaves_far_texels_unmapped():
    """A small sphere (source, e.g. a head) and a big cube around it (destination, a body)."""
    head = uv_sphere(12, 24, radius=0.5)
    head = TexturedMesh(head.vertices, head.faces, head.uvs, head.uv_faces)
    body = cube(4)
    assert not closest_point_mapping(head, body, 64).mapped.any()
    assert closest_point_mapping(head, body, 64, max_distance=0.9).mapped.any()


def test_closest_among_matches_the_numpy_reference_and_brute_force():
    rng = np.random.default_rng(0)
    verts = rng.normal(size=(30, 3))
    faces = rng.integers(0, 30, (40, 3))
    faces[0] = [1, 1, 2]  # zero-area triangle
    verts[5] = verts[3] + 0.5 * (verts[4] - verts[3])
    faces[1] = [3, 4, 5]  # collinear corners
    p = rng.normal(size=(500, 3)) * 1.5
    cand = np.tile(np.arange(40), (500, 1))
    cand[::7, ::3] = -1
    tri, bary, d2 = closest_among(p, cand, verts, faces)
    c = verts[faces]
    ref_b, ref_d2 = closest_on_triangles(np.repeat(p, 40, 0), *(np.tile(c[:, k], (500, 1)) for k in range(3)))
    ref_d2 = np.where(cand >= 0, ref_d2.reshape(500, 40), np.inf)
    np.testing.assert_allclose(d2, ref_d2.min(1), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bary.sum(1), 1, atol=1e-12)
    assert (bary >= -1e-12).all()
    q = np.einsum("nk,nkd->nd", bary, c[tri])  # the reported point gives the reported distance
    np.testing.assert_allclose(((q - p) ** 2).sum(1), d2, rtol=1e-9, atol=1e-12)
    # brute force: a fine barycentric grid never beats the exact distance
    g = np.stack(np.meshgrid(np.linspace(0, 1, 41), np.linspace(0, 1, 41)), -1).reshape(-1, 2)
    g = np.concatenate([g, 1 - g.sum(1, keepdims=True)], 1)
    g = g[g[:, 2] >= 0]
    for n in range(0, 500, 25):
        pts = np.einsum("gk,fkd->fgd", g, c[cand[n][cand[n] >= 0]])  # g: grid point, f: candidate
        brute = ((pts - p[n]) ** 2).sum(-1).min()
        assert d2[n] <= brute + 1e-12 and brute - d2[n] < 0.05


def test_masked_bilinear_kernel_matches_the_taps_reference():
    rng = np.random.default_rng(1)
    tex = rng.random((20, 30, 3)).astype(np.float32)
    valid = rng.random((20, 30)) > 0.3
    x, y = rng.uniform(-1.5, 30.5, 2000), rng.uniform(-1.5, 20.5, 2000)
    values, ok = sample(tex, x, y, valid)
    idx, w = bilinear_taps(x, y, valid)
    np.testing.assert_array_equal(ok, w.sum(1) > 0)
    np.testing.assert_allclose(values, np.einsum("nk,nkc->nc", w, tex.reshape(-1, 3)[idx]), atol=1e-6)
    # at texel centres it is the texel itself; between two it is their mean
    np.testing.assert_allclose(sample(tex, np.array([3.0, 3.5]), np.array([2.0, 2.0]))[0],
                               [tex[2, 3], (tex[2, 3] + tex[2, 4]) / 2], atol=1e-6)


def test_pad_grows_rings_only_into_allowed_texels():
    known = np.zeros((9, 9), bool)
    known[4, 4] = True
    allowed = np.ones((9, 9), bool)
    allowed[:, 6:] = False
    tex = np.zeros((9, 9, 1), np.float32)
    tex[4, 4] = 7
    out, filled = pad(tex, known, allowed, 2)
    assert filled[2:7, 2:6].all() and not filled[:, 6:].any() and filled.sum() == 20
    np.testing.assert_allclose(out[filled], 7)


def test_correspondence_from_ids_inverts_and_validates():
    corr = correspondence_from_ids(np.array([4, 0, 2]), 6)
    np.testing.assert_array_equal(corr, [1, -1, 2, -1, 0, -1])
    with pytest.raises(UserInputError):
        correspondence_from_ids(np.array([6]), 6)
    mesh = cube(2)
    with pytest.raises(UserInputError):
        correspondence_mapping(mesh, mesh, np.arange(3), 32)
