"""Mesh-guided photo animation: fit the face once, pose the fitted head, warp the photo.

:meth:`MeshAnimator.from_image` detects the face and fits the body model's head to it
(:func:`avatarforge.fitting.face_fit.fit_face`: identity, expression, head pose, camera).
:meth:`MeshAnimator.render` poses that head for a :class:`FacePose` (any of the 52 ARKit
actions, head/neck rotation, gaze), projects the fitted and the posed head with the fitted
camera, and warps the photo by the dense 2D motion between them (:mod:`.mesh_warp`): exact on
the visible head, faded to zero over :attr:`MeshAnimatorConfig.falloff` face heights beyond
it and by the person mask (the background stays as it was). What the photo never showed is
painted (:mod:`.mesh_fill`): the mouth interior where the lips part, the lid skin where a lid
now covers the eye; the far side of a turned head is stretched from what is visible. The
output has the input's size, framing and channels; pixels the pose does not move are the
input's, bit for bit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch
from jaxtyping import Float, UInt8

from avatarforge.errors import UserInputError
from avatarforge.perception import landmark_groups as lg
from avatarforge.portrait.mesh_fill import closed_lid, median_colour, mouth_interior, polygon_mask, resample_path
from avatarforge.portrait.mesh_warp import (backward_warp, extend_flow, mesh_flow, project_points, source_view,
                                            upsample_flow)
from avatarforge.portrait.pose import MAX_DEGREES, TalkingPose
from avatarforge.util.image import smoothstep

__all__ = ["FacePose", "MeshAnimatorConfig", "MeshAnimator"]


@dataclass(frozen=True)
class FacePose:
    """A target pose of the photo's face, relative to the photo.

    ``actions`` set ARKit actions to absolute values (the others keep the photo's fitted
    values); ``head`` adds degrees to the fitted head rotation (``pose.head.x/y/z``: +x face
    down, +y face to the subject's left, +z top of the head to the image's left); ``gaze``
    adds degrees to both eyes' rotation (x: down, y: to the subject's left). The default is the
    photo itself.
    """

    actions: Mapping[str, float] = field(default_factory=dict)
    head: tuple[float, float, float] = (0.0, 0.0, 0.0)
    gaze: tuple[float, float] = (0.0, 0.0)


@dataclass
class MeshAnimatorConfig:
    """Settings of :class:`MeshAnimator`."""

    falloff: float = 0.5
    """Distance (in face heights, forehead to chin) over which the motion fades beyond the head."""
    person_margin: float = 0.02
    """The motion fades to zero over this many face heights beyond the person mask: further
    out, the background stays as it was."""
    segment: bool = True
    """Without a transparent background, find the person with MediaPipe's selfie segmentation
    (else the motion is limited by the falloff only)."""
    jaw_max: float = 0.7
    """``jawOpen`` at the talking-head value mouth = 1."""
    fill: bool = True
    """Paint the mouth interior and closed lids."""
    eye_net: bool = True
    """Aim the fitted eyes with the iris network (as ``avatarforge face``)."""
    flow_step: int = 4
    """The mesh motion is computed on pixels this many times larger and upsampled (it is
    smooth; 1 = at full resolution)."""
    feather: float = 0.03
    """Width (in face heights) over which the motion blends between the exact mesh motion, the
    stretched parts and the still background (no seams)."""
    interpolation: str = "cubic"
    """Resampling of the photo: ``cubic`` (keeps its detail), ``lanczos`` or ``linear`` (blurs)."""


def _cycle(upper: list[int], lower: list[int]) -> list[int]:
    return list(upper) + list(lower[::-1][1:-1])


_INTERPOLATION = {"cubic": 2, "lanczos": 4, "linear": 1}
"""cv2 interpolation flags (INTER_CUBIC, INTER_LANCZOS4, INTER_LINEAR)."""

_LID_ACTIONS = ("eyeBlinkLeft", "eyeBlinkRight", "eyeWideLeft", "eyeWideRight")
"""Facial actions drawn by painting the lids rather than by the warp."""
_EYES = {"L": (lg.LEFT_EYE_UPPER, lg.LEFT_EYE_LOWER), "R": (lg.RIGHT_EYE_UPPER, lg.RIGHT_EYE_LOWER)}


class MeshAnimator:
    """One photo, its fitted head, and :meth:`render` for target poses."""

    def __init__(self, image: UInt8[np.ndarray, "H W C"], fit, body, config: MeshAnimatorConfig | None = None,
                 person: Float[np.ndarray, "H W"] | None = None):
        """``image``: RGB or RGBA (straight alpha); ``fit``: its ``FaceFit``; ``person``: a soft
        person mask in [0, 1] (None: the alpha channel when it has transparency, else none)."""
        import cv2

        from avatarforge.bodies.head_mesh import head_faces
        from avatarforge.bodies.landmark_embedding import load_embedding
        from avatarforge.fitting.face_fit import CAMERA_ROTATION
        from avatarforge.fitting.head_model import HeadModel

        if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
            raise UserInputError(f"expected an 8-bit RGB or RGBA image, got {image.shape} {image.dtype}")
        self.image, self.fit, self.body = image, fit, body
        self.cfg = config or MeshAnimatorConfig()
        cam = fit.camera
        if not np.allclose(cam.R, CAMERA_ROTATION):
            raise UserInputError("the face fit's camera is not the fitting camera")
        self.height, self.width = image.shape[:2]
        if (cam.width, cam.height) != (self.width, self.height):
            raise UserInputError(f"the face fit is for a {cam.width}x{cam.height} image, got {self.width}x{self.height}")
        self.intrinsics = (cam.fx, cam.fy, cam.cx, cam.cy)
        faces = body.faces.numpy()
        keep = faces[head_faces(body, faces)]
        ids = np.unique(keep)
        remap = np.full(len(body.skin_weights), -1, np.int64)
        remap[ids] = np.arange(len(ids))
        self.faces = remap[keep]
        values = body.params.complete(fit.values)
        t = lambda names: torch.tensor([[values[n] for n in names]], dtype=torch.float32)  # noqa: E731
        self.model = HeadModel(body, ids)
        phen, local = t(body.phenotype_names), t(body.local_names)
        self.expression_names = tuple(body.expression_names)
        self.expr0 = t(self.expression_names)
        self._lid_ids = [self.expression_names.index(n) for n in _LID_ACTIONS if n in self.expression_names]
        self.head0 = t([f"pose.head.{a}" for a in "xyz"])
        self.eyes0 = torch.stack([t([f"pose.eye.{s}.{a}" for a in "xyz"])[0] for s in "LR"])[None]
        self.by_expression = self.model.expression_rest(phen, local)
        with torch.no_grad():
            ground = self.model.ground_offset(phen, local, self.expr0)[0].numpy().astype(np.float64)
        self._to_cam = (cam.R, cam.t + cam.R @ ground)
        # landmarks on the slice: (478, 3) slice vertex ids + barycentrics
        emb = load_embedding("mediapipe478")
        lm_full = emb.vertex_ids(faces)
        self.lm_ids, self.lm_bary = remap[lm_full], emb.bary
        if (self.lm_ids < 0).any():
            raise UserInputError("the body's face landmarks are not on its head mesh")
        self.src_cam = self._camera_points(self.expr0, self.head0, self.eyes0)
        src_px = project_points(self.src_cam, *self.intrinsics)
        self.src_lm = self._landmarks(src_px)
        self.face_height = float(np.linalg.norm(self.src_lm[lg.FOREHEAD_TOP] - self.src_lm[lg.CHIN]))
        self.src_box = np.concatenate([src_px.min(0), src_px.max(0)])
        if self.cfg.flow_step < 1 or self.cfg.interpolation not in _INTERPOLATION:
            raise UserInputError(f"flow_step must be >= 1 and interpolation one of {', '.join(_INTERPOLATION)}")
        # what the photo saw of the head (what a turn uncovers is stretched from around it)
        self.view = source_view(self.src_cam, self.faces, self.intrinsics, self.height, self.width)
        # the person mask, grown and softened: where motion may reach beyond the head
        if person is None and image.shape[2] == 4 and (image[..., 3] < 250).mean() > 0.01:
            person = image[..., 3].astype(np.float64) / 255
        self.soft_person = None
        if person is not None:
            grow = max(1.0, self.cfg.person_margin * self.face_height)
            dist = cv2.distanceTransform(np.where(person > 0.5, 0, 255).astype(np.uint8), cv2.DIST_L2, 5)
            self.soft_person = smoothstep(1.0 - dist / grow).astype(np.float32)  # 1 on the person, 0 from `grow` px out
        self._colours()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_image(cls, image: UInt8[np.ndarray, "H W C"], body=None, config: MeshAnimatorConfig | None = None,
                   person: Float[np.ndarray, "H W"] | None = None, fit_config=None) -> "MeshAnimator":
        """Detect the face in ``image`` and fit it (raises :class:`UserInputError` without a face)."""
        from avatarforge.bodies import load_body
        from avatarforge.fitting.face_fit import fit_face
        from avatarforge.perception.face import face_landmarks

        cfg = config or MeshAnimatorConfig()
        rgb = np.ascontiguousarray(image[..., :3])
        lm = face_landmarks(rgb)
        targets = lm.points
        if cfg.eye_net:
            from avatarforge.perception.iris import refine_iris_points

            targets = refine_iris_points(rgb, lm.points).points
        body = body or load_body()
        transparent = image.shape[2] == 4 and (image[..., 3] < 250).mean() > 0.01
        if person is None and cfg.segment and not transparent:
            from avatarforge.perception.segmentation import person_mask

            person = person_mask(rgb)
        return cls(image, fit_face(targets, lm.image_size, body, fit_config), body, cfg, person)

    # ------------------------------------------------------------------ geometry
    def _camera_points(self, expr, head, eyes) -> Float[np.ndarray, "V 3"]:
        with torch.no_grad():
            verts, _ = self.model.pose(*self.by_expression(expr), head, eyes)
        v = verts[0].numpy().astype(np.float64)
        r, t = self._to_cam
        return v @ r.T + t

    def _landmarks(self, px: Float[np.ndarray, "V 2"]) -> Float[np.ndarray, "478 2"]:
        # l: landmark, k: corner
        return np.einsum("lkc,lk->lc", px[self.lm_ids], self.lm_bary)

    def _colours(self) -> None:
        import cv2

        img, lm, shape = self.image, self.src_lm, (self.height, self.width)
        inner = polygon_mask(shape, lm[_cycle(lg.LIPS_INNER_UPPER, lg.LIPS_INNER_LOWER)])
        outer = polygon_mask(shape, lm[_cycle(lg.LIPS_OUTER_UPPER, lg.LIPS_OUTER_LOWER)])
        self.src_mouth = cv2.dilate(inner.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        self.src_lip_gap = self._gap(lm, lg.LIPS_INNER_UPPER, lg.LIPS_INNER_LOWER)
        self.lip_rgb = median_colour(img, outer & ~inner, (150, 80, 80))
        # the photo's own teeth when its mouth shows them (bright pixels between the lips)
        px = img[..., :3][inner].astype(np.float64)
        bright = px[px.mean(1) > max(140.0, np.percentile(px.mean(1), 70))] if len(px) > 20 else px[:0]
        self.teeth_rgb = np.median(bright, 0) if len(bright) > 10 else None
        self.skin_rgb = median_colour(img, polygon_mask(shape, lm[list(lg.FACE_OVAL)]) & ~outer, (180, 140, 120))
        self.src_eyes, self.lid_rgb, self.lash_rgb = {}, {}, {}
        for side, (up, lo) in _EYES.items():
            eye = polygon_mask(shape, lm[_cycle(up, lo)])
            width = float(np.linalg.norm(lm[up[0]] - lm[up[-1]]))
            upper = lm[list(up)]
            # the lid's skin: a band above the lash line
            band = polygon_mask(shape, np.concatenate([upper - [0, 0.08 * width],
                                                       (upper - [0, 0.25 * width])[::-1]])) & ~eye
            self.src_eyes[side] = eye
            self.lid_rgb[side] = median_colour(img, band, self.skin_rgb)
            line = polygon_mask(shape, np.concatenate([upper + [0, 1.0], (upper - [0, 1.0])[::-1]]))
            px = img[..., :3][line]
            self.lash_rgb[side] = (np.percentile(px, 15, axis=0) if len(px) else self.lid_rgb[side] * 0.3)

    @staticmethod
    def _gap(lm: np.ndarray, upper: list[int], lower: list[int]) -> float:
        """Mean distance between facing interior points of two corner-to-corner paths."""
        return float(np.linalg.norm(lm[list(upper[1:-1])] - lm[list(lower[1:-1])], axis=1).mean())


    # ------------------------------------------------------------------ poses
    def pose_from_talking(self, pose: TalkingPose) -> FacePose:
        """The six talking-head values as a :class:`FacePose` (0 = the photo as it is): eye
        closure moves ``eyeBlink*`` from the photo's value towards 1, mouth moves ``jawOpen``
        towards :attr:`MeshAnimatorConfig.jaw_max`, rotations are +-15 degrees."""
        e0 = dict(zip(self.expression_names, self.expr0[0].tolist()))
        actions = {}
        for name, v, top in (("eyeBlinkLeft", pose.left_eye, 1.0), ("eyeBlinkRight", pose.right_eye, 1.0),
                             ("jawOpen", pose.mouth, self.cfg.jaw_max)):
            if v > 0:
                actions[name] = e0[name] + v * max(top - e0[name], 0.0)
        return FacePose(actions=actions, head=(pose.head_x * MAX_DEGREES, pose.head_y * MAX_DEGREES,
                                               pose.neck_z * MAX_DEGREES))

    def _targets(self, pose: FacePose):
        expr = self.expr0.clone()
        for name, v in pose.actions.items():
            if name not in self.expression_names:
                raise UserInputError(f"unknown facial action {name!r}: use one of {', '.join(self.expression_names)}")
            if not 0.0 <= float(v) <= 1.0:
                raise UserInputError(f"facial action {name} must be in [0, 1], got {v}")
            expr[0, self.expression_names.index(name)] = float(v)
        head = self.head0 + torch.tensor([pose.head], dtype=torch.float32)
        gx, gy = pose.gaze
        eyes = self.eyes0 + torch.tensor([[[gx, gy, 0.0], [gx, gy, 0.0]]], dtype=torch.float32)
        return expr, head, eyes

    def is_identity(self, pose: FacePose) -> bool:
        expr, head, eyes = self._targets(pose)
        return bool(torch.equal(expr, self.expr0) and torch.equal(head, self.head0) and torch.equal(eyes, self.eyes0))

    # ------------------------------------------------------------------ rendering
    def render(self, pose: FacePose | TalkingPose | None = None) -> UInt8[np.ndarray, "H W C"]:
        """The photo in ``pose`` (same size and channels; the photo itself at the identity)."""
        import cv2

        if pose is None:
            return self.image.copy()
        if isinstance(pose, TalkingPose):
            pose = self.pose_from_talking(pose)
        if self.is_identity(pose):
            return self.image.copy()
        expr, head, eyes = self._targets(pose)
        # The lids are painted, not warped (a closing lid would drag the brow down over the
        # eye): the warp keeps the photo's blink/wide values, the painted lid edge uses the pose's.
        warp_expr = expr.clone()
        warp_expr[0, self._lid_ids] = self.expr0[0, self._lid_ids]
        tgt_cam = self._camera_points(warp_expr, head, eyes)
        tgt_px = project_points(tgt_cam, *self.intrinsics)
        # how far each lid closes over what the photo showed (0 = as in the photo, 1 = shut)
        closures = {}
        for side, name in (("L", "eyeBlinkLeft"), ("R", "eyeBlinkRight")):
            i = self.expression_names.index(name)
            b0, b = float(self.expr0[0, i]), float(expr[0, i])
            closures[side] = float(np.clip((b - b0) / max(1.0 - b0, 1e-6), 0.0, 1.0))
        radius = self.cfg.falloff * self.face_height
        q = self.cfg.flow_step
        lo = np.minimum(self.src_box[:2], tgt_px.min(0)) - radius - 2
        hi = np.maximum(self.src_box[2:], tgt_px.max(0)) + radius + 2
        # the window, on whole coarse pixels (its far edges may pass the image's)
        c0, r0 = (max(0, int(np.floor(v / q))) * q for v in lo)
        c1 = int(np.ceil(min(self.width, hi[0]) / q)) * q
        r1 = int(np.ceil(min(self.height, hi[1]) / q)) * q
        if c1 <= c0 or r1 <= r0:
            return self.image.copy()
        hq, wq = (r1 - r0) // q, (c1 - c0) // q
        fx, fy, cx, cy = self.intrinsics
        flow_q, mask_q, conf_q = mesh_flow(self.src_cam, tgt_cam, self.faces, (fx / q, fy / q, cx / q, cy / q),
                                           hq, wq, (r0 // q, c0 // q), self.view)
        tgt_lm = self._landmarks(tgt_px)
        # Inside the lips the mesh's mouth interior is not the photo's: move it with the lips.
        lips = tgt_lm[_cycle(lg.LIPS_INNER_UPPER, lg.LIPS_INNER_LOWER)]
        conf_q[polygon_mask((hq, wq), (lips - [c0, r0]) / q)] = 0.0
        h, w = min(r1, self.height) - r0, min(c1, self.width) - c0
        still = None
        if self.soft_person is not None:
            # a coarse pixel is still when all of it is background (pad: the window may pass the
            # image); the upsampled motion is exactly 0 where its coarse neighbours are all still
            person = np.zeros((r1 - r0, c1 - c0), np.float32)
            person[:h, :w] = self.soft_person[r0:r0 + h, c0:c0 + w]
            still = (cv2.resize(person, (wq, hq), interpolation=cv2.INTER_AREA) < 1e-4).astype(np.float32)
        flow_q = extend_flow(flow_q, mask_q, radius / q, None, conf_q, still, self.cfg.feather * self.face_height / q)
        flow = upsample_flow(flow_q, q)[:h, :w]
        out = backward_warp(self.image, flow, (r0, c0), _INTERPOLATION[self.cfg.interpolation])
        if self.cfg.fill:
            self._fill(out, flow, tgt_lm, closures, (r0, c0, h, w))
        return out

    def _fill(self, out: np.ndarray, flow: np.ndarray, tgt_lm: np.ndarray, closures: dict[str, float],
              window) -> None:
        """Paint the mouth interior and closed lids into ``out``; each in a small box around
        its feature (``window`` = the flow's (row, col, height, width) in the image)."""
        import cv2

        r0, c0, h, w = window

        def box(points: np.ndarray, pad: float):
            """(rows, cols, origin, flow) of the window part around ``points`` (image pixels)."""
            x0, y0 = np.floor(points.min(0) - pad).astype(int) - [c0, r0]
            x1, y1 = np.ceil(points.max(0) + pad).astype(int) - [c0, r0]
            x0, y0, x1, y1 = max(int(x0), 0), max(int(y0), 0), min(int(x1), w), min(int(y1), h)
            if x1 <= x0 or y1 <= y0:
                return None
            jj, ii = np.meshgrid(np.arange(x0, x1), np.arange(y0, y1))
            f = flow[y0:y1, x0:x1]
            sx = np.clip(np.floor(jj + c0 + 0.5 + f[..., 0]).astype(int), 0, self.width - 1)
            sy = np.clip(np.floor(ii + r0 + 0.5 + f[..., 1]).astype(int), 0, self.height - 1)
            return (y1 - y0, x1 - x0), np.array([x0 + c0, y0 + r0], float), sx, sy

        def blend(rgb: np.ndarray, alpha: np.ndarray, origin: np.ndarray) -> None:
            x, y = int(origin[0]), int(origin[1])
            part = out[y:y + alpha.shape[0], x:x + alpha.shape[1]]
            touched = alpha > 1e-3
            a = alpha[touched][:, None]
            blended = part[..., :3][touched] * (1 - a) + rgb[touched] * a
            part[..., :3][touched] = np.clip(np.round(blended), 0, 255).astype(np.uint8)

        lm = tgt_lm
        # the mouth: inside the posed inner lips, where the sample did not come from the photo's own mouth
        inner = lm[_cycle(lg.LIPS_INNER_UPPER, lg.LIPS_INNER_LOWER)]
        opening = self._gap(lm, lg.LIPS_INNER_UPPER, lg.LIPS_INNER_LOWER) - self.src_lip_gap
        mouth_w = float(np.linalg.norm(lm[lg.MOUTH_LEFT] - lm[lg.MOUTH_RIGHT]))
        b = box(inner, 3) if opening > 1.0 else None
        if b is not None:
            shape, origin, sx, sy = b
            new = polygon_mask(shape, inner - origin)
            if opening < 0.1 * mouth_w:  # a little wider: keep what the photo's own mouth showed
                new &= ~self.src_mouth[sy, sx]
            if new.sum() > 2:
                rgb, alpha = mouth_interior(shape, lm[list(lg.LIPS_INNER_UPPER)] - origin,
                                            lm[list(lg.LIPS_INNER_LOWER)] - origin, self.lip_rgb, self.skin_rgb,
                                            mouth_w, self.teeth_rgb)
                blend(rgb, alpha * cv2.GaussianBlur(new.astype(np.float64), (0, 0), 0.7), origin)
        # the eyes: what showed the eye in the photo and lies outside the posed lids now
        for side, (up, lo) in _EYES.items():
            closure = closures[side]
            if closure < 0.02:
                continue
            width = float(np.linalg.norm(lm[up[0]] - lm[up[-1]]))
            b = box(lm[[*up, *lo]], 0.3 * width + 3)
            if b is None:
                continue
            shape, origin, sx, sy = b
            # the upper lid slides down to the lower one (the body's blink barely moves the
            # embedded lid landmarks, so the lid edge is placed here)
            upper, lower = resample_path(lm[list(up)] - origin, 16), resample_path(lm[list(lo)] - origin, 16)
            if np.linalg.norm(upper[0] - lower[0]) > np.linalg.norm(upper[0] - lower[-1]):
                lower = lower[::-1]
            edge = upper + closure * (lower - upper)
            still_open = polygon_mask(shape, np.concatenate([edge, lower[::-1]]))
            covered = self.src_eyes[side][sy, sx] & ~still_open
            # the photo's upper lash line lies just above the eye's outline: the lid covers it too
            # (left in place it outlines the closed lid); one pixel all round for the outline
            up_px = max(1, int(round(0.12 * width)))
            grown = cv2.dilate(covered.astype(np.uint8), np.ones((3, 3), np.uint8))
            grown = cv2.dilate(grown, np.ones((up_px + 1, 1), np.uint8), anchor=(0, 0))  # upwards
            covered = grown.astype(bool) & ~still_open
            y, x = int(origin[1]), int(origin[0])
            window = out[y:y + shape[0], x:x + shape[1]]
            blend(*closed_lid(window, covered, edge, self.lash_rgb[side], width, closure), origin)

    def pose_image(self, image: np.ndarray, pose: TalkingPose) -> UInt8[np.ndarray, "H W 4"]:
        """The neural poser's interface (for ``portrait live``): RGBA of :meth:`render`;
        ``image`` must be this animator's photo."""
        if image.shape[:2] != (self.height, self.width):
            raise UserInputError("the mesh animator poses the photo it was fitted to")
        out = self.render(pose)
        if out.shape[2] == 3:
            out = np.concatenate([out, np.full((*out.shape[:2], 1), 255, np.uint8)], 2)
        return out
