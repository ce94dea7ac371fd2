"""Clothing as geometry: garment layers that share the body's skinning.

Why offset surfaces of the body (and not separate cloth meshes or a simulation): on a CPU, with
no garment assets we may ship, the body mesh itself is the best-fitting pattern there is. A
tight garment is the body's own triangles in a region (chosen by body coordinates in the rest
pose), pushed out along the posed normals by the garment's thickness, with *the body's skinning
weights copied vertex for vertex*: the garment deforms exactly as the skin under it, so in any
pose the offset stays a (blended) rotation of ``thickness * normal`` and the body cannot poke
through (nor can an inner layer through an outer one: outer layers are thicker). Garments do not
cover the face, so they need none of the body's morph targets (all of them facial).

Loose garments (skirt, the dress's skirt) cannot follow the legs one by one: a skirt spans the
gap between them. They get a **hull**: rings from the waist to the hem around the vertical axis
between the hip joints, each ring's radius the farthest hip/leg vertex in its sector plus the
thickness, never narrowing going down (a skirt does not tuck in between the legs) and flaring a
little. Its skinning blends the weights of the body under the waistband (top) into both thighs
by side (bottom): a vertex at the front centre follows each thigh half-way, so the hem moves
with the legs without tearing between them.

Regions come from three body coordinates per vertex, taken in the model's rest pose so that a
T-shirt's sleeve ends at the same place on the arm in every pose: the body *group* whose
skinning weights dominate (torso, neck/head, arm, hand, leg, foot, per side), the position
along the limb's chain (0 at the shoulder/hip joint, 1 at the elbow/knee, 2 at the wrist/ankle)
and the height.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

__all__ = ["GarmentSpec", "GarmentMesh", "GARMENTS", "GARMENT_TYPES", "SLOTS", "DEFAULT_COLOURS", "build_garment",
           "build_outfit", "body_regions", "BodyRegions", "garment_coverage", "check_outfit"]


@dataclass(frozen=True)
class GarmentSpec:
    """One garment type: where it covers the body and how thick it is."""

    name: str
    slots: tuple[str, ...]
    """What it occupies (``top``, ``bottom``, ``feet``): one garment per slot in an outfit."""
    thickness: float
    """Offset from the skin (metres); outer layers are thicker than inner ones."""
    sleeve: float | None = None
    """Arm chain coordinate where the sleeve ends (1 = elbow, 2 = wrist); None: no torso/arms."""
    hem: float = 0.0
    """Top's lower edge: height as a fraction of hip joint (0) .. waist (1); negative = below the hips."""
    waist: float | None = None
    """Bottom's waistband: height as a fraction of hip joint (0) .. waist (1); None: no bottom."""
    leg: float | None = None
    """Leg chain coordinate where trousers/shorts end (1 = knee, 2 = ankle)."""
    skirt: float | None = None
    """Leg chain coordinate of a skirt hull's hem (1 = knee); None: no hull."""
    feet: bool = False
    """Shoes: the feet up to the ankle."""


#: Thickness order (inner to outer): shoes 6 mm < trousers/shorts 8 mm < tops 10 mm < shirt
#: 12 mm < jacket 18 mm, so a top over trousers and trousers over shoes never z-fight.
GARMENTS: dict[str, GarmentSpec] = {g.name: g for g in (
    GarmentSpec("tshirt", ("top",), 0.010, sleeve=0.5, hem=-0.25),
    GarmentSpec("longsleeve", ("top",), 0.010, sleeve=1.93, hem=-0.25),
    GarmentSpec("shirt", ("top",), 0.012, sleeve=1.95, hem=-0.45),
    GarmentSpec("jacket", ("top",), 0.018, sleeve=1.97, hem=-0.7),
    GarmentSpec("trousers", ("bottom",), 0.008, waist=0.55, leg=1.94),
    GarmentSpec("shorts", ("bottom",), 0.008, waist=0.55, leg=0.55),
    GarmentSpec("skirt", ("bottom",), 0.008, waist=0.6, skirt=0.8),
    GarmentSpec("dress", ("top", "bottom"), 0.010, sleeve=0.0, hem=0.35, skirt=1.2),
    GarmentSpec("shoes", ("feet",), 0.006, feet=True),
)}
GARMENT_TYPES = tuple(GARMENTS)
"""The garment types, as ``--outfit`` names them."""
SLOTS = ("top", "bottom", "feet")

#: A sensible neutral outfit's colours (sRGB) where the photo shows nothing.
DEFAULT_COLOURS: dict[str, tuple[int, int, int]] = {
    "tshirt": (128, 134, 142), "longsleeve": (128, 134, 142), "shirt": (205, 210, 218), "jacket": (58, 62, 70),
    "trousers": (52, 60, 78), "shorts": (70, 78, 96), "skirt": (52, 56, 70), "dress": (70, 76, 98),
    "shoes": (40, 40, 42),
}


def check_outfit(names: list[str] | tuple[str, ...]) -> None:
    """Raise ValueError unless every name is a garment type and no two share a slot."""
    taken: dict[str, str] = {}
    for n in names:
        if n not in GARMENTS:
            raise ValueError(f"unknown garment {n!r}: choose from {', '.join(GARMENT_TYPES)}")
        for s in GARMENTS[n].slots:
            if s in taken:
                raise ValueError(f"{taken[s]} and {n} both cover the {s}: choose one")
            taken[s] = n


@dataclass
class GarmentMesh:
    """One garment's own mesh, skinned to the body's joints (same joint order)."""

    name: str
    vertices: Float[np.ndarray, "V 3"]
    faces: Int[np.ndarray, "F 3"]
    skin_indices: Int[np.ndarray, "V K"]
    skin_weights: Float[np.ndarray, "V K"]
    covers: Int[np.ndarray, " C"]
    """Body vertex indices this garment covers (its covered region, for coverage checks)."""


@dataclass
class BodyRegions:
    """Per body vertex: its group, limb-chain coordinate and height, in the rest pose."""

    group: Int[np.ndarray, " V"]
    """Index into :data:`GROUPS`."""
    chain: Float[np.ndarray, " V"]
    """Arm/leg chain coordinate (0 shoulder/hip, 1 elbow/knee, 2 wrist/ankle); 0 elsewhere."""
    height: Float[np.ndarray, " V"]
    """Rest-pose height (metres)."""
    x: Float[np.ndarray, " V"]
    """Rest-pose sideways position (metres, 0 on the body's midline)."""
    z: Float[np.ndarray, " V"]
    """Rest-pose depth (metres, +z the front)."""
    neck_y: float
    """Height of the neck's base joint."""
    neck_z: float
    shoulder_x: float
    shoulder_y: float
    """Half the distance between the shoulder (upper arm) joints."""
    hip_y: float
    waist_y: float
    knee_y: float
    ankle_y: float


GROUPS = ("torso", "head", "arm", "hand", "leg", "foot")
_G = {n: i for i, n in enumerate(GROUPS)}


def _joint_group(name: str) -> str:
    if name.startswith(("neck", "head", "eye")):
        return "head"
    if name.startswith(("upperarm", "lowerarm")):
        return "arm"
    if name.startswith(("wrist", "finger", "metacarpal")):
        return "hand"
    if name.startswith(("upperleg", "lowerleg")):
        return "leg"
    if name.startswith(("foot", "toe")):
        return "foot"
    return "torso"  # root, pelvis, spine, clavicle, shoulder


def _np(x) -> np.ndarray:
    return x.detach().numpy() if hasattr(x, "detach") else np.asarray(x)


def _chain(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Chain coordinate of points ``p`` on the polyline a -> b -> c (0 at a, 1 at b, 2 at c),
    from the nearer of the two segments."""
    out, best = np.zeros(len(p)), np.full(len(p), np.inf)
    for k, (s, e) in enumerate(((a, b), (b, c))):
        d = e - s
        t = np.clip((p - s) @ d / float(d @ d), -0.5 if k == 0 else 0.0, 1.0 if k == 0 else 1.5)
        dist = np.linalg.norm(p - (s + t[:, None] * d), axis=1)
        better = dist < best
        out[better], best[better] = k + t[better], dist[better]
    return out


def body_regions(out) -> BodyRegions:
    """:class:`BodyRegions` of a body output (``bodies.BodyOutput``)."""
    names = list(out.joint_names)
    si, sw = _np(out.skin_indices), _np(out.skin_weights)
    jgroup = np.array([_G[_joint_group(n)] for n in names])
    per_group = np.zeros((len(si), len(GROUPS)))
    np.add.at(per_group, (np.arange(len(si))[:, None].repeat(si.shape[1], 1), jgroup[si]), sw)
    group = per_group.argmax(1)
    rv = _np(out.rest_vertices[0]).astype(np.float64)
    rj = _np(out.rest_joints_world[0])[:, :3, 3].astype(np.float64)
    j = {n: rj[i] for i, n in enumerate(names)}
    chain = np.zeros(len(rv))
    for side in ("L", "R"):
        sign = 1.0 if side == "L" else -1.0
        this_side = np.sign(rv[:, 0]) == sign
        arm = np.isin(group, [_G["arm"], _G["hand"]]) & this_side
        chain[arm] = _chain(rv[arm], j[f"upperarm01.{side}"], j[f"lowerarm01.{side}"], j[f"wrist.{side}"])
        leg = np.isin(group, [_G["leg"], _G["foot"]]) & this_side
        chain[leg] = _chain(rv[leg], j[f"upperleg01.{side}"], j[f"lowerleg01.{side}"], j[f"foot.{side}"])
    return BodyRegions(group, chain, rv[:, 1], rv[:, 0], rv[:, 2], float(j["neck01"][1]), float(j["neck01"][2]),
                       float(abs(j["upperarm01.L"][0] - j["upperarm01.R"][0]) / 2),
                       float((j["upperarm01.L"][1] + j["upperarm01.R"][1]) / 2), float(j["root"][1]), float(j["spine03"][1]),
                       float((j["lowerleg01.L"][1] + j["lowerleg01.R"][1]) / 2),
                       float((j["foot.L"][1] + j["foot.R"][1]) / 2))


def _field(spec: GarmentSpec, r: BodyRegions, part: str) -> tuple[np.ndarray, np.ndarray]:
    """``(allowed, s)`` of ``part`` (``top``, ``bottom`` or ``feet``) of garment ``spec``: the body
    groups it may cover, and a signed distance-like field (metres; <= 0 inside) whose zero level
    is the garment's edge (hem, neckline, cuff). The edge follows the zero level, not the
    triangles (see :func:`_offset_part`), so it is a clean line on the skin."""
    g, c, y = r.group, r.chain, r.height
    span = r.waist_y - r.hip_y
    # Chain units to metres (about a bone's length), so that the fields compare.
    chain_m = 0.3
    if part == "top":
        groups = ["torso", "leg", "head", "arm"]
        front = np.clip((r.z - r.neck_z) / 0.05, 0.0, 1.0)
        # A crew neck: the neck's cylinder (within 8 cm of its axis) is open above a line lower
        # in front; the shoulders beside it stay covered.
        radial = np.hypot(r.x, r.z - r.neck_z)
        neck = np.maximum(np.minimum(y - (r.neck_y - 0.02 - 0.035 * front), 0.08 - radial), y - r.neck_y)
        s = np.maximum(r.hip_y + spec.hem * span - y, neck)
        if spec.sleeve and spec.sleeve > 0:
            s = np.where(g == _G["arm"], np.maximum(s, (c - spec.sleeve) * chain_m), s)
        else:  # sleeveless: the armhole is a cut just inside the shoulder joints, above the armpits
            hole = np.where(y > r.shoulder_y - 0.1, np.abs(r.x) - (r.shoulder_x - 0.025),
                            np.where(g == _G["arm"], 0.05, -1.0))
            s = np.maximum(s, hole)
    elif part == "bottom":
        groups = ["torso", "leg"]
        s = np.maximum(y - (r.hip_y + spec.waist * span), np.where(g == _G["leg"], (c - spec.leg) * chain_m, -1.0))
    else:  # shoes: the feet up to just above the ankle
        groups = ["foot", "leg"]
        s = np.where(g == _G["leg"], (1.86 - c) * chain_m, -1.0)
    return np.isin(g, [_G[n] for n in groups]), s


def _offset_part(v: np.ndarray, n: np.ndarray, faces: np.ndarray, allowed: np.ndarray, s: np.ndarray,
                 thickness: float, si: np.ndarray, sw: np.ndarray):
    """(vertices, faces, body vertex of each garment vertex, covered body vertices, skin indices,
    skin weights) of the body triangles in ``allowed`` that reach inside (``s <= 0``), pushed
    ``thickness`` out along the normals. Their corners outside move along the triangle edges onto
    the zero level of ``s`` (the mean of the crossings with their inside neighbours): a clean
    edge, not a saw-tooth. A moved corner's skinning is blended like its position (the body's
    weights at the crossing, ``si``/``sw`` the body's), so the edge stays on the skin it was
    built on when the body is posed (with the outside corner's weights alone the edge of a
    sleeveless top slid inwards over the shoulders in the T pose and showed the skin under it)."""
    inside = allowed & (s <= 0)
    f = faces[allowed[faces].all(1) & inside[faces].any(1)]
    used = np.unique(f)
    pos = v.copy()
    gi, gw = si.copy(), sw.copy()
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    e = np.concatenate([e, e[:, ::-1]])
    e = e[~inside[e[:, 0]] & inside[e[:, 1]]]  # (outside corner, inside neighbour)
    if len(e):
        a, b = e[:, 0], e[:, 1]
        t = np.clip(s[a] / np.maximum(s[a] - s[b], 1e-12), 0.0, 0.9)[:, None]  # stop short of a sliver
        cross = v[a] + t * (v[b] - v[a])
        cnt = np.bincount(a, minlength=len(v))
        moved = np.flatnonzero(cnt)
        for axis in range(3):
            pos[moved, axis] = np.bincount(a, cross[:, axis], minlength=len(v))[moved] / cnt[moved]
        # The same blend of the skinning weights, over a dense (moved corner, joint) table.
        row = np.searchsorted(moved, a)
        dense = np.zeros((len(moved), int(si.max()) + 1))
        for ends, share in ((a, 1.0 - t), (b, t)):
            np.add.at(dense, (np.repeat(row, si.shape[1]), si[ends].ravel()),
                      (sw[ends].astype(np.float64) * share).ravel())
        gi[moved], gw[moved] = _top_k(dense, si.shape[1])
    remap = np.full(len(v), -1)
    remap[used] = np.arange(len(used))
    # Covered: the inside vertices not on the garment's border (skin exactly at a hard edge,
    # such as a sleeveless armhole, is as much out of the garment as in it).
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), 1)
    uniq, count = np.unique(edges, axis=0, return_counts=True)
    border = np.zeros(len(v), bool)
    border[uniq[count == 1].ravel()] = True
    return (pos[used] + thickness * n[used], remap[f], used, used[inside[used] & ~border[used]],
            gi[used], gw[used])


def _hull(v: np.ndarray, r: BodyRegions, top_y_rest: float, hem_chain: float, thickness: float, out,
          n_az: int = 48, flare: float = 0.12):
    """A skirt hull (vertices, faces) around the posed hips/legs from ``top_y_rest`` down to the
    leg chain coordinate ``hem_chain``; heights are mapped from the rest pose onto the posed
    body by the hip joints' vertical offset (the presets do not move the legs)."""
    names = list(out.joint_names)
    jw = _np(out.joints_world[0])[:, :3, 3].astype(np.float64)
    rj = _np(out.rest_joints_world[0])[:, :3, 3].astype(np.float64)
    hips = [names.index("upperleg01.L"), names.index("upperleg01.R")]
    shift = float(jw[hips, 1].mean() - rj[hips, 1].mean())
    centre = jw[hips][:, [0, 2]].mean(0)
    y_top = top_y_rest + shift
    hem = r.hip_y + min(hem_chain, 1.0) * (r.knee_y - r.hip_y) + max(hem_chain - 1.0, 0.0) * (r.ankle_y - r.knee_y)
    y_hem = hem + shift
    n_rows = max(6, int(np.ceil((y_top - y_hem) / 0.025)) + 1)
    ys = np.linspace(y_top, y_hem, n_rows)
    clear = np.isin(r.group, [_G["torso"], _G["leg"]])
    pv = v[clear]
    rel = pv[:, [0, 2]] - centre
    ang = np.arctan2(rel[:, 0], rel[:, 1])
    rad = np.linalg.norm(rel, axis=1)
    theta = np.linspace(-np.pi, np.pi, n_az, endpoint=False)
    sector = np.abs(np.angle(np.exp(1j * (ang[None, :] - theta[:, None])))) < 1.5 * np.pi / n_az  # (A, P)
    radii = np.zeros((n_rows, n_az))
    for k, y in enumerate(ys):
        band = np.abs(pv[:, 1] - y) < 0.02
        need = np.where(sector & band[None], rad[None], 0.0).max(1)
        radii[k] = need + thickness + 0.004
        if k:  # never narrower than the row above, plus a little flare
            radii[k] = np.maximum(radii[k], radii[k - 1] + flare * (ys[k - 1] - y))
    # Smooth over azimuth (no notches), keeping clearance: a circular max-filter then a mean.
    ext = np.concatenate([radii[:, -2:], radii, radii[:, :2]], 1)
    radii = np.max(np.stack([ext[:, i: i + n_az] for i in range(5)]), 0)
    ext = np.concatenate([radii[:, -1:], radii, radii[:, :1]], 1)
    radii = np.maximum(radii, np.mean(np.stack([ext[:, i: i + n_az] for i in range(3)]), 0))
    verts = np.stack([centre[0] + radii * np.sin(theta)[None], np.broadcast_to(ys[:, None], radii.shape),
                      centre[1] + radii * np.cos(theta)[None]], -1).reshape(-1, 3)
    vid = lambda k, a: k * n_az + a % n_az  # noqa: E731
    faces = []
    for k in range(n_rows - 1):  # counter-clockwise seen from outside (theta grows from -z towards +x)
        for a in range(n_az):
            faces.append((vid(k, a), vid(k + 1, a), vid(k + 1, a + 1)))
            faces.append((vid(k, a), vid(k + 1, a + 1), vid(k, a + 1)))
    faces = np.asarray(faces, np.int64)
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    radial = verts[faces].mean(1) - np.array([centre[0], 0.0, centre[1]])
    radial[:, 1] = 0.0
    if np.einsum("fc,fc->f", fn, radial).mean() < 0:  # f: face, c: xyz
        faces = faces[:, [0, 2, 1]]
    side = np.clip((verts[:, 0] - centre[0]) / max(float(radii.max()), 1e-6) * 2.0, -1.0, 1.0) * 0.5 + 0.5
    depth = np.clip((y_top - verts[:, 1]) / max(y_top - y_hem, 1e-6), 0.0, 1.0)
    return verts, faces, side, depth, names.index("upperleg01.L"), names.index("upperleg01.R")


def _top_k(dense: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(V, J) weights -> the ``k`` largest per row (indices, renormalised weights)."""
    idx = np.argsort(-dense, axis=1)[:, :k]
    w = np.take_along_axis(dense, idx, 1)
    w = w / np.maximum(w.sum(1, keepdims=True), 1e-12)
    return idx.astype(np.int64), w.astype(np.float32)


def build_garment(out, name: str, regions: BodyRegions | None = None) -> GarmentMesh:
    """Garment ``name`` (a key of :data:`GARMENTS`) on the posed body output ``out``."""
    from scipy.spatial import cKDTree

    from avatarforge.util.geometry import vertex_normals

    spec = GARMENTS[name]
    r = regions or body_regions(out)
    v = _np(out.vertices[0]).astype(np.float64)
    faces = _np(out.faces).astype(np.int64)
    si, sw = _np(out.skin_indices).astype(np.int64), _np(out.skin_weights).astype(np.float32)
    n = vertex_normals(v, faces).astype(np.float64)
    pieces_v, pieces_f, pieces_i, pieces_w, covers = [], [], [], [], []
    parts = [p for p, on in (("top", spec.sleeve is not None), ("bottom", spec.leg is not None), ("feet", spec.feet)) if on]
    for part in parts:
        allowed, field_s = _field(spec, r, part)
        gv, gf, _, inside, gi, gw = _offset_part(v, n, faces, allowed, field_s, spec.thickness, si, sw)
        pieces_v.append(gv)
        pieces_f.append(gf)
        pieces_i.append(gi)
        pieces_w.append(gw)
        covers.append(inside)
    if spec.skirt is not None:
        span = r.waist_y - r.hip_y
        top_rest = r.hip_y + (spec.waist if spec.waist is not None else spec.hem + 0.2) * span
        hv, hf, side, depth, jl, jr = _hull(v, r, top_rest, spec.skirt, spec.thickness, out)
        # Skinning: the body under the waistband at the top, both thighs by side towards the hem.
        band = np.isin(r.group, [_G["torso"], _G["leg"]]) & (np.abs(r.height - top_rest) < 0.03)
        src = np.flatnonzero(band)
        _, nn = cKDTree(v[src]).query(hv)
        n_j = len(out.joint_names)
        dense = np.zeros((len(hv), n_j))
        np.put_along_axis(dense, si[src[nn]], sw[src[nn]].astype(np.float64), 1)
        b = np.clip(depth * 1.4, 0.0, 0.75)[:, None]
        dense *= 1.0 - b
        dense[:, jl] += (b * side[:, None])[:, 0]
        dense[:, jr] += (b * (1.0 - side)[:, None])[:, 0]
        hi, hw = _top_k(dense, si.shape[1])
        pieces_v.append(hv)
        pieces_f.append(hf)
        pieces_i.append(hi)
        pieces_w.append(hw)
        y_hem = hv[:, 1].min()
        y_top = hv[:, 1].max()
        # Covered: the skin between the waistband and the hem, except what a skirt, open below,
        # shows from below: skin facing down (the crotch, the backs of the knees, more than ~17
        # degrees down) and the last 8 cm above the hem (the inner thighs see out under it).
        under = np.flatnonzero(np.isin(r.group, [_G["torso"], _G["leg"]]) & (v[:, 1] <= y_top - 0.02)
                               & (v[:, 1] >= y_hem + 0.08) & (n[:, 1] > -0.3))
        covers.append(under)
    offsets = np.cumsum([0] + [len(p) for p in pieces_v])
    fv = np.concatenate([f + o for f, o in zip(pieces_f, offsets)])
    return GarmentMesh(name, np.concatenate(pieces_v).astype(np.float32), fv, np.concatenate(pieces_i),
                       np.concatenate(pieces_w).astype(np.float32), np.unique(np.concatenate(covers)))


def build_outfit(out, names: list[str] | tuple[str, ...]) -> list[GarmentMesh]:
    """The garments ``names`` on the posed body output ``out`` (regions computed once)."""
    check_outfit(names)
    r = body_regions(out)
    return [build_garment(out, n, r) for n in names]


def garment_coverage(body_vertices: Float[np.ndarray, "V 3"], body_faces: Int[np.ndarray, "F 3"],
                     garments: list[tuple[np.ndarray, np.ndarray]], covered: Int[np.ndarray, " C"],
                     reach: float = 0.5, details: bool = False):
    """Share of the ``covered`` body vertices that show through the clothes: no garment triangle
    is hit by the ray from the vertex along the skin's outward normal within ``reach`` metres.

    A ray test and not an inside/outside test, because garments are open sheets that may overlap
    (the two sides of an armpit, neighbouring toes): a skin point is covered when there is cloth
    between it and the outside, whichever garment or layer that is. ``garments``: (vertices,
    faces) pairs in the same pose as ``body_vertices``."""
    from scipy.spatial import cKDTree

    from avatarforge.util.geometry import vertex_normals

    if len(covered) == 0:
        return 0.0
    offsets = np.cumsum([0] + [len(v) for v, _ in garments])
    gv = np.concatenate([np.asarray(v, np.float64) for v, _ in garments])
    gf = np.concatenate([np.asarray(f, np.int64) + o for (_, f), o in zip(garments, offsets)])
    bv = np.asarray(body_vertices, np.float64)
    origin = bv[covered]
    d = vertex_normals(bv, body_faces).astype(np.float64)[covered]
    tri = gv[gf]  # (F, 3 corners, 3)
    # Candidates: the triangles whose centroids are nearest to points along the ray.
    tree = cKDTree(tri.mean(1))
    k = min(16, len(gf))
    cand = np.concatenate([tree.query(origin + t * d, k=k)[1].reshape(len(origin), k)
                           for t in (0.003, 0.012, 0.03, 0.06, 0.1, 0.15, 0.22, 0.3, 0.4, 0.5) if t <= reach], 1)
    k = cand.shape[1]
    a, b, c = (tri[cand, i] for i in range(3))  # (C, k, 3) each
    e1, e2 = b - a, c - a
    dd = d[:, None, :]
    h = np.cross(dd, e2)
    det = np.einsum("nkc,nkc->nk", e1, h)  # n: body vertex, k: candidate, c: xyz (Moller-Trumbore)
    ok = np.abs(det) > 1e-14
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = origin[:, None, :] - a
    u = inv * np.einsum("nkc,nkc->nk", s, h)
    q = np.cross(s, e1)
    v = inv * np.einsum("nkc,nkc->nk", dd.repeat(k, 1), q)
    t = inv * np.einsum("nkc,nkc->nk", e2, q)
    eps = 1e-4  # a skin vertex on the garment's border is hit at a corner of its offset triangle
    hit = ok & (u >= -eps) & (v >= -eps) & (u + v <= 1 + eps) & (t > -1e-4) & (t < reach)
    shows = ~hit.any(1)
    return (float(np.mean(shows)), covered[shows]) if details else float(np.mean(shows))
