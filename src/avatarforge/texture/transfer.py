"""Move a texture from one UV layout (mesh A, the source) to another (mesh B, the destination).

Per texel of B's atlas: its point on B (:func:`~avatarforge.render.rasterize_uv`) -> the
corresponding point on A (triangle + barycentrics) -> A's UV there, from that triangle's own UV
corners (never interpolated across A's seams) -> a bilinear sample over A's covered texels.

* :func:`correspondence_mapping`: B vertex -> A vertex, or B vertex -> A surface point. A B
  triangle whose corners lie on one A triangle maps linearly; otherwise (corners on different
  A triangles or charts) each texel's point ``sum_k b_k X_k`` is projected onto the A triangles
  around the corners' images.
* :func:`closest_point_mapping`: aligned surfaces, no correspondence: the closest point on A
  (KD-tree over triangle centroids, exact point-triangle distance to the ``k`` nearest).

A :class:`UVMapping` depends on the meshes and B's texture size only: cache it and call
:func:`apply_mapping` per texture (the warm path).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from jaxtyping import Bool, Float, Int, Real
from scipy.spatial import cKDTree

from avatarforge.errors import UserInputError
from avatarforge.render.primitives import TexturedMesh
from avatarforge.render.uv import rasterize_uv
from avatarforge.texture.uv_geometry import as_array, closest_among, interp, pad, sample, uv_to_texel
from avatarforge.util.geometry import face_normals

__all__ = [
    "SurfaceEmbedding", "UVMapping", "TransferResult", "correspondence_from_ids",
    "correspondence_mapping", "closest_point_mapping", "apply_mapping", "transfer_texture",
]


@dataclass
class SurfaceEmbedding:
    """Points on a mesh's surface, one per destination vertex."""

    triangles: Int[np.ndarray, " N"]
    """int64 triangle of the source mesh; -1: this vertex has no corresponding point."""
    bary: Float[np.ndarray, "N 3"]
    """float64 barycentrics w.r.t. ``faces[triangles[n], 0..2]``."""


@dataclass
class UVMapping:
    """Where each texel of the destination atlas reads the source texture."""

    texels: Int[np.ndarray, " N"]
    """Flat (row-major) indices of the destination texels with a corresponding source point."""
    src_uv: Float[np.ndarray, "N 2"]
    """float64 source UV of each of them (OBJ convention)."""
    covered: Bool[np.ndarray, "H W"]
    """Destination texels inside a triangle of the destination UV layout."""
    src_uvs: Float[np.ndarray, "T 2"]
    """The source UV layout, to know which source texels hold colour."""
    src_uv_faces: Int[np.ndarray, "F 3"]
    """Index buffer of ``src_uvs``."""
    _cache: dict = field(default_factory=dict, repr=False)

    @property
    def mapped(self) -> Bool[np.ndarray, "H W"]:
        """Destination texels with a corresponding source point."""
        out = np.zeros(self.covered.shape, bool)
        out.ravel()[self.texels] = True
        return out


@dataclass
class TransferResult:
    """A texture in the destination layout."""

    texture: Real[np.ndarray, "H W *C"]
    """The transferred texture, dtype (and channels) of the source texture; 0 outside ``filled``."""
    valid: Bool[np.ndarray, "H W"]
    """Texels whose colour was read from the source."""
    filled: Bool[np.ndarray, "H W"]
    """``valid`` plus the texels padded into empty atlas space around it."""


def _mesh(m: TexturedMesh, what: str) -> tuple[np.ndarray, ...]:
    v, f = as_array(m.vertices, np.float64).reshape(-1, 3), as_array(m.faces, np.int64)
    uv, uf = as_array(m.uvs, np.float64), as_array(m.uv_faces, np.int64)
    if f.shape != uf.shape or f.ndim != 2 or f.shape[1] != 3:
        raise UserInputError(f"{what}: faces {f.shape} and uv_faces {uf.shape} must both be (F, 3)")
    return v, f, uv, uf


def correspondence_from_ids(ids_in_dst: Int[np.ndarray, " Na"], n_dst: int) -> Int[np.ndarray, " Nb"]:
    """Invert a source -> destination vertex-id list (e.g. ``SMPL-X__FLAME_vertex_ids.npy``: the
    SMPL-X vertex of each FLAME vertex) into the destination -> source correspondence this module
    takes (-1 for destination vertices without a source vertex)."""
    ids = as_array(ids_in_dst, np.int64)
    if ids.ndim != 1 or (ids.size and (ids.min() < 0 or ids.max() >= n_dst)):
        raise UserInputError(f"vertex ids must be a 1-D list of destination vertices in [0, {n_dst})")
    corr = np.full(n_dst, -1, np.int64)
    corr[ids] = np.arange(len(ids))
    return corr


def _as_embedding(corr, f_src: np.ndarray, n_dst: int, n_src: int) -> SurfaceEmbedding:
    """A vertex correspondence as an embedding: any triangle around the vertex, one-hot bary."""
    if isinstance(corr, SurfaceEmbedding):
        emb = SurfaceEmbedding(as_array(corr.triangles, np.int64), as_array(corr.bary, np.float64))
        if emb.triangles.shape != (n_dst,) or emb.bary.shape != (n_dst, 3) or emb.triangles.max() >= len(f_src):
            raise UserInputError(f"the embedding needs a source triangle and 3 barycentrics for each of the "
                                 f"{n_dst} destination vertices")
        return emb
    ids = as_array(corr, np.int64)
    if ids.shape != (n_dst,) or (ids.size and ids.max() >= n_src):
        raise UserInputError(f"the correspondence must list a source vertex (< {n_src}) or -1 for each of the "
                             f"{n_dst} destination vertices, got shape {ids.shape}")
    face_of = np.full(n_src, -1, np.int64)
    corner_of = np.zeros(n_src, np.int64)
    for k in range(3):  # some face around each source vertex and the vertex's corner in it
        face_of[f_src[:, k]], corner_of[f_src[:, k]] = np.arange(len(f_src)), k
    tri = np.where(ids >= 0, face_of[np.maximum(ids, 0)], -1)
    bary = np.zeros((n_dst, 3))
    bary[np.arange(n_dst), corner_of[np.maximum(ids, 0)]] = 1.0
    return SurfaceEmbedding(tri, bary)


def _common_faces(tri: np.ndarray, bary: np.ndarray, f_src: np.ndarray):
    """Per destination triangle, a source face holding all three corner images, or -1.

    ``tri`` (F, 3): each corner's source triangle; ``bary`` (F, 3, 3). Returns the face (F,) and
    the corners' barycentrics in it (F, 3, 3). Candidates: the corners' own triangles and the
    face through the three vertices nearest to the images (a vertex correspondence's case).
    """
    verts = f_src[tri]  # (F, corner, source corner) vertex ids
    support = bary > 1e-9
    nearest = np.take_along_axis(verts, bary.argmax(2)[..., None], 2)[..., 0]  # (F, 3)
    n = int(f_src.max()) + 1
    keys_src, keys = _face_keys(f_src, n), _face_keys(nearest, n)
    order = np.argsort(keys_src)
    pos = np.clip(np.searchsorted(keys_src[order], keys), 0, len(order) - 1)
    looked = np.where(keys_src[order][pos] == keys, order[pos], -1)
    face, out = np.full(len(tri), -1), np.zeros_like(bary)
    for cand in (looked, tri[:, 0], tri[:, 1], tri[:, 2]):
        cv = f_src[np.maximum(cand, 0)]  # (F, 3) candidate's vertices
        eq = verts[..., None] == cv[:, None, None, :]  # (F, corner, source corner, candidate corner)
        fits = (cand >= 0) & (eq.any(3) | ~support).all((1, 2)) & (face < 0)
        # barycentric of corner k at candidate corner m: its weights on the vertex there
        b = np.einsum("fkj,fkjm->fkm", bary, eq.astype(np.float64))  # f: dst tri, k: corner, j/m: src corners
        face, out = np.where(fits, cand, face), np.where(fits[:, None, None], b, out)
    return face, out


def _face_keys(f: np.ndarray, n: int) -> np.ndarray:
    """One int64 per triangle, the same for any order of its ``n``-bounded vertex ids."""
    s = np.sort(f, axis=1).astype(np.int64)
    return (s[:, 0] * n + s[:, 1]) * n + s[:, 2]


def _texels(uv: np.ndarray, uf: np.ndarray, size) -> tuple:
    """Destination raster, covered-texel indices, their triangles and barycentrics."""
    r = rasterize_uv(uv, uf, size)
    idx = r.covered()
    return r, idx, r.triangle_id[idx], r.bary[idx]


def _mapping(r, idx, src_uv_n, ok, uv_src, uf_src) -> UVMapping:
    flat = np.ravel_multi_index(idx, r.shape)
    return UVMapping(flat[ok], src_uv_n[ok], r.mask, uv_src, uf_src)


def correspondence_mapping(src: TexturedMesh, dst: TexturedMesh,
                           correspondence: Int[np.ndarray, " Vb"] | SurfaceEmbedding,
                           size: int | tuple[int, int]) -> UVMapping:
    """Map the destination atlas (``size``) onto the source UVs through a correspondence.

    ``correspondence``: per destination vertex, the source vertex id (-1: none; see
    :func:`correspondence_from_ids`) or a :class:`SurfaceEmbedding` on the source surface.
    Destination triangles with an unmatched corner stay unmapped.
    """
    v_src, f_src, uv_src, uf_src = _mesh(src, "source mesh")
    v_dst, f_dst, uv_dst, uf_dst = _mesh(dst, "destination mesh")
    emb = _as_embedding(correspondence, f_src, len(v_dst), len(v_src))
    ctri, cbary = emb.triangles[f_dst], emb.bary[f_dst]  # (Fb, corner) and (Fb, corner, 3)
    whole = (ctri >= 0).all(1)
    face, fbary = _common_faces(np.maximum(ctri, 0), cbary, f_src)
    face = np.where(whole, face, -1)
    # Destination corner k -> source UV, through the common face's own UV corners (linear map).
    corner_uv = np.einsum("fkm,fmc->fkc", fbary, uv_src[uf_src[np.maximum(face, 0)]])  # m: src corner
    r, idx, tri, bary = _texels(uv_dst, uf_dst, size)
    out_uv = interp(corner_uv, tri, bary)
    ok = face[tri] >= 0
    hard = whole[tri] & ~ok  # corners' images on different source faces: project per texel
    if hard.any():
        pts = np.einsum("fkj,fkjd->fkd", cbary, v_src[f_src[np.maximum(ctri, 0)]])  # corner images
        p = interp(pts, tri[hard], bary[hard])
        ring_of, which = np.unique(tri[hard], return_inverse=True)
        cand = _ring_faces(f_src, ctri[ring_of], cbary[ring_of], len(v_src))[which]
        t_src, b_src, _ = closest_among(p, cand, v_src, f_src)
        out_uv[hard] = interp(uv_src[uf_src], t_src, b_src)
        ok[np.flatnonzero(hard)[t_src >= 0]] = True
    return _mapping(r, idx, out_uv, ok, uv_src, uf_src)


def _ring_faces(f_src, ctri, cbary, n_src) -> np.ndarray:
    """Per destination triangle: its corners' source triangles and the faces around the source
    vertices nearest to its corners (padded with -1)."""
    inc = np.argsort(f_src.ravel(), kind="stable") // 3  # faces grouped by vertex
    start = np.searchsorted(np.sort(f_src.ravel()), np.arange(n_src + 1))
    valence = int(np.diff(start).max())
    table = np.full((n_src, valence), -1)
    vert = np.repeat(np.arange(n_src), np.diff(start))
    table[vert, np.arange(len(inc)) - start[vert]] = inc
    nearest = np.take_along_axis(f_src[ctri], cbary.argmax(2)[..., None], 2)[..., 0]  # (Fb, 3)
    return np.concatenate([table[nearest].reshape(len(ctri), -1), ctri], axis=1)


def closest_point_mapping(src: TexturedMesh, dst: TexturedMesh, size: int | tuple[int, int],
                          max_distance: float | None = None, k: int = 8, respect_normals: bool = True) -> UVMapping:
    """Map the destination atlas onto the source UVs by closest points of the aligned surfaces.

    ``max_distance`` (metres; default 2% of the source's bounding-box diagonal): texels whose
    point is farther from the source stay unmapped (e.g. the body away from a head mesh).
    ``k`` nearest triangle centroids are tested exactly; the true closest triangle can be missed
    only when a large triangle's centroid is far from its closest point. ``respect_normals``
    prefers triangles facing the same way as the destination surface (thin lips, eyelids).
    """
    v_src, f_src, uv_src, uf_src = _mesh(src, "source mesh")
    v_dst, f_dst, uv_dst, uf_dst = _mesh(dst, "destination mesh")
    if max_distance is None:
        max_distance = 0.02 * float(np.linalg.norm(v_src.max(0) - v_src.min(0)))
    r, idx, tri, bary = _texels(uv_dst, uf_dst, size)
    p = interp(v_dst[f_dst], tri, bary)
    corners = v_src[f_src]
    centroid = corners.mean(1)
    reach = float(np.sqrt(((corners - centroid[:, None]) ** 2).sum(2)).max())
    k = min(k, len(f_src))
    _, cand = cKDTree(centroid).query(p, k=k, distance_upper_bound=max_distance + reach, workers=-1)
    cand = np.where(cand < len(f_src), cand, -1).reshape(len(p), k)
    normals = face_normals(v_dst, f_dst)[tri] if respect_normals else None
    # A back-facing candidate wins only when no front-facing one is within reach.
    t_src, b_src, d2 = closest_among(p, cand, v_src, f_src, normals, back_cost=4 * (max_distance + reach) ** 2)
    ok = (t_src >= 0) & (d2 <= max_distance**2)
    return _mapping(r, idx, interp(uv_src[uf_src], np.maximum(t_src, 0), b_src), ok, uv_src, uf_src)


def apply_mapping(texture: Real[np.ndarray, "h w *C"], mapping: UVMapping, pad_texels: int = 4,
                  src_valid: Bool[np.ndarray, "h w"] | None = None) -> TransferResult:
    """Resample ``texture`` (source layout, uint8 or float, (h, w) or (h, w, C)) into the
    destination layout. Bilinear over the source texels that hold colour (``src_valid``,
    default: texels covered by the source UV layout), so empty source atlas space never bleeds
    in; then ``pad_texels`` rings are padded into the destination's empty atlas space."""
    tex = as_array(texture, None)
    squeeze = tex.ndim == 2
    tex = tex[..., None] if squeeze else tex
    if tex.ndim != 3:
        raise UserInputError(f"texture must be (H, W) or (H, W, C), got {tex.shape}")
    shape = tex.shape[:2]
    if src_valid is None:
        if shape not in mapping._cache:
            mapping._cache[shape] = rasterize_uv(mapping.src_uvs, mapping.src_uv_faces, shape).mask
        src_valid = mapping._cache[shape]
    elif src_valid.shape != shape:
        raise UserInputError(f"src_valid {src_valid.shape} must match the texture's {shape}")
    if ("xy", shape) not in mapping._cache:
        mapping._cache["xy", shape] = uv_to_texel(mapping.src_uv, shape)
    values, got = sample(tex, *mapping._cache["xy", shape], src_valid)
    out = np.zeros((mapping.covered.size, tex.shape[2]), np.float32)
    out[mapping.texels] = values
    out = out.reshape(*mapping.covered.shape, tex.shape[2])
    valid, allowed = np.zeros(mapping.covered.shape, bool), ~mapping.covered
    valid.ravel()[mapping.texels[got]] = True
    allowed.ravel()[mapping.texels] = True
    # Pad into empty atlas space (and sliver texels with no source tap), not into texels of
    # the destination that have no source point on purpose (e.g. the body around a head).
    out, filled = pad(out, valid, allowed, pad_texels)  # 0 stays 0 outside ``filled``
    if np.issubdtype(tex.dtype, np.integer):
        info = np.iinfo(tex.dtype)
        out = np.clip(np.rint(out, out=out), info.min, info.max, out=out)
    out = out.astype(tex.dtype, copy=False)
    return TransferResult(out[..., 0] if squeeze else out, valid, filled)


def transfer_texture(texture: Real[np.ndarray, "h w *C"], src: TexturedMesh, dst: TexturedMesh,
                     size: int | tuple[int, int],
                     correspondence: Int[np.ndarray, " Vb"] | SurfaceEmbedding | None = None,
                     pad_texels: int = 4, **closest_kw) -> TransferResult:
    """One call: :func:`correspondence_mapping` when a correspondence is given, else
    :func:`closest_point_mapping` (``closest_kw``), then :func:`apply_mapping`."""
    if correspondence is not None:
        mapping = correspondence_mapping(src, dst, correspondence, size)
    else:
        mapping = closest_point_mapping(src, dst, size, **closest_kw)
    return apply_mapping(texture, mapping, pad_texels)
