"""gDNA training data: many clothed identities (phenotype x outfit) in several poses.

An *identity* is the body model with random phenotype values (:data:`PHENOTYPE_RANGES`, the
"beta" of the warp network) wearing one outfit of :data:`OUTFITS` (garments of
:mod:`avatarforge.bodies.garments`, built on the rest-pose body and skinned with their own
weights, as an exported avatar moves). Each identity is posed in the rest A-pose, a preset
(t / relaxed) and random plausible poses (:data:`avatarforge.implicit.data.POSE_RANGES`).

Occupancy of a clothed person: garments are open sheets, so every garment's boundary loops
(neck, sleeve ends, hems, a skirt's waist and hem) are closed with a fan to the loop's centroid;
the union of the body and these closed garments is then labelled by generalised winding numbers
(inside = w > 0.5). A skirt or dress becomes a solid bell (the space between the legs under it is
inside), which is what a watertight scan of the person shows. Normals for the detail stage are
those of the outer surface: area samples of body and garment triangles whose point 3 mm out along
the normal is outside everything.

Identities are split into ``train`` (posed samples) and ``test`` (held out; only their canonical
outer surface is stored, for the coverage / MMD benchmark).

Training identities also get labelled points in their own canonical (rest) space, ``rest_points``:
half uniform over the whole canonical box (so the far-away empty space, where posed samples
never put a root, is labelled empty: no floaters), half near the rest surface. They supervise
the canonical shape directly, without a correspondence search.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float

from avatarforge.errors import UserInputError
from avatarforge.implicit.data import _train_points, canonical_bones, sample_poses, sample_surface
from avatarforge.implicit.skinning import MAIN_JOINTS, main_joint_map, reduce_weights
from avatarforge.implicit.winding import winding_number

__all__ = [
    "PHENOTYPE_RANGES", "OUTFITS", "GdnaSynthConfig", "GdnaData", "ClothedPerson", "random_phenotype",
    "clothed_person", "close_boundaries", "outer_surface_samples", "make_gdna_data", "save_gdna_data",
    "load_gdna_data", "is_gdna_data", "GDNA_DATA_FORMAT", "skeleton", "phenotype_values", "rest_points",
]

GDNA_DATA_FORMAT = "avatarforge-gdna-data"

#: Phenotype parameters varied between identities (the warp network's beta), with their ranges.
PHENOTYPE_RANGES = (("gender", 0.0, 1.0), ("age", 0.35, 0.9), ("muscle", 0.1, 0.9), ("weight", 0.1, 0.9),
                    ("height", 0.1, 0.9), ("proportions", 0.2, 0.8))

#: Outfits drawn for identities (empty = unclothed).
OUTFITS: tuple[tuple[str, ...], ...] = (
    ("tshirt", "trousers"), ("tshirt", "skirt"), ("dress",), ("longsleeve", "shorts"), ("jacket", "trousers"),
    ("shirt", "skirt"), ("tshirt", "shorts", "shoes"), ("dress", "shoes"), ("longsleeve", "trousers", "shoes"), (),
)


@dataclass
class GdnaSynthConfig:
    """What ``implicit synth --identities N`` generates."""

    n_identities: int = 8
    """Training identities (phenotype x outfit)."""
    n_held_out: int = 4
    """Held-out identities (canonical surface only, for coverage / MMD)."""
    poses_per_identity: int = 3
    """Poses per training identity: the A-pose, a preset, then random ones."""
    points: int = 3000
    """Labelled occupancy points per posed sample (half near the surface)."""
    surface_points: int = 1500
    """Outer-surface points with normals per posed sample (detail stage)."""
    canonical_points: int = 4000
    """Outer-surface points per identity in the A-pose (coverage / MMD)."""
    warp_vertices: int = 1500
    """Body vertices per identity supervising the warp network."""
    rest_points: int = 4000
    """Labelled canonical (rest-pose) points per training identity (half uniform over the box)."""
    seed: int = 0
    """Random seed."""


@dataclass
class ClothedPerson:
    """One identity in one pose: the outer surface (body + garments) and its closed version."""

    vertices: Float[np.ndarray, "V 3"]
    faces: np.ndarray
    """Body and garment triangles (the visible surface, open garment sheets)."""
    closed_vertices: Float[np.ndarray, "W 3"]
    closed_faces: np.ndarray
    """Body + garments with every boundary loop capped (for winding-number labels)."""
    transforms: Float[np.ndarray, "M 4 4"]
    """Main-joint skinning transforms of the pose."""
    bones: Float[np.ndarray, "M 2 3"]
    """The identity's canonical (rest) bone segments."""
    body_rest: Float[np.ndarray, "B 3"]
    """The identity's rest-pose body vertices."""


@dataclass
class GdnaData:
    """A generated multi-identity data set (see the module docstring)."""

    names: list[str]
    outfits: list[list[str]]
    phenotypes: list[dict[str, float]]
    split: list[str]
    """"train" or "test" per identity."""
    betas: Float[np.ndarray, "I B"]
    """Phenotype values per identity, in :data:`PHENOTYPE_RANGES` order."""
    bones: Float[np.ndarray, "I M 2 3"]
    warp_rest: Float[np.ndarray, "I K 3"]
    """Rest-pose positions of ``warp_vertices`` body vertices per identity."""
    warp_mean: Float[np.ndarray, "K 3"]
    """The same vertices on the mean (default-phenotype) body: the shared canonical space."""
    canonical_surface: Float[np.ndarray, "I C 3"]
    """A-pose outer-surface samples per identity."""
    mean_vertices: Float[np.ndarray, "V 3"]
    mean_weights: Float[np.ndarray, "V M"]
    """The mean body's rest vertices and main-joint weights (initialise the skinning field)."""
    bounds: Float[np.ndarray, "2 3"]
    """Canonical box holding every identity (padded)."""
    sample_identity: np.ndarray
    """(S,) identity index of each posed sample."""
    poses: list[dict[str, float]]
    transforms: Float[np.ndarray, "S M 4 4"]
    points: Float[np.ndarray, "S P 3"]
    occupancy: np.ndarray
    """(S, P) bool."""
    surface: Float[np.ndarray, "S Q 3"]
    normals: Float[np.ndarray, "S Q 3"]
    config: GdnaSynthConfig = field(default_factory=GdnaSynthConfig)
    rest_points: Float[np.ndarray, "T R 3"] | None = None
    """Labelled canonical points of the training identities (in their order; None in data sets
    written before they existed)."""
    rest_occupancy: np.ndarray | None = None
    """(T, R) bool labels of ``rest_points``."""


def random_phenotype(rng: np.random.Generator) -> dict[str, float]:
    """Phenotype values uniform in :data:`PHENOTYPE_RANGES`."""
    return {name: float(rng.uniform(lo, hi)) for name, lo, hi in PHENOTYPE_RANGES}


def phenotype_values(beta: np.ndarray) -> dict[str, float]:
    """A beta vector as body parameter values (clamped to the ranges)."""
    return {name: float(np.clip(b, lo, hi)) for (name, lo, hi), b in zip(PHENOTYPE_RANGES, np.asarray(beta))}


def skeleton(phenotype: dict[str, float], pose: dict[str, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(M, 4, 4) main-joint skinning transforms of ``pose`` and (M, 2, 3) canonical bones of the
    body with ``phenotype``."""
    from avatarforge.bodies import load_body

    with torch.no_grad():
        out = load_body().forward_params({**phenotype, **(pose or {})})
    idx = [out.joint_names.index(j) for j in MAIN_JOINTS]
    return out.skinning_transforms[0, idx].double().numpy(), canonical_bones(out)


def close_boundaries(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cap every boundary loop of a triangle mesh with a fan to the loop's centroid.

    Boundary edges are the directed edges whose undirected edge belongs to one face; each gets
    the triangle (b, a, centroid), so the cap's orientation agrees with the sheet's. Loops are the
    connected components of the boundary edges (no ordering needed)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    f = np.asarray(faces, np.int64)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    key = np.sort(e, 1)
    _, inv, cnt = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    b = e[cnt[inv.reshape(-1)] == 1]
    if not len(b):
        return vertices, f
    nv = len(vertices)
    g = coo_matrix((np.ones(len(b)), (b[:, 0], b[:, 1])), shape=(nv, nv))
    _, comp = connected_components(g, directed=False)
    loop_ids, loop_of_edge = np.unique(comp[b[:, 0]], return_inverse=True)
    verts_in = np.unique(b[:, 0])
    lv = np.searchsorted(loop_ids, comp[verts_in])
    centroids = np.stack([np.bincount(lv, vertices[verts_in, k], len(loop_ids)) for k in range(3)], 1)
    centroids /= np.bincount(lv, minlength=len(loop_ids))[:, None]
    caps = np.stack([b[:, 1], b[:, 0], nv + loop_of_edge.reshape(-1)], 1)
    return np.concatenate([vertices, centroids]), np.concatenate([f, caps])


def _lbs_np(v: np.ndarray, si: np.ndarray, sw: np.ndarray, T: np.ndarray) -> np.ndarray:
    blended = np.einsum("vk,vkij->vij", sw, T[si])  # v vertex, k influence, (i, j) 4x4
    return np.einsum("vij,vj->vi", blended[:, :3, :3], v) + blended[:, :3, 3]


def clothed_person(phenotype: dict[str, float], outfit: tuple[str, ...] | list[str],
                   pose: dict[str, float] | None = None) -> ClothedPerson:
    """The body with ``phenotype`` wearing ``outfit`` in ``pose`` (None: the rest A-pose)."""
    from avatarforge.bodies import load_body
    from avatarforge.bodies.garments import build_outfit

    body = load_body()
    with torch.no_grad():
        rest = body.forward_params(dict(phenotype))
        posed = body.forward_params({**phenotype, **(pose or {})}) if pose else rest
    garments = build_outfit(rest, list(outfit))
    T_all = posed.skinning_transforms[0].double().numpy()
    vs = [posed.vertices[0].double().numpy()]
    fs = [posed.faces.numpy().astype(np.int64)]
    cv, cf = [vs[0]], [fs[0]]
    for g in garments:
        gv = _lbs_np(g.vertices.astype(np.float64), g.skin_indices, g.skin_weights.astype(np.float64), T_all)
        vs.append(gv)
        fs.append(g.faces)
        c = close_boundaries(gv, g.faces)
        cv.append(c[0])
        cf.append(c[1])

    def stack(vv, ff):
        off = np.cumsum([0] + [len(v) for v in vv])
        return np.concatenate(vv), np.concatenate([f + o for f, o in zip(ff, off)])

    v, f = stack(vs, fs)
    w, wf = stack(cv, cf)
    idx = [posed.joint_names.index(j) for j in MAIN_JOINTS]
    return ClothedPerson(v, f, w, wf, T_all[idx], canonical_bones(rest), rest.vertices[0].double().numpy())


def outer_surface_samples(rng: np.random.Generator, vertices: np.ndarray, faces: np.ndarray,
                          closed_vertices: np.ndarray, closed_faces: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points on the outer surface of the mesh (vertices, faces) with their outward unit
    normals: area samples whose point 3 mm out is outside the closed mesh (the kept samples are
    repeated if fewer than ``n`` pass the test)."""
    from avatarforge.util.geometry import face_normals

    p, fi = sample_surface(rng, vertices, faces, 3 * n)
    nrm = face_normals(vertices, faces)[fi]
    outside = winding_number(p + 0.003 * nrm, closed_vertices, closed_faces) < 0.5
    p, nrm = p[outside], nrm[outside]
    if not len(p):
        raise ValueError("no outer surface found")
    sel = rng.permutation(len(p))[:n] if len(p) >= n else rng.integers(0, len(p), n)
    return p[sel], nrm[sel]


def _surfaces(p: ClothedPerson) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return p.vertices, p.faces, p.closed_vertices, p.closed_faces


def make_gdna_data(config: GdnaSynthConfig | None = None, progress=None) -> GdnaData:
    """Generate the identities, their posed samples and labels (see the module docstring)."""
    cfg = config or GdnaSynthConfig()
    if cfg.n_identities < 1 or cfg.n_held_out < 0 or cfg.poses_per_identity < 1:
        raise UserInputError("need at least one training identity and one pose per identity")
    if min(cfg.points, cfg.surface_points, cfg.canonical_points, cfg.warp_vertices) < 8:
        raise UserInputError("every point count must be at least 8")
    from avatarforge.bodies import load_body, pose_preset

    rng = np.random.default_rng(cfg.seed)
    body = load_body()
    with torch.no_grad():
        mean = body.forward_params({})
    mean_v = mean.rest_vertices[0].double().numpy()
    jmap = main_joint_map(mean.joint_names, mean.joint_parents)
    mean_w = reduce_weights(mean.skin_indices.numpy(), mean.skin_weights.double().numpy(), jmap)
    warp_idx = np.sort(rng.choice(len(mean_v), min(cfg.warp_vertices, len(mean_v)), replace=False))
    n_id = cfg.n_identities + cfg.n_held_out
    names = [f"id{i:03d}" for i in range(n_id)]
    split = ["train"] * cfg.n_identities + ["test"] * cfg.n_held_out
    phen = [random_phenotype(rng) for _ in range(n_id)]
    outfits = [list(OUTFITS[rng.integers(len(OUTFITS))]) for _ in range(n_id)]
    total = cfg.n_identities * cfg.poses_per_identity + cfg.n_held_out
    done = 0
    bones, warp_rest, canon, lo, hi, rest_meshes = [], [], [], [], [], []
    s_id, poses, Ts, P, Occ, Sf, Nr = [], [], [], [], [], [], []
    for i in range(n_id):
        plist: list[dict[str, float]] = [{}]
        if split[i] == "train" and cfg.poses_per_identity > 1:
            plist.append(pose_preset(body, ("t", "relaxed")[int(rng.integers(2))], phen[i]))
            plist += sample_poses(rng, cfg.poses_per_identity - 2)
        for j, pose in enumerate(plist[:cfg.poses_per_identity if split[i] == "train" else 1]):
            person = clothed_person(phen[i], outfits[i], pose)
            if j == 0:
                bones.append(person.bones)
                warp_rest.append(person.body_rest[warp_idx])
                canon.append(outer_surface_samples(rng, *_surfaces(person), cfg.canonical_points)[0])
                lo.append(person.vertices.min(0))
                hi.append(person.vertices.max(0))
                if split[i] == "train":
                    rest_meshes.append(person)
            if split[i] == "train":
                pts = _train_points(rng, person.vertices, person.faces, cfg.points)
                occ = winding_number(pts, person.closed_vertices, person.closed_faces) > 0.5
                sp, sn = outer_surface_samples(rng, *_surfaces(person), cfg.surface_points)
                s_id.append(i)
                poses.append(pose)
                Ts.append(person.transforms)
                P.append(pts)
                Occ.append(occ)
                Sf.append(sp)
                Nr.append(sn)
            done += 1
            if progress:
                progress(done, total)
    bounds = np.stack([np.min(lo, 0) - 0.08, np.max(hi, 0) + 0.08])
    rest_p, rest_o = [], []
    for person in rest_meshes:
        pts = rest_points(rng, person, bounds, cfg.rest_points)
        rest_p.append(pts)
        rest_o.append(winding_number(pts, person.closed_vertices, person.closed_faces) > 0.5)
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return GdnaData(names, outfits, phen, split, f32([[p[n] for n, _, _ in PHENOTYPE_RANGES] for p in phen]),
                    np.asarray(bones), f32(warp_rest), f32(mean_v[warp_idx]), f32(canon), f32(mean_v), f32(mean_w),
                    bounds, np.asarray(s_id, np.int64), poses, np.asarray(Ts), f32(P), np.asarray(Occ), f32(Sf),
                    f32(Nr), cfg, f32(rest_p), np.asarray(rest_o, bool))


def rest_points(rng: np.random.Generator, person: ClothedPerson, bounds: np.ndarray, n: int) -> np.ndarray:
    """``n`` canonical points for a rest-pose person: half uniform over ``bounds`` (mostly far-away
    empty space), a quarter within ~1 cm of the surface, a quarter within ~4 cm."""
    from avatarforge.implicit.data import sample_near_surface

    n1 = n // 2
    n2 = (n - n1) // 2
    return np.concatenate([rng.uniform(bounds[0], bounds[1], (n1, 3)),
                           sample_near_surface(rng, person.vertices, person.faces, n2, 0.01),
                           sample_near_surface(rng, person.vertices, person.faces, n - n1 - n2, 0.04)])


_ARRAYS = ("betas", "bones", "warp_rest", "warp_mean", "canonical_surface", "mean_vertices", "mean_weights", "bounds",
           "sample_identity", "transforms", "points", "occupancy", "surface", "normals")
_OPTIONAL = ("rest_points", "rest_occupancy")


def save_gdna_data(path: str | Path, data: GdnaData) -> Path:
    """Write ``data.npz`` + ``meta.json`` into the folder ``path``."""
    path = Path(path)
    extra = {k: getattr(data, k) for k in _OPTIONAL if getattr(data, k) is not None}
    np.savez_compressed(path / "data.npz", **{k: getattr(data, k) for k in _ARRAYS}, **extra)
    meta = {"format": GDNA_DATA_FORMAT, "version": 1, "names": data.names, "outfits": data.outfits,
            "phenotypes": data.phenotypes, "split": data.split, "poses": data.poses,
            "main_joints": list(MAIN_JOINTS), "config": asdict(data.config)}
    (path / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return path


def is_gdna_data(path: str | Path) -> bool:
    """True if ``path`` holds a gDNA data set (meta.json of format :data:`GDNA_DATA_FORMAT`)."""
    try:
        return json.loads((Path(path) / "meta.json").read_text(encoding="utf-8")).get("format") == GDNA_DATA_FORMAT
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return False


def load_gdna_data(path: str | Path) -> GdnaData:
    """Read a folder written by :func:`save_gdna_data`."""
    path = Path(path)
    if not is_gdna_data(path) or not (path / "data.npz").is_file():
        raise UserInputError(f"{path}: not a gDNA data set (write one with "
                             "`avatarforge implicit synth --identities N -o DIR`)")
    meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    if meta.get("version") != 1 or meta.get("main_joints") != list(MAIN_JOINTS):
        raise UserInputError(f"{path}: written by another version; regenerate it with `avatarforge implicit synth`")
    try:
        z = np.load(path / "data.npz", allow_pickle=False)
        arrays = {k: z[k] for k in _ARRAYS}
        arrays.update({k: z[k] for k in _OPTIONAL if k in z.files})
        return GdnaData(names=meta["names"], outfits=meta["outfits"], phenotypes=meta["phenotypes"],
                        split=meta["split"], poses=meta["poses"], config=GdnaSynthConfig(**meta["config"]), **arrays)
    except (KeyError, ValueError, TypeError, OSError) as exc:
        raise UserInputError(f"{path}: damaged gDNA data set ({exc}); regenerate it") from None
