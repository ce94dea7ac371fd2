"""Training/evaluation data for the implicit bodies: posed meshes of one subject with occupancy labels.

Subject: the embedded Anny body (default phenotype) wearing a procedural **rigid skirt**: a
closed shell (1.2 cm thick) shaped like a flared cone from the hips to the knees, whose vertices
follow the root (hip) bone only. The body's own skinning weights fail on it: skinned like the
nearest body vertices it would follow the legs and tear apart between them, which is the
"LBS fails on loose garments" case of the SNARF paper. (No garment meshes exist in the
appearance work yet; this one is generated here.)

Poses (``pose.*`` parameters of the body model, degrees) are drawn per split:

* ``train``: random poses within :data:`POSE_RANGES`, the ``t``/``relaxed`` presets and walk frames;
* ``within``: new random poses from the same ranges (held out);
* ``ood``: out of distribution: every range widened 1.6x around its centre (larger joint
  angles) plus squat frames (deep hip + knee flexion with a bent spine: an unseen combination).

Occupancy labels come from generalised winding numbers of the union body + skirt.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float

from avatarforge.errors import UserInputError
from avatarforge.implicit.skinning import MAIN_JOINTS, main_joint_map, reduce_weights, weights_from_vertices
from avatarforge.implicit.winding import winding_number

__all__ = [
    "POSE_RANGES", "SynthConfig", "Subject", "ImplicitData", "make_subject", "sample_poses", "pose_subject",
    "make_data", "save_data", "load_data", "sample_near_surface", "sample_surface", "DATA_FORMAT", "posed_transforms",
    "canonical_bones",
]

DATA_FORMAT = "avatarforge-implicit-data"

# (parameter, low, high) in degrees; ".L." entries are mirrored to ".R." (y and z negated).
POSE_RANGES = (
    ("pose.root.y", -30, 30), ("pose.spine03.x", -10, 20), ("pose.spine03.y", -15, 15), ("pose.head.y", -30, 30),
    ("pose.upperarm01.L.z", -20, 60), ("pose.upperarm01.L.x", -40, 40), ("pose.lowerarm01.L.x", -90, 0),
    ("pose.upperleg01.L.x", -40, 20), ("pose.upperleg01.L.z", -5, 15), ("pose.lowerleg01.L.x", 0, 60),
)

# Canonical bone segments: head = the main joint, tail = this joint's rest position (or an offset).
_TAILS = {
    "root": (None, (0.0, -0.12, 0.0)), "upperleg01.L": ("lowerleg01.L", None), "lowerleg01.L": ("foot.L", None),
    "foot.L": ("toe3-1.L", None), "upperleg01.R": ("lowerleg01.R", None), "lowerleg01.R": ("foot.R", None),
    "foot.R": ("toe3-1.R", None), "spine05": ("spine04", None), "spine04": ("spine03", None),
    "spine03": ("spine02", None), "spine02": ("spine01", None), "spine01": ("neck01", None),
    "clavicle.L": ("upperarm01.L", None), "upperarm01.L": ("lowerarm01.L", None),
    "lowerarm01.L": ("wrist.L", None), "wrist.L": ("finger3-1.L", None), "clavicle.R": ("upperarm01.R", None),
    "upperarm01.R": ("lowerarm01.R", None), "lowerarm01.R": ("wrist.R", None), "wrist.R": ("finger3-1.R", None),
    "neck01": ("head", None), "head": (None, (0.0, 0.18, 0.0)),
}


@dataclass
class SynthConfig:
    """What ``implicit synth`` generates."""

    n_train: int = 40
    """Random training poses (plus 2 presets and 4 walk frames)."""
    n_within: int = 6
    """Held-out poses from the training distribution."""
    n_ood: int = 6
    """Out-of-distribution poses (wider ranges; plus 2 squat frames)."""
    train_points: int = 6000
    """Labelled points per training pose (half near the surface)."""
    eval_points: int = 6000
    """Labelled points per test pose, for each of the box and near-surface sets."""
    skirt: bool = True
    """Dress the body in the rigid skirt (the garment where LBS fails)."""
    seed: int = 0
    """Random seed (poses and points)."""


@dataclass
class Subject:
    """The canonical (rest-pose) subject: body (+ skirt) as one triangle soup of closed shells."""

    vertices: Float[np.ndarray, "V 3"]
    faces: np.ndarray
    n_body_vertices: int
    """Vertices [0, n_body) are the body's, the rest the skirt's."""
    body_weights: Float[np.ndarray, "V M"]
    """Weights of the body's LBS over MAIN_JOINTS (skirt vertices: those of the nearest body vertices)."""
    true_weights: Float[np.ndarray, "V M"]
    """Weights that generate the data (skirt vertices: the root bone only)."""
    bones: Float[np.ndarray, "M 2 3"]
    """Canonical bone segments (head, tail) of MAIN_JOINTS."""
    bounds: Float[np.ndarray, "2 3"]
    """Canonical box (the subject's bounding box padded by 5 cm)."""


@dataclass
class ImplicitData:
    """A generated data set (all poses of one subject)."""

    subject: Subject
    poses: list[dict[str, float]]
    split: list[str]
    """"train", "within" or "ood" per pose."""
    transforms: Float[np.ndarray, "P M 4 4"]
    """Per pose, the skinning transform of each main joint."""
    posed_vertices: Float[np.ndarray, "P V 3"]
    """Ground-truth posed meshes (faces = subject.faces)."""
    points: Float[np.ndarray, "P S 3"]
    """Labelled points per pose (train poses: training samples; others: box then near-surface sets)."""
    occupancy: np.ndarray
    """(P, S) bool labels of ``points``."""
    config: SynthConfig = field(default_factory=SynthConfig)


def _skirt(vertices: np.ndarray, thickness: float = 0.012, n_ring: int = 48, n_h: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """A closed flared shell from just above the hips to the knees, outward-oriented faces."""
    y_top, y_bot = 0.95, 0.42
    band = vertices[(np.abs(vertices[:, 1] - 0.86) < 0.03) & (np.abs(vertices[:, 0]) < 0.25)]
    cx, cz = (band[:, 0].max() + band[:, 0].min()) / 2, (band[:, 2].max() + band[:, 2].min()) / 2
    rx0, rz0 = (band[:, 0].max() - band[:, 0].min()) / 2 + 0.03, (band[:, 2].max() - band[:, 2].min()) / 2 + 0.03
    ang = np.linspace(0, 2 * np.pi, n_ring, endpoint=False)
    rings_out, rings_in = [], []
    for s in np.linspace(0, 1, n_h):
        y = y_top + (y_bot - y_top) * s
        rx, rz = rx0 * (1 + 0.45 * s), rz0 * (1 + 0.9 * s)
        rings_out.append(np.stack([cx + rx * np.sin(ang), np.full(n_ring, y), cz + rz * np.cos(ang)], 1))
        rings_in.append(np.stack([cx + (rx - thickness) * np.sin(ang), np.full(n_ring, y),
                                  cz + (rz - thickness) * np.cos(ang)], 1))
    verts = np.concatenate(rings_out + rings_in)
    off_in = n_h * n_ring
    faces = []
    for h in range(n_h - 1):
        for k in range(n_ring):
            a, b = h * n_ring + k, h * n_ring + (k + 1) % n_ring
            c, d = a + n_ring, b + n_ring
            faces += [(a, c, b), (b, c, d)]  # outer wall
            faces += [(a + off_in, b + off_in, c + off_in), (b + off_in, d + off_in, c + off_in)]  # inner wall
    for h, flip in ((0, False), (n_h - 1, True)):  # annuli closing the top and the hem
        for k in range(n_ring):
            a, b = h * n_ring + k, h * n_ring + (k + 1) % n_ring
            ai, bi = a + off_in, b + off_in
            tri = [(a, b, ai), (b, bi, ai)]
            faces += [(t[0], t[2], t[1]) for t in tri] if flip else tri
    faces = np.asarray(faces, np.int64)
    # orient outward: the enclosed volume must be positive
    v0, v1, v2 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    if np.einsum("ij,ij->i", v0, np.cross(v1, v2)).sum() < 0:
        faces = faces[:, ::-1].copy()
    return verts, faces


def canonical_bones(out) -> np.ndarray:
    """(M, 2, 3) rest-pose bone segments (head, tail) of :data:`MAIN_JOINTS` of a body output."""
    names = out.joint_names
    rest = out.rest_joints_world[0, :, :3, 3].double().numpy()
    bones = np.zeros((len(MAIN_JOINTS), 2, 3))
    for m, j in enumerate(MAIN_JOINTS):
        head = rest[names.index(j)]
        tail_name, offset = _TAILS[j]
        bones[m] = head, (rest[names.index(tail_name)] if tail_name else head + np.asarray(offset))
    return bones


def make_subject(skirt: bool = True) -> Subject:
    """The canonical subject from the body model (default phenotype, rest A-pose)."""
    from avatarforge.bodies import load_body

    body = load_body()
    with torch.no_grad():
        out = body.forward_params({})
    names, parents = out.joint_names, out.joint_parents
    jmap = main_joint_map(names, parents)
    verts = out.rest_vertices[0].double().numpy()
    faces = out.faces.numpy().astype(np.int64)
    w_body = reduce_weights(out.skin_indices.numpy(), out.skin_weights.double().numpy(), jmap)
    bones = canonical_bones(out)
    n_body = len(verts)
    true_w = w_body
    if skirt:
        sv, sf = _skirt(verts)
        faces = np.concatenate([faces, sf + n_body])
        skirt_body_w = weights_from_vertices(sv, verts, w_body)
        skirt_true = np.zeros((len(sv), len(MAIN_JOINTS)))
        skirt_true[:, MAIN_JOINTS.index("root")] = 1.0
        verts = np.concatenate([verts, sv])
        true_w = np.concatenate([w_body, skirt_true])
        w_body = np.concatenate([w_body, skirt_body_w])
    bounds = np.stack([verts.min(0) - 0.05, verts.max(0) + 0.05])
    return Subject(verts, faces, n_body, w_body, true_w, bones, bounds)


def sample_poses(rng: np.random.Generator, n: int, widen: float = 1.0) -> list[dict[str, float]]:
    """``n`` random poses, each degree of freedom uniform in its range widened ``widen`` times
    around the centre; left and right limbs drawn independently."""
    out = []
    for _ in range(n):
        v: dict[str, float] = {}
        for name, lo, hi in POSE_RANGES:
            mid, half = (lo + hi) / 2, (hi - lo) / 2 * widen
            for side in ((name,) if ".L." not in name else (name, name.replace(".L.", ".R."))):
                val = float(rng.uniform(mid - half, mid + half))
                v[side] = -val if side != name and side.endswith((".y", ".z")) else val
        out.append(v)
    return out


def _walk(n: int) -> list[dict[str, float]]:
    frames = []
    for i in range(n):  # the neural module's "walk" preset pattern, as pose parameters
        s = math.sin(2 * math.pi * i / n)
        v: dict[str, float] = {}
        v["pose.upperleg01.L.x"], v["pose.upperleg01.R.x"] = -30 * s, 30 * s
        v["pose.lowerleg01.L.x"], v["pose.lowerleg01.R.x"] = 30 * max(s, 0) + 5, 30 * max(-s, 0) + 5
        v["pose.upperarm01.L.x"], v["pose.upperarm01.R.x"] = 25 * s, -25 * s
        v["pose.lowerarm01.L.x"] = v["pose.lowerarm01.R.x"] = -20.0
        frames.append(v)
    return frames


def _squat(depths: list[float]) -> list[dict[str, float]]:
    frames = []
    for d in depths:  # the "squat" preset pattern: deep hips + knees + spine
        v = {"pose.spine03.x": 25 * d}
        for side in "LR":
            v[f"pose.upperleg01.{side}.x"] = -70 * d
            v[f"pose.lowerleg01.{side}.x"] = 100 * d
            v[f"pose.upperarm01.{side}.x"] = -70 * d
        frames.append(v)
    return frames


def posed_transforms(pose: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """(M, 4, 4) main-joint skinning transforms and the (V_body, 3) posed body vertices."""
    from avatarforge.bodies import load_body

    body = load_body()
    with torch.no_grad():
        out = body.forward_params(pose)
    idx = [out.joint_names.index(j) for j in MAIN_JOINTS]
    return out.skinning_transforms[0, idx].double().numpy(), out.vertices[0].double().numpy()


def pose_subject(subject: Subject, pose: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    """Ground truth in ``pose``: (M, 4, 4) transforms and (V, 3) posed vertices (body from the
    body model itself, skirt rigidly with the root)."""
    T, body_v = posed_transforms(pose)
    skirt = subject.vertices[subject.n_body_vertices:]
    root = T[MAIN_JOINTS.index("root")]
    return T, np.concatenate([body_v, skirt @ root[:3, :3].T + root[:3, 3]])


def sample_near_surface(rng: np.random.Generator, vertices: np.ndarray, faces: np.ndarray, n: int,
                        sigma: float) -> np.ndarray:
    """``n`` points on the mesh surface (area-uniform) displaced by isotropic N(0, sigma^2)."""
    p, _ = sample_surface(rng, vertices, faces, n)
    return p + rng.normal(0, sigma, p.shape)


def sample_surface(rng: np.random.Generator, vertices: np.ndarray, faces: np.ndarray,
                   n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` area-uniform points on the mesh surface and the index of the face each lies on."""
    a, b, c = vertices[faces[:, 0]], vertices[faces[:, 1]], vertices[faces[:, 2]]
    area = np.linalg.norm(np.cross(b - a, c - a), axis=1)
    f = rng.choice(len(faces), n, p=area / area.sum())
    u, v = rng.random(n), rng.random(n)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    return a[f] + u[:, None] * (b[f] - a[f]) + v[:, None] * (c[f] - a[f]), f


def _train_points(rng, verts, faces, n):
    lo, hi = verts.min(0) - 0.1, verts.max(0) + 0.1
    n1, n2 = n // 2, n // 4
    return np.concatenate([sample_near_surface(rng, verts, faces, n1, 0.01),
                           sample_near_surface(rng, verts, faces, n2, 0.04),
                           rng.uniform(lo, hi, (n - n1 - n2, 3))])


def _eval_points(rng, verts, faces, n):
    lo, hi = verts.min(0) - 0.05, verts.max(0) + 0.05
    return np.concatenate([rng.uniform(lo, hi, (n, 3)), sample_near_surface(rng, verts, faces, n, 0.01)])


def make_data(config: SynthConfig | None = None, progress=None) -> ImplicitData:
    """Generate the data set: poses per split, ground-truth meshes, labelled points."""
    cfg = config or SynthConfig()
    if min(cfg.n_train, cfg.n_within, cfg.n_ood) < 1 or cfg.train_points < 8 or cfg.eval_points < 8:
        raise UserInputError("every split needs at least one pose and at least 8 points per pose")
    from avatarforge.bodies import load_body, pose_preset

    rng = np.random.default_rng(cfg.seed)
    subject = make_subject(cfg.skirt)
    body = load_body()
    train = sample_poses(rng, cfg.n_train) + [pose_preset(body, "t"), pose_preset(body, "relaxed")] + _walk(4)
    within = sample_poses(rng, cfg.n_within)
    ood = sample_poses(rng, cfg.n_ood, widen=1.6) + _squat([0.7, 1.0])
    poses = train + within + ood
    split = ["train"] * len(train) + ["within"] * len(within) + ["ood"] * len(ood)
    n_pts = max(cfg.train_points, 2 * cfg.eval_points)
    Ts, Vs, P, Occ = [], [], [], []
    for i, (pose, s) in enumerate(zip(poses, split)):
        T, V = pose_subject(subject, pose)
        pts = _train_points(rng, V, subject.faces, cfg.train_points) if s == "train" else \
            _eval_points(rng, V, subject.faces, cfg.eval_points)
        occ = winding_number(pts, V, subject.faces) > 0.5
        pad = n_pts - len(pts)  # pad by repetition so that every pose stores n_pts points
        if pad:
            sel = rng.integers(0, len(pts), pad)
            pts, occ = np.concatenate([pts, pts[sel]]), np.concatenate([occ, occ[sel]])
        Ts.append(T)
        Vs.append(V)
        P.append(pts)
        Occ.append(occ)
        if progress:
            progress(i + 1, len(poses))
    return ImplicitData(subject, poses, split, np.stack(Ts), np.stack(Vs).astype(np.float32),
                        np.stack(P).astype(np.float32), np.stack(Occ), cfg)


def save_data(path: str | Path, data: ImplicitData) -> Path:
    """Write ``data.npz`` + ``meta.json`` into the folder ``path`` (created atomically by the caller)."""
    path = Path(path)
    s = data.subject
    np.savez_compressed(path / "data.npz", vertices=s.vertices, faces=s.faces, body_weights=s.body_weights,
                        true_weights=s.true_weights, bones=s.bones, bounds=s.bounds, transforms=data.transforms,
                        posed_vertices=data.posed_vertices, points=data.points, occupancy=data.occupancy)
    meta = {"format": DATA_FORMAT, "version": 1, "n_body_vertices": s.n_body_vertices, "poses": data.poses,
            "split": data.split, "main_joints": list(MAIN_JOINTS), "config": asdict(data.config)}
    (path / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return path


def load_data(path: str | Path) -> ImplicitData:
    """Read a folder written by :func:`save_data`."""
    path = Path(path)
    meta_p, npz_p = path / "meta.json", path / "data.npz"
    if not meta_p.is_file() or not npz_p.is_file():
        raise UserInputError(f"{path}: not an implicit data set (needs meta.json and data.npz; "
                             "write one with `avatarforge implicit synth -o DIR`)")
    try:
        meta = json.loads(meta_p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserInputError(f"{meta_p}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != DATA_FORMAT or meta.get("version") != 1:
        raise UserInputError(f"{meta_p}: not an implicit data set (format {DATA_FORMAT!r}, version 1)")
    if meta.get("main_joints") != list(MAIN_JOINTS):
        raise UserInputError(f"{meta_p}: written for other joints; regenerate it with `avatarforge implicit synth`")
    try:
        z = np.load(npz_p, allow_pickle=False)
        subject = Subject(z["vertices"], z["faces"], int(meta["n_body_vertices"]), z["body_weights"],
                          z["true_weights"], z["bones"], z["bounds"])
        cfg = SynthConfig(**meta["config"])
        return ImplicitData(subject, meta["poses"], meta["split"], z["transforms"], z["posed_vertices"],
                            z["points"], z["occupancy"], cfg)
    except (KeyError, ValueError, TypeError, OSError) as exc:
        raise UserInputError(f"{path}: damaged implicit data set ({exc}); regenerate it") from None
