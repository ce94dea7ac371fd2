"""Data set for the eye alignment network: eye crops with iris centres in pixels.

Two sources, each sample an eye "context" image (a larger crop than the network's, so that
augmentation can shift, scale and rotate inside it) with its two corners and its iris centre
in context pixels (conventions of :mod:`.eyes`):

(a) **renders of the embedded body model** (:class:`EyeRenderer`) with a KNOWN iris centre.
    Random identity, skin tone, eyelids, head pose, gaze, light and camera. The eyeballs (the
    vertices skinned mainly to ``eye.L`` / ``eye.R``) are painted per pixel: sclera, an iris
    disc of random colour and size around the eye's rest forward axis (+Z), a dark pupil and
    a corneal highlight; the skin gets eyebrows and a lash line from the embedded mediapipe
    landmarks. The label is the eyeball's front pole (the rest-space ray from the eye joint
    along +Z, intersected with the rendered eyeball mesh, carried through the posed mesh by
    the same barycentrics), projected by the render camera. The corners are the embedded
    mediapipe corner landmarks (33/133, 362/263) projected the same way, i.e. what a perfect
    detector returns.
(b) **real photos** available offline (scikit-image's astronaut, matplotlib's Grace Hopper),
    labelled by the detector's own iris centres (mediapipe 468/473) and corners.

Identities (one render identity = one random body shape; one photo = one person) are split
80/10/10 into train/val/test by a seeded permutation, so no identity crosses splits. With
only two photos, one (the first of a seeded shuffle) goes to train and the other to test.

The generated set is cached as one ``.npz`` under ``avatarforge.util.paths.cache_dir()/eyes``
(keyed by its config); :func:`augment` makes the network's 40 x 40 crops from it on the fly.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
from jaxtyping import Float, Int, UInt8

from avatarforge.bodies.head_mesh import HEAD_BONES
from avatarforge.perception.iris import CORNER_SPAN, CROP_SIZE, LEFT_EYE, RIGHT_EYE, crop_eye, eye_similarity, warp
from avatarforge.perception.landmark_groups import LEFT_IRIS_CENTER, RIGHT_IRIS_CENTER
from avatarforge.util.colour import float_to_uint8

__all__ = [
    "CONTEXT_SIZE", "SPLITS", "EyeDataConfig", "EyeSample", "EyeSet", "EyeRenderer",
    "render_identity", "photo_samples", "split_identities", "build_eye_set", "load_eye_set", "augment",
    "clean_crop",
]

CONTEXT_SIZE = 112
"""Side in pixels of the stored context images."""
CONTEXT_SPAN = (20.0, 52.0)
"""Range of the corner distance in context pixels (the source resolution: small = blurry)."""
SPLITS = ("train", "val", "test")
SOURCES = ("render", "photo")


@dataclass(frozen=True)
class EyeDataConfig:
    """What :func:`build_eye_set` generates (defaults: a few minutes on two CPU cores)."""

    identities: int = 100
    """Random body identities rendered (each is one split unit)."""
    renders_per_identity: int = 4
    """Renders per identity (random pose, gaze, light, iris); each gives two eyes."""
    photos: bool = True
    """Add the offline photos' eyes (labelled by the mediapipe iris points)."""
    seed: int = 0
    """Seed of everything random here (identities, renders, the split)."""
    version: int = 1
    """Bumped when the generator changes, so stale caches are not reused."""

    @property
    def n_render_eyes(self) -> int:
        return 2 * self.identities * self.renders_per_identity

    def key(self) -> str:
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


@dataclass
class EyeSample:
    """One eye in a context image."""

    image: UInt8[np.ndarray, "C C 3"]
    """Context image, RGB."""
    corners: Float[np.ndarray, "2 2"]
    """Eye corners (context pixels), image left-to-right (right eye: outer, inner)."""
    iris: Float[np.ndarray, "2"]
    """Iris centre (context pixels)."""
    eye: str
    """'right' or 'left' (the subject's)."""
    visible: bool = True
    """Whether the iris centre's pixel shows the eyeball (False: hidden by a lid)."""
    pupil_rgb: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Pupil albedo (renders), for checks."""
    iris_rgb: tuple[float, float, float] = (0.0, 0.0, 0.0)
    """Iris base albedo (renders), for checks."""


@dataclass
class EyeSet:
    """A generated data set (arrays over N samples)."""

    images: UInt8[np.ndarray, "N C C 3"]
    corners: Float[np.ndarray, "N 2 2"]
    iris: Float[np.ndarray, "N 2"]
    identity: Int[np.ndarray, " N"]
    """Index into ``identity_names``."""
    source: Int[np.ndarray, " N"]
    """0 render, 1 photo (:data:`SOURCES`)."""
    split: Int[np.ndarray, " N"]
    """0 train, 1 val, 2 test (:data:`SPLITS`)."""
    identity_names: list[str]
    config: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.iris)

    def indices(self, split: str, source: str | None = None) -> np.ndarray:
        m = self.split == SPLITS.index(split)
        if source is not None:
            m &= self.source == SOURCES.index(source)
        return np.flatnonzero(m)

    def save(self, path: Path) -> None:
        from avatarforge.util.atomic import atomic_path

        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(
                    f, images=self.images, corners=self.corners, iris=self.iris, identity=self.identity,
                    source=self.source, split=self.split, identity_names=np.array(self.identity_names),
                    config=np.array(json.dumps(self.config)))

    @classmethod
    def load(cls, path: Path) -> "EyeSet":
        with np.load(path) as d:
            return cls(images=d["images"], corners=d["corners"], iris=d["iris"], identity=d["identity"],
                       source=d["source"], split=d["split"], identity_names=[str(s) for s in d["identity_names"]],
                       config=json.loads(str(d["config"])))


# ---------------------------------------------------------------------------------- renders
def _polyline_distance(points: Float[np.ndarray, "P 3"], line: Float[np.ndarray, "L 3"]) -> Float[np.ndarray, " P"]:
    """Distance of each point to a 3D polyline."""
    a, b = line[:-1], line[1:]
    ab = b - a
    # p: point, s: segment
    t = np.einsum("psc,sc->ps", points[:, None] - a[None], ab) / np.maximum((ab * ab).sum(1), 1e-12)
    closest = a[None] + np.clip(t, 0, 1)[..., None] * ab[None]
    return np.linalg.norm(points[:, None] - closest, axis=-1).min(1)


def _ray_mesh(origin: np.ndarray, direction: np.ndarray, tris: Float[np.ndarray, "T 3 3"]) -> tuple[int, np.ndarray]:
    """First hit of a ray on triangles (Moller-Trumbore): (triangle index, barycentrics)."""
    e1, e2 = tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    p = np.cross(direction, e2)
    det = (e1 * p).sum(1)
    ok = np.abs(det) > 1e-15
    inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
    s = origin - tris[:, 0]
    u = (s * p).sum(1) * inv
    q = np.cross(s, e1)
    v = (q @ direction) * inv
    t = (q * e2).sum(1) * inv
    hit = ok & (u >= -1e-9) & (v >= -1e-9) & (u + v <= 1 + 1e-9) & (t > 0)
    if not hit.any():
        raise RuntimeError("eye ray missed the eyeball mesh")
    k = int(np.flatnonzero(hit)[np.argmin(t[hit])])
    return k, np.array([1 - u[k] - v[k], u[k], v[k]])


class EyeRenderer:
    """Renders the embedded body model's eyes with known iris centres (see the module doc)."""

    FORWARD = np.array([0.0, 0.0, 1.0])
    """The eyes' gaze direction in the rest pose (the body faces +Z)."""

    def __init__(self, body=None):
        from avatarforge.bodies import load_body
        from avatarforge.bodies.landmark_embedding import load_embedding
        from avatarforge.perception import landmark_groups as lg

        self.body = load_body() if body is None else body
        ref = self.body.forward_params({})
        faces = ref.faces.numpy().astype(np.int64)
        w, idx = ref.skin_weights.numpy(), ref.skin_indices.numpy()
        dominant = idx[np.arange(len(idx)), w.argmax(1)]
        names = ref.joint_names
        head_ids = [names.index(b) for b in HEAD_BONES if b in names]
        self.faces = faces[np.isin(dominant, head_ids)[faces].all(1)]
        """The head triangles (all that is rendered)."""
        self.eye_joint = {"right": names.index("eye.R"), "left": names.index("eye.L")}
        self.eye_tri = {e: dominant[self.faces].__eq__(j).all(1) for e, j in self.eye_joint.items()}
        """Per eye, a mask over ``self.faces``: the eyeball's triangles."""
        self.embedding = load_embedding("mediapipe478")
        self.all_faces = faces
        self.lines = {
            "right": dict(upper=lg.RIGHT_EYE_UPPER, lower=lg.RIGHT_EYE_LOWER, brow=(lg.RIGHT_EYEBROW_UPPER, lg.RIGHT_EYEBROW_LOWER)),
            "left": dict(upper=lg.LEFT_EYE_UPPER, lower=lg.LEFT_EYE_LOWER, brow=(lg.LEFT_EYEBROW_UPPER, lg.LEFT_EYEBROW_LOWER)),
        }
        self.corner_ids = {"right": RIGHT_EYE, "left": LEFT_EYE}
        self.local_face = [s.name for s in self.body.params if s.group == "local" and s.region in ("face", "head")]

    # ------------------------------------------------------------------ parameters
    def random_identity(self, rng: np.random.Generator) -> dict:
        """Body shape values plus the per-identity look (skin, brows, lashes)."""
        shape = {"gender": rng.uniform(0, 1), "age": rng.uniform(0.45, 0.95), "weight": rng.uniform(0.2, 0.8),
                 "muscle": rng.uniform(0.2, 0.8), "proportions": rng.uniform(0.2, 0.8)}
        for name in self.local_face:
            shape[name] = float(np.clip(rng.normal(0, 0.3), -1, 1))
        skin = np.array([0.95, 0.74, 0.6]) * rng.uniform(0.3, 1.05) + rng.normal(0, 0.04, 3)
        hair = np.array([0.12, 0.08, 0.05]) * rng.uniform(0.3, 3.0) + rng.uniform(0, 0.05)
        return {
            "shape": shape,
            "skin": np.clip(skin, 0.05, 1.0),
            "hair": np.clip(hair, 0.0, 0.6),
            "brow": rng.uniform(0.4, 0.95) if rng.random() < 0.9 else 0.0,
            "brow_width": rng.uniform(0.6, 1.2),
            "lash": rng.uniform(0.3, 0.95),
            "lash_mm": rng.uniform(0.5, 1.6),
            "iris_rgb": self.random_iris_colour(rng),
        }

    @staticmethod
    def random_iris_colour(rng: np.random.Generator) -> np.ndarray:
        kind = rng.choice(4, p=[0.55, 0.2, 0.15, 0.1])
        base = [np.array([0.35, 0.2, 0.1]), np.array([0.3, 0.45, 0.65]), np.array([0.35, 0.45, 0.25]),
                np.array([0.45, 0.45, 0.45])][kind]
        return np.clip(base * rng.uniform(0.35, 1.3) + rng.normal(0, 0.04, 3), 0.02, 0.9)

    def random_view(self, rng: np.random.Generator) -> dict:
        """Head pose, gaze, lids, light and camera of one render."""
        gaze = (rng.uniform(-12, 16), rng.uniform(-30, 30))  # (pitch about +X, yaw about +Y) degrees
        pose = {"pose.head.x": rng.uniform(-15, 15), "pose.head.y": rng.uniform(-30, 30), "pose.head.z": rng.uniform(-12, 12)}
        for side in ("L", "R"):
            pose[f"pose.eye.{side}.x"] = gaze[0] + rng.normal(0, 2)
            pose[f"pose.eye.{side}.y"] = gaze[1] + rng.normal(0, 2)
        for side in ("Left", "Right"):
            if rng.random() < 0.35:
                pose[f"eyeBlink{side}"] = rng.uniform(0, 0.35)
            if rng.random() < 0.3:
                pose[f"eyeWide{side}"] = rng.uniform(0, 1)
            if rng.random() < 0.3:
                pose[f"eyeSquint{side}"] = rng.uniform(0, 1)
        light = np.array([rng.uniform(-0.8, 0.8), rng.uniform(-0.2, 0.9), 1.0])
        return {
            "pose": pose, "light": light / np.linalg.norm(light), "ambient": rng.uniform(0.2, 0.55),
            "diffuse": rng.uniform(0.45, 0.85), "light_rgb": np.clip(1 + rng.normal(0, 0.06, 3), 0.8, 1.2),
            "distance": rng.uniform(0.35, 1.0), "camera_offset": rng.normal(0, 0.04, 3),
            "span": {e: rng.uniform(*CONTEXT_SPAN) for e in ("right", "left")},
            "iris_deg": rng.uniform(16, 21), "pupil": rng.uniform(0.22, 0.45), "sclera": rng.uniform(0.72, 0.95),
            "spec": rng.uniform(0.3, 1.0) if rng.random() < 0.85 else 0.0, "shine": rng.uniform(80, 600),
        }

    # ------------------------------------------------------------------ rendering
    def render(self, identity: dict, view: dict, rng: np.random.Generator, size: int = CONTEXT_SIZE) -> list[EyeSample]:
        """Both eyes of one render, as context images (right eye first)."""
        import torch

        with torch.no_grad():
            out = self.body.forward_params({**identity["shape"], **view["pose"]})
        verts = out.vertices[0].double().numpy()
        rest = out.rest_vertices[0].double().numpy()
        joints_rest = out.rest_joints_world[0, :, :3, 3].double().numpy()
        lm = self.embedding.points(torch.from_numpy(verts), self.all_faces).numpy()
        # One camera centre for both eyes, in front of the eyes (the head turns, not the camera).
        eyes = out.joints[0].double().numpy()[list(self.eye_joint.values())].mean(0)
        cam_pos = eyes + np.array([0, -0.02, view["distance"]]) + view["camera_offset"] * view["distance"]
        samples = []
        for eye in ("right", "left"):
            samples.append(self._render_eye(eye, identity, view, rng, verts, rest, joints_rest, lm, cam_pos, size))
        return samples

    def _camera(self, cam_pos: np.ndarray, corners3d: np.ndarray, span_px: float, size: int):
        from avatarforge.render import Camera

        c = Camera.look_at(cam_pos, corners3d.mean(0), width=size, height=size, fov_y_deg=10.0)
        px = c.project(corners3d)[:, :2]
        f = c.fx * span_px / np.linalg.norm(px[1] - px[0])
        return Camera(c.R, c.t, size, size, f, f, size / 2, size / 2)

    def _render_eye(self, eye, identity, view, rng, verts, rest, joints_rest, lm, cam_pos, size) -> EyeSample:
        from avatarforge.render import render_mesh

        ids = self.corner_ids[eye]
        cam = self._camera(cam_pos, lm[list(ids)], view["span"][eye], size)
        bg = tuple(int(c) for c in rng.integers(0, 200, 3)) + (255,)
        res = render_mesh(verts, self.faces, cam, light_dir=view["light"], ambient=0.0, diffuse=1.0, background=bg)
        mask = res.raster.mask
        tri = res.raster.triangle_id[mask]
        bary = res.raster.bary[mask].astype(np.float64)
        f = self.faces[tri]
        # p: pixel, k: triangle corner
        pos = np.einsum("pk,pkc->pc", bary, verts[f])
        pos_rest = np.einsum("pk,pkc->pc", bary, rest[f])
        n = res.normals[mask].astype(np.float64)
        view_dir = cam.position - pos
        view_dir /= np.linalg.norm(view_dir, axis=1, keepdims=True)
        cos = np.clip((n * view["light"]).sum(1), 0, None)
        shade = (view["ambient"] + view["diffuse"] * cos)[:, None] * view["light_rgb"]
        half = view["light"] + view_dir
        half /= np.linalg.norm(half, axis=1, keepdims=True)
        spec_cos = np.clip((n * half).sum(1), 0, None)

        # Skin: tone with low-frequency mottling, eyebrows and lash lines.
        albedo = np.tile(identity["skin"], (len(pos), 1))
        freq = rng.normal(0, 1, (4, 3)) * 150.0
        phase = rng.uniform(0, 2 * np.pi, 4)
        mottle = np.sin(pos_rest @ freq.T + phase).mean(1) * rng.uniform(0.0, 0.12)
        albedo *= (1 + mottle)[:, None]
        lines = {k: lm[v] for k, v in self.lines[eye].items() if k != "brow"}
        upper_b, lower_b = (lm[list(v)] for v in self.lines[eye]["brow"])
        brow_mid = (upper_b + lower_b) / 2
        brow_half = np.linalg.norm(upper_b - lower_b, axis=1).mean() / 2 * identity["brow_width"]
        if identity["brow"] > 0:
            d = _polyline_distance(pos, brow_mid)
            a = identity["brow"] * np.clip((brow_half - d) / (0.3 * brow_half) + 0.5, 0, 1)
            hairs = 0.75 + 0.5 * (np.sin(pos_rest @ (rng.normal(0, 1, 3) * 2500.0)) > 0.3)
            albedo = albedo * (1 - a[:, None]) + (identity["hair"] * hairs[:, None]) * a[:, None]
        lash_w = identity["lash_mm"] / 1000
        for part, strength, width in (("upper", identity["lash"], lash_w), ("lower", 0.4 * identity["lash"], 0.5 * lash_w)):
            d = _polyline_distance(pos, lines[part])
            a = strength * np.clip(1 - d / width, 0, 1)
            albedo = albedo * (1 - a[:, None]) + 0.6 * identity["hair"] * a[:, None]

        # Eyeball: sclera, iris disc, pupil, around the rest forward axis of this eye.
        on_eye = self.eye_tri[eye][tri]
        centre = joints_rest[self.eye_joint[eye]]
        u = pos_rest[on_eye] - centre
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        rho = np.degrees(np.arccos(np.clip(u @ self.FORWARD, -1, 1))) / view["iris_deg"]
        theta = np.arctan2(u[:, 1], u[:, 0])
        streak = sum(np.sin(k * theta + rng.uniform(0, 6.3)) * rng.uniform(0, 0.12) for k in (7, 13, 23, 41))
        # Radial streaks, darker towards the rim, a little brighter round the pupil.
        iris_rgb = identity["iris_rgb"] * (1 + streak)[:, None] * (0.8 + 0.35 * np.clip(1 - rho, 0, 1))[:, None]
        pupil_rgb = np.full(3, rng.uniform(0.01, 0.06))
        sclera = view["sclera"] * np.array([1.0, 0.95, 0.93]) * (1 - 0.25 * np.clip(rho - 1.6, 0, 2))[:, None]
        eye_alb = np.where((rho < 1)[:, None], iris_rgb, sclera)
        soft = np.clip((rho - view["pupil"]) / 0.08, 0, 1)[:, None]
        eye_alb = np.where((rho < view["pupil"] + 0.08)[:, None], pupil_rgb * (1 - soft) + iris_rgb * soft, eye_alb)
        edge = np.clip(1 - np.abs(rho - 1) / 0.12, 0, 1)[:, None]  # limbal ring
        eye_alb = eye_alb * (1 - 0.5 * edge)
        albedo[on_eye] = eye_alb

        spec = np.where(on_eye, view["spec"] * spec_cos ** view["shine"], 0.08 * view["spec"] * spec_cos ** 20)
        rgb = np.clip(albedo * shade + spec[:, None], 0, 1)
        img = res.rgba[..., :3].copy()
        img[mask] = float_to_uint8(rgb)

        # Label: the eyeball's front pole, through the rendered mesh.
        eye_faces = self.faces[self.eye_tri[eye]]
        k, b = _ray_mesh(centre, self.FORWARD, rest[eye_faces])
        pole = b @ verts[eye_faces[k]]
        screen = cam.project(np.vstack([pole, lm[list(ids)]]))
        iris, corners = screen[0, :2], screen[1:, :2]
        px = np.clip(iris.astype(int), 0, size - 1)
        hit = res.raster.triangle_id[px[1], px[0]]
        visible = bool(hit >= 0 and self.eye_tri[eye][hit] and abs(res.raster.depth[px[1], px[0]] - screen[0, 2]) < 0.004)
        return EyeSample(image=img, corners=corners, iris=iris, eye=eye, visible=visible,
                         pupil_rgb=tuple(pupil_rgb), iris_rgb=tuple(identity["iris_rgb"]))


def render_identity(renderer: EyeRenderer, rng: np.random.Generator, renders: int) -> list[EyeSample]:
    """``2 * renders`` eyes of one random identity, from random views.

    Eyes whose iris centre is hidden (by a lid, or the eye turned away) are dropped and more
    views rendered, up to ``3 * renders`` views in all.
    """
    identity = renderer.random_identity(rng)
    out: list[EyeSample] = []
    for _ in range(3 * renders):
        out += [s for s in renderer.render(identity, renderer.random_view(rng), rng) if s.visible]
        if len(out) >= 2 * renders:
            break
    return out[: 2 * renders]


# ---------------------------------------------------------------------------------- photos
def _photos() -> list[tuple[str, np.ndarray]]:
    import matplotlib.cbook as cbook
    from PIL import Image
    from skimage import data

    with Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as img:
        grace = np.asarray(img.convert("RGB")).copy()
    return [("photo:astronaut", np.ascontiguousarray(data.astronaut())), ("photo:grace_hopper", grace)]


def photo_samples(size: int = CONTEXT_SIZE) -> list[tuple[str, list[EyeSample]]]:
    """The offline photos' eyes, labelled by mediapipe (corners 33/133, 362/263; iris 468/473)."""
    from avatarforge.perception.face import face_landmarks

    out = []
    for name, rgb in _photos():
        pts = face_landmarks(rgb).points[:, :2]
        eyes = []
        for eye, ids, iris_id in (("right", RIGHT_EYE, RIGHT_IRIS_CENTER), ("left", LEFT_EYE, LEFT_IRIS_CENTER)):
            corners = pts[list(ids)]
            span = float(np.clip(np.linalg.norm(corners[1] - corners[0]), *CONTEXT_SPAN))
            crop = crop_eye(rgb, corners, size=size, span=span / size)
            eyes.append(EyeSample(image=crop.image, corners=crop.to_crop(corners), iris=crop.to_crop(pts[iris_id]), eye=eye))
        out.append((name, eyes))
    return out


# ---------------------------------------------------------------------------------- set
def split_identities(n: int, seed: int, fractions=(0.8, 0.1, 0.1)) -> Int[np.ndarray, " n"]:
    """Split ids 0..n-1 into 0 train / 1 val / 2 test by a seeded permutation.

    Val and test get ``round(fraction * n)`` identities each (at least one each when n >= 3);
    the rest is train. For n == 2: one train, one test.
    """
    perm = np.random.default_rng(seed).permutation(n)
    split = np.zeros(n, dtype=np.int64)
    if n == 2:
        split[perm[1]] = 2
        return split
    n_val = max(1, round(fractions[1] * n)) if n >= 3 else 0
    n_test = max(1, round(fractions[2] * n)) if n >= 3 else 0
    split[perm[:n_val]] = 1
    split[perm[n_val:n_val + n_test]] = 2
    return split


def build_eye_set(config: EyeDataConfig = EyeDataConfig(), progress: Callable[[int, int], None] | None = None,
                  renderer: EyeRenderer | None = None) -> EyeSet:
    """Generate the data set (deterministic for a config); see the module doc."""
    rng = np.random.default_rng(config.seed)
    renderer = EyeRenderer() if renderer is None else renderer
    samples, identity, source, names = [], [], [], []
    seeds = rng.integers(0, 2**63 - 1, config.identities)
    for i in range(config.identities):
        eyes = render_identity(renderer, np.random.default_rng(seeds[i]), config.renders_per_identity)
        samples += eyes
        identity += [len(names)] * len(eyes)
        source += [0] * len(eyes)
        names.append(f"render:{i}")
        if progress:
            progress(i + 1, config.identities)
    split = np.zeros(len(samples), dtype=np.int64)
    split[:] = split_identities(len(names), config.seed)[np.asarray(identity, dtype=np.int64)]
    if config.photos:
        photos = photo_samples()
        photo_split = split_identities(len(photos), config.seed + 1)
        for (name, eyes), s in zip(photos, photo_split):
            samples += eyes
            identity += [len(names)] * len(eyes)
            source += [1] * len(eyes)
            names.append(name)
            split = np.concatenate([split, np.full(len(eyes), s)])
    return EyeSet(
        images=np.stack([s.image for s in samples]), corners=np.stack([s.corners for s in samples]),
        iris=np.stack([s.iris for s in samples]), identity=np.asarray(identity, dtype=np.int64),
        source=np.asarray(source, dtype=np.int64), split=split, identity_names=names, config=asdict(config))


def load_eye_set(config: EyeDataConfig = EyeDataConfig(), progress=None, cache: Path | None = None) -> EyeSet:
    """The data set of ``config``, from the cache when present (``cache_dir()/eyes/<key>.npz``)."""
    from avatarforge.util.paths import cache_dir

    path = Path(cache) if cache is not None else cache_dir() / "eyes" / f"eyeset-{config.key()}.npz"
    if path.exists():
        return EyeSet.load(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = build_eye_set(config, progress)
    data.save(path)
    return data


# ---------------------------------------------------------------------------------- crops
def clean_crop(image: np.ndarray, corners: np.ndarray, iris: np.ndarray, size: int = CROP_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """The network crop of a context sample from its corners, and the label in crop pixels."""
    crop = crop_eye(image, corners, size)
    return crop.image, crop.to_crop(iris)


def augment(image: np.ndarray, corners: np.ndarray, iris: np.ndarray, rng: np.random.Generator,
            size: int = CROP_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """A randomly perturbed network crop and its label (crop pixels).

    Geometry: corner noise (a detector's error, ~4% of the corner distance each), crop shift
    (+-12%), scale (+-15%) and rotation (+-12 deg) beyond that, and a horizontal flip half the
    time (a flipped right eye looks like a left one: x -> size - x). Photometry: brightness,
    contrast, per-channel gain, gamma, blur, noise, JPEG.
    """
    c = np.asarray(corners, dtype=np.float64)
    dist = np.linalg.norm(c[1] - c[0])
    c = c + rng.normal(0, 0.04 * dist, (2, 2))
    A = eye_similarity(c, size, CORNER_SPAN)
    ang = np.radians(rng.uniform(-12, 12))
    s = math.exp(rng.uniform(-0.15, 0.15))
    R = s * np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
    shift = rng.uniform(-0.12, 0.12, 2) * size
    centre = np.array([size / 2, size / 2])
    # Perturb around the crop centre: q' = R (q - centre) + centre + shift.
    A = np.column_stack([R @ A[:, :2], R @ (A[:, 2] - centre) + centre + shift])
    crop = warp(image, A, size)
    label = A[:, :2] @ np.asarray(iris, dtype=np.float64) + A[:, 2]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
        label = np.array([size - label[0], label[1]])
    x = crop.astype(np.float32) / 255.0
    if rng.random() < 0.2:
        x = x.mean(2, keepdims=True).repeat(3, 2)
    x = x * rng.uniform(0.7, 1.3) * rng.uniform(0.85, 1.15, 3) + rng.uniform(-0.08, 0.08)
    x = (x - x.mean()) * rng.uniform(0.7, 1.3) + x.mean()
    x = np.clip(x, 0, 1) ** rng.uniform(0.75, 1.3)
    if rng.random() < 0.4:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.2))
    if rng.random() < 0.6:
        x = x + rng.normal(0, rng.uniform(0.005, 0.04), x.shape)
    out = float_to_uint8(x)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])
        out = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    return np.ascontiguousarray(out), label
