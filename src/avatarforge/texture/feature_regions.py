"""Where the face's features are in texture space: skin, eyes, brows, lips, eyeballs, scalp.

Features are outlined by the MediaPipe landmarks embedded on the mesh
(:mod:`avatarforge.bodies.landmark_embedding`), drawn in a frontal orthographic view of the *rest*
mesh and carried to the texels by their rest-pose 3D points (only front-facing head texels
can be inside a feature). This is robust where the UV layout is not: some eye-contour
landmarks sit on the eyeball, whose UVs are an island of their own. Eyeballs, cavities and
the tongue come from Anny's part segmentation (:mod:`.uv_parts`). Depends on topology only,
so it is computed once per (body, size) and cached in memory.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
from jaxtyping import Bool, Float, Int

from avatarforge.perception import landmark_groups as lg
from avatarforge.texture.layout import TexelLayout, texel_layout, texel_surface, unpack
from avatarforge.texture.uv_parts import face_parts, part_ids
from avatarforge.util.npcache import array_digest, disk_cached

__all__ = ["UVRegions", "uv_regions", "regions_for", "feature_masks_2d"]

_RES = 4000.0  # pixels per metre of the frontal feature view (0.25 mm)


@dataclass(frozen=True)
class UVRegions:
    """Per-texel region maps of an (S, S) texture (False / 0 on uncovered texels)."""

    part: Int[np.ndarray, "S S"]
    """int8 body-part label (:data:`.uv_parts.PART_NAMES`), -1 on uncovered texels."""
    head: Bool[np.ndarray, "S S"]
    """Head surface (skin of head and neck top; not eyeballs, cavities or tongue)."""
    face: Bool[np.ndarray, "S S"]
    """Inside the face oval (front of the head)."""
    skin: Bool[np.ndarray, "S S"]
    """Reliable face skin: cheeks, forehead, nose, chin -- face oval eroded, away from eyes, brows, lips."""
    eyes: Bool[np.ndarray, "S S"]
    """Eye openings (eyelid contours, slightly dilated), on lids and eyeballs."""
    brows: Bool[np.ndarray, "S S"]
    lips: Bool[np.ndarray, "S S"]
    eyeball: Bool[np.ndarray, "S S"]
    """Eyeball geometry (Anny's eye_front / eye_back parts)."""
    interior: Bool[np.ndarray, "S S"]
    """Never-visible insides: eye and mouth cavities, tongue."""
    nostrils: Bool[np.ndarray, "S S"]
    """Underside of the nose around the nostrils (dark by nature, not by shadow)."""
    iris_angle: Float[np.ndarray, "S S"]
    """On eyeballs: angle (degrees) between the texel's rest direction from the eyeball centre
    and the gaze (+Z); NaN elsewhere."""
    scalp: Float[np.ndarray, "S S"]
    """0..1: how surely the head texel is scalp (above the ears, outside the face)."""


def _polygon(points: np.ndarray, ids) -> np.ndarray:
    return points[list(ids), :2]


def feature_masks_2d(landmarks: Float[np.ndarray, "478 3"]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Feature masks in a frontal view of 3D landmarks (metres; x left-of-body, y up).

    Returns ``(masks, origin)``: boolean images keyed face/eyes/brows/lips/skin and the world
    ``(x, y)`` of pixel (0, 0); pixel ``(r, c)`` is at ``origin + (c, -r) / _RES``.
    """
    lo, hi = landmarks[:, :2].min(0) - 0.03, landmarks[:, :2].max(0) + 0.03
    w, h = (np.ceil((hi - lo) * _RES)).astype(int)
    origin = np.array([lo[0], hi[1]])

    def draw(*polys: np.ndarray, dilate_mm: float = 0.0) -> np.ndarray:
        m = np.zeros((h, w), np.uint8)
        for p in polys:
            px = np.stack([(p[:, 0] - origin[0]) * _RES, (origin[1] - p[:, 1]) * _RES], -1)
            cv2.fillPoly(m, [np.round(px * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
        if dilate_mm:
            r = int(round(abs(dilate_mm) * _RES / 1000))
            k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
            m = cv2.dilate(m, k) if dilate_mm > 0 else cv2.erode(m, k)
        return m.astype(bool)

    lm = landmarks
    brows = [_polygon(lm, up + low[::-1]) for up, low in ((lg.LEFT_EYEBROW_UPPER, lg.LEFT_EYEBROW_LOWER),
                                                          (lg.RIGHT_EYEBROW_UPPER, lg.RIGHT_EYEBROW_LOWER))]
    eyes = [_polygon(lm, lg.LEFT_EYE), _polygon(lm, lg.RIGHT_EYE)]
    lips = _polygon(lm, lg.LIPS_OUTER)
    masks = {
        "face": draw(_polygon(lm, lg.FACE_OVAL)),
        "eyes": draw(*eyes, dilate_mm=1.0),
        "brows": draw(*brows, dilate_mm=1.5),
        "lips": draw(lips, dilate_mm=0.5),
    }
    masks["skin"] = (draw(_polygon(lm, lg.FACE_OVAL), dilate_mm=-6.0) & ~draw(*eyes, dilate_mm=7.0)
                     & ~draw(*brows, dilate_mm=4.0) & ~draw(lips, dilate_mm=5.0))
    return masks, origin


def uv_regions(rest_vertices: Float[np.ndarray, "V 3"], faces: Int[np.ndarray, "F 3"], uvs: Float[np.ndarray, "T 2"],
               uv_faces: Int[np.ndarray, "F 3"], landmarks: Float[np.ndarray, "478 3"], size: int,
               layout: TexelLayout | None = None) -> UVRegions:
    """Region maps of an ``size x size`` texture from the rest mesh and its embedded 3D landmarks."""
    layout = layout or texel_layout(uvs, uv_faces, size)
    labels = face_parts(uvs, uv_faces)[layout.triangle]
    part = unpack(labels, layout, -1, np.int8)
    head_lbl = labels == part_ids("head")[0]
    eyeball = np.isin(labels, part_ids("eye_front*", "eye_back*"))
    interior = np.isin(labels, part_ids("eye_cavity*", "mouth_cavity", "tongue"))
    sel = np.flatnonzero(head_lbl | eyeball)
    surf = texel_surface(rest_vertices, faces, _subset(layout, sel))
    p, n = surf.positions, surf.normals

    masks, origin = feature_masks_2d(landmarks)
    h, w = masks["face"].shape
    col = np.round((p[:, 0] - origin[0]) * _RES).astype(int)
    row = np.round((origin[1] - p[:, 1]) * _RES).astype(int)
    inside = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    # Front of the face: ahead of the face oval's rim and facing forwards (or an eyeball).
    rim_z = landmarks[list(lg.FACE_OVAL), 2].min()
    front = inside & (p[:, 2] > rim_z - 0.01) & ((n[:, 2] > 0.05) | eyeball[sel])
    rc = (np.clip(row, 0, h - 1), np.clip(col, 0, w - 1))
    out = {}
    for name in ("face", "eyes", "brows", "lips", "skin"):
        m = np.zeros(len(layout.index), bool)
        m[sel] = front & masks[name][rc]
        if name == "skin":
            m &= head_lbl
        out[name] = unpack(m, layout, False, bool)

    # Nostrils: downward-facing skin within 2 cm of the point under the nose tip (landmark 2).
    sub = landmarks[2]
    near = np.linalg.norm(p[:, :2] - sub[:2], axis=1) < 0.02
    nostrils = np.zeros(len(layout.index), bool)
    nostrils[sel] = inside & near & (n[:, 1] < -0.3) & (p[:, 2] > sub[2] - 0.03)

    # Eyeballs: angle from the gaze, around each eyeball's centre (rest pose looks along +Z).
    angle = np.full(len(layout.index), np.nan, np.float32)
    for side in ("L", "R"):
        ids = part_ids(f"eye_front.{side}", f"eye_back.{side}")
        on = np.isin(labels[sel], ids)
        if on.any():
            centre = rest_vertices[np.unique(faces[np.isin(face_parts(uvs, uv_faces), ids)])].mean(0)
            d = p[on] - centre
            d /= np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
            angle[sel[on]] = np.degrees(np.arccos(np.clip(d[:, 2], -1, 1)))
    # Scalp: above a hairline at the eye line in front that drops 6 cm towards the nape
    # behind the ears (fading in over 4 cm), outside the face oval.
    eye_y = landmarks[[lg.LEFT_IRIS_CENTER, lg.RIGHT_IRIS_CENTER], 1].mean()
    back = np.clip((rim_z - 0.04 - p[:, 2]) / 0.06, 0.0, 1.0)
    s = np.clip((p[:, 1] - (eye_y - 0.01 - 0.06 * back)) / 0.04, 0.0, 1.0)
    s[out["face"].ravel()[layout.index[sel]]] = 0.0
    s[~head_lbl[sel]] = 0.0
    scalp = np.zeros(len(layout.index), np.float32)
    scalp[sel] = s
    boolean = lambda a: unpack(a, layout, False, bool)  # noqa: E731
    return UVRegions(part, boolean(head_lbl), out["face"], out["skin"], out["eyes"], out["brows"], out["lips"],
                     boolean(eyeball), boolean(interior), boolean(nostrils), unpack(angle, layout, np.nan),
                     unpack(scalp, layout))


def _subset(layout: TexelLayout, sel: np.ndarray) -> TexelLayout:
    return TexelLayout(layout.size, layout.index[sel], layout.triangle[sel], layout.bary[sel], layout.triangle_id)


_CACHE: OrderedDict = OrderedDict()
#: Bump when :func:`uv_regions` changes what it computes (invalidates the on-disk cache).
REGIONS_VERSION = 1


def regions_for(body, size: int) -> UVRegions:
    """:func:`uv_regions` of a body model's rest mesh and landmark embedding, cached in memory
    and on disk (``cache_dir()/texture``, keyed by the mesh, UVs, landmarks and size)."""
    from avatarforge.bodies.landmark_embedding import load_embedding

    key = (id(body), getattr(body, "name", ""), int(size))  # id: a body object stays alive while cached
    if key not in _CACHE or _CACHE[key][0] is not body:
        rest = body.forward_params({})
        v, f = rest.vertices[0].numpy(), rest.faces.numpy()
        emb = load_embedding("mediapipe478")
        lm = np.einsum("lk,lkc->lc", emb.bary, v[f[emb.triangles]])  # l: landmark, k: corner
        uvs, uvf = rest.uvs.numpy(), rest.uv_faces.numpy()
        digest = array_digest(v, f, uvs, uvf, lm, extra=f"regions-{REGIONS_VERSION}-{int(size)}")
        _CACHE[key] = (body, disk_cached("texture", digest, UVRegions,
                                         lambda: uv_regions(v, f, uvs, uvf, lm, size)))
        while len(_CACHE) > 3:
            _CACHE.popitem(last=False)
    return _CACHE[key][1]
