"""Photo parsing: a per-pixel label map of a portrait or full-body photo, offline.

Built from MediaPipe's bundled models and colour models, no network of its own:

* **person**: selfie segmentation (general model, :func:`person_mask`); person pixels not
  connected to the chosen face are *other people* (label ``occluder``);
* **face features**: polygons of the 478 face-mesh landmarks (face oval, eyes, brows, lips);
* **colour models** (Gaussian mixtures in CIELAB, :class:`ColourModel`): skin from the inner
  face (cheeks, forehead, nose; away from eyes, brows, lips and a possible glasses band),
  hair from the person pixels beside and above the face that are not skin, clothing from the
  chest below the chin;
* **body** (optional): the pose landmarks (:mod:`.pose`) place shoulders, hips and wrists:
  hands are skin-coloured pixels near the wrists, lower clothing starts at the hips.

Labels (:data:`LABELS`, index = value in the map): background, face_skin, hair, brows, eyes,
lips, glasses, headwear, body_skin (neck, arms, chest), upper_clothing, lower_clothing, hands,
occluder (other people, objects in front of the face).

Glasses and headwear are *detected* from the colour models and the landmarks
(:class:`Accessories`): glasses are a non-skin ring around the eyes plus a bar over the nose
bridge between them (frames), or dark lenses over the eye region (sunglasses); headwear is a
region above the forehead whose colour is neither skin nor the hair seen beside the face.
The scores and thresholds are documented on :data:`GLASSES_THRESHOLD` and
:data:`HEADWEAR_THRESHOLD`.

The map is computed at a working resolution (longer side <= :data:`WORK_SIDE`) and returned
at the photo's size (nearest neighbour).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import cv2
import numpy as np
from jaxtyping import Bool, Float, UInt8

from avatarforge.errors import UserInputError
from avatarforge.perception import landmark_groups as fr

__all__ = [
    "LABELS", "PALETTE", "WORK_SIDE", "GLASSES_THRESHOLD", "HEADWEAR_THRESHOLD", "ColourModel", "Accessories",
    "PhotoParsing", "parse_photo", "person_mask", "head_silhouette_box", "head_silhouette_iou",
]

LABELS = ("background", "face_skin", "hair", "brows", "eyes", "lips", "glasses", "headwear", "body_skin",
          "upper_clothing", "lower_clothing", "hands", "occluder")
"""Label names; a label's value in :attr:`PhotoParsing.labels` is its index here."""

PALETTE = ((0, 0, 0), (255, 200, 160), (120, 60, 20), (70, 40, 20), (40, 90, 255), (220, 30, 60),
           (0, 255, 255), (255, 0, 255), (230, 150, 110), (40, 160, 60), (30, 60, 140), (255, 230, 0),
           (128, 128, 128))
"""RGB colour of each label in ``parsing.png``."""

WORK_SIDE = 640
"""Longer side (pixels) of the working resolution."""

GLASSES_THRESHOLD = 0.45
"""Glasses score (0..1) from which glasses are reported: the share of non-skin pixels on the
nose bridge between the eyes and on the rings around them (frames), or the darkness of the
eye surroundings against the skin (sunglasses)."""

HEADWEAR_THRESHOLD = 0.5
"""Headwear score (0..1) from which headwear is reported: the share of the band above the
forehead that is person, not skin and unlike the hair beside the face."""

_L = {name: i for i, name in enumerate(LABELS)}


class ColourModel:
    """A Gaussian mixture over CIELAB colours (k-means init, a few EM steps, full covariances).

    ``score(lab)`` is the log-likelihood per pixel; ``distance(lab)`` the smallest
    Mahalanobis distance to a component (about 1-3 for colours of the model)."""

    def __init__(self, samples: Float[np.ndarray, "N 3"], k: int = 3, seed: int = 0, iterations: int = 4):
        x = np.asarray(samples, np.float64)
        if len(x) < 8:
            raise ValueError("a colour model needs at least 8 samples")
        rng = np.random.default_rng(seed)
        if len(x) > 4000:
            x = x[rng.choice(len(x), 4000, replace=False)]
        k = max(1, min(k, len(x) // 20))
        crit = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
        cv2.setRNGSeed(seed)
        _, lab, _centres = cv2.kmeans(x.astype(np.float32), k, None, crit, 2, cv2.KMEANS_PP_CENTERS)
        resp = np.eye(k)[lab.ravel()]
        for _ in range(iterations):
            self._m_step(x, resp)
            ll = self._component_ll(x)
            ll -= ll.max(1, keepdims=True)
            resp = np.exp(ll)
            resp /= resp.sum(1, keepdims=True)
        self._m_step(x, resp)

    def _m_step(self, x: np.ndarray, resp: np.ndarray) -> None:
        nk = resp.sum(0) + 1e-9
        self.weights = nk / nk.sum()
        self.means = (resp.T @ x) / nk[:, None]
        covs = []
        for j in range(len(nk)):
            d = x - self.means[j]
            c = np.einsum("n,ni,nj->ij", resp[:, j], d, d) / nk[j]  # n: sample, ij: Lab channels
            covs.append(c + np.eye(3) * 4.0)  # floor: ~2 Lab units of spread
        self.covs = np.array(covs)
        self._whiten = np.linalg.inv(np.linalg.cholesky(self.covs)).transpose(0, 2, 1)
        self._logdet = np.linalg.slogdet(self.covs)[1]

    def _mahal2(self, lab: np.ndarray) -> np.ndarray:
        out = np.empty((len(lab), len(self.means)))
        for k, (m, w) in enumerate(zip(self.means, self._whiten)):
            y = (lab - m) @ w  # whitened offsets: |y|^2 = d^T C^-1 d
            out[:, k] = np.einsum("ni,ni->n", y, y)  # n: pixel, i: Lab channel
        return out

    def _component_ll(self, lab: np.ndarray) -> np.ndarray:
        return np.log(self.weights)[None] - 0.5 * (self._mahal2(lab) + self._logdet[None] + 3 * np.log(2 * np.pi))

    def score(self, lab: Float[np.ndarray, "N 3"]) -> Float[np.ndarray, " N"]:
        ll = self._component_ll(np.asarray(lab, np.float64))
        m = ll.max(1)
        return m + np.log(np.exp(ll - m[:, None]).sum(1))

    def distance(self, lab: Float[np.ndarray, "N 3"]) -> Float[np.ndarray, " N"]:
        return np.sqrt(self._mahal2(np.asarray(lab, np.float64)).min(1))

    @property
    def mean_lab(self) -> np.ndarray:
        return (self.weights[:, None] * self.means).sum(0)


@dataclass
class Accessories:
    """What :func:`parse_photo` detected beside the person."""

    glasses: bool
    glasses_score: float
    sunglasses: bool
    headwear: bool
    headwear_score: float
    hands_on_face: bool = False
    other_people: bool = False

    def to_dict(self) -> dict:
        return {"glasses": self.glasses, "glasses_score": round(self.glasses_score, 3), "sunglasses": self.sunglasses,
                "headwear": self.headwear, "headwear_score": round(self.headwear_score, 3),
                "hands_on_face": self.hands_on_face, "other_people": self.other_people}


@dataclass
class PhotoParsing:
    """Per-pixel labels of one photo."""

    labels: UInt8[np.ndarray, "H W"]
    """Index into :data:`LABELS` of every pixel of the photo."""
    person: Float[np.ndarray, "H W"]
    """Selfie segmentation probability (0..1) of every pixel."""
    accessories: Accessories
    skin_lab: Float[np.ndarray, "3"]
    """Mean CIELAB (L 0..100) of the skin model."""
    hair_lab: Float[np.ndarray, "3"] | None
    """Mean CIELAB of the hair pixels (None: no hair found)."""
    warnings: list[str] = field(default_factory=list)

    def mask(self, *names: str) -> Bool[np.ndarray, "H W"]:
        """Pixels whose label is one of ``names``."""
        unknown = [n for n in names if n not in _L]
        if unknown:
            raise ValueError(f"unknown labels {unknown}; choose from {LABELS}")
        return np.isin(self.labels, [_L[n] for n in names])

    @property
    def legend(self) -> dict[str, dict]:
        """``{name: {"index", "rgb", "pixels"}}`` for report.json."""
        counts = np.bincount(self.labels.ravel(), minlength=len(LABELS))
        return {n: {"index": i, "rgb": list(PALETTE[i]), "pixels": int(counts[i])} for i, n in enumerate(LABELS)}

    def to_png(self) -> bytes:
        """``parsing.png``: a palette (mode "P") PNG, pixel value = label index."""
        from PIL import Image

        im = Image.fromarray(self.labels, mode="P")
        im.putpalette([c for rgb in PALETTE for c in rgb] + [0] * (768 - 3 * len(PALETTE)))
        buf = io.BytesIO()
        im.save(buf, format="PNG", optimize=True)
        return buf.getvalue()

    def report(self) -> dict:
        """The report.json entry: legend, what was detected, colours."""
        def lab(v):
            return None if v is None else [round(float(x), 1) for x in v]
        return {"legend": self.legend, "detected": self.accessories.to_dict(), "skin_lab": lab(self.skin_lab),
                "hair_lab": lab(self.hair_lab)}


def person_mask(rgb: UInt8[np.ndarray, "H W 3"]) -> Float[np.ndarray, "H W"]:
    """MediaPipe selfie segmentation (general model) of ``rgb``: person probability per pixel."""
    from avatarforge.perception import _mediapipe

    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise UserInputError(f"person_mask needs an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    res = _mediapipe.run("selfie", rgb)
    m = getattr(res, "segmentation_mask", None)
    if m is None:  # pragma: no cover - the graph always returns a mask
        return np.zeros(rgb.shape[:2], np.float32)
    m = np.asarray(m, np.float32)
    if m.shape != rgb.shape[:2]:
        m = cv2.resize(m, (rgb.shape[1], rgb.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.clip(m, 0.0, 1.0)


def head_silhouette_box(landmarks: Float[np.ndarray, "N D"], shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """Pixel rows/columns ``(r0, r1, c0, c1)`` (half-open, clipped to ``shape`` (H, W)) of the
    head-silhouette region of issue 14: the landmarks' box x0..x1, y0..y1 (w, h its size),
    region x in [x0 - 0.5 w, x1 + 0.5 w], y in [y0 - 0.8 h, y1]."""
    xy = np.asarray(landmarks)[:, :2]
    x0, y0 = xy.min(0)
    x1, y1 = xy.max(0)
    w, h = x1 - x0, y1 - y0
    hh, ww = shape
    # Pixel (r, c) covers [c, c + 1): its centre c + 0.5 must lie in the region.
    c0 = int(np.clip(np.ceil(x0 - 0.5 * w - 0.5), 0, ww))
    c1 = int(np.clip(np.floor(x1 + 0.5 * w - 0.5) + 1, 0, ww))
    r0 = int(np.clip(np.ceil(y0 - 0.8 * h - 0.5), 0, hh))
    r1 = int(np.clip(np.floor(y1 - 0.5) + 1, 0, hh))
    return r0, r1, c0, c1


def head_silhouette_iou(render_alpha: np.ndarray, person: np.ndarray, landmarks: np.ndarray) -> float:
    """Issue 14's head-silhouette IoU: inside :func:`head_silhouette_box`, the IoU of
    ``render_alpha > 0.5`` (alpha in 0..1, or 0..255 for uint8) and ``person > 0.5``.
    1.0 when both are empty."""
    a = np.asarray(render_alpha)
    a = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
    if a.shape != np.asarray(person).shape:
        raise UserInputError(f"render alpha {a.shape} and person mask {np.shape(person)} differ in size")
    r0, r1, c0, c1 = head_silhouette_box(landmarks, a.shape)
    ra, pm = a[r0:r1, c0:c1] > 0.5, np.asarray(person)[r0:r1, c0:c1] > 0.5
    union = np.count_nonzero(ra | pm)
    return 1.0 if union == 0 else float(np.count_nonzero(ra & pm) / union)


# --- parsing -------------------------------------------------------------------------------

def _poly(mask: np.ndarray, pts: np.ndarray, value: int = 1) -> np.ndarray:
    cv2.fillPoly(mask, [np.round(pts[:, :2] * 16).astype(np.int32)], value, cv2.LINE_8, shift=4)
    return mask


def _disk(r: float) -> np.ndarray:
    r = max(1, int(round(r)))
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1,) * 2)


def _dilate(m: np.ndarray, r: float) -> np.ndarray:
    return cv2.dilate(m.astype(np.uint8), _disk(r)).astype(bool)


def _erode(m: np.ndarray, r: float) -> np.ndarray:
    return cv2.erode(m.astype(np.uint8), _disk(r)).astype(bool)


_SRGB_LUT = np.where(np.arange(256) / 255.0 <= 0.04045, np.arange(256) / 255.0 / 12.92,
                     ((np.arange(256) / 255.0 + 0.055) / 1.055) ** 2.4).astype(np.float32)
_RGB_TO_XYZ_D65 = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                            [0.0193339, 0.1191920, 0.9503041]], np.float32) / np.array([[0.95047], [1.0], [1.08883]],
                                                                                       np.float32)


def _lab(rgb: np.ndarray) -> np.ndarray:
    """uint8 sRGB -> float32 CIELAB (D65; L 0..100, a/b about -128..127).

    (OpenCV's cvtColor builds its Lab tables on first use, ~0.2 s; this is a table lookup and
    a 3x3 product.)"""
    xyz = _SRGB_LUT[rgb] @ _RGB_TO_XYZ_D65.T  # each row already divided by the white point
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29).astype(np.float32)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def _component_at(mask: np.ndarray, seed_mask: np.ndarray) -> np.ndarray:
    """The connected components of ``mask`` that touch ``seed_mask``."""
    n, comp = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    ids = np.unique(comp[seed_mask & mask])
    ids = ids[ids > 0]
    return np.isin(comp, ids) if len(ids) else np.zeros_like(mask)


def _feature_masks(pts: np.ndarray, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    h, w = shape
    z = lambda: np.zeros((h, w), np.uint8)  # noqa: E731
    oval = _poly(z(), pts[fr.FACE_OVAL]).astype(bool)
    eyes = _poly(_poly(z(), pts[fr.RIGHT_EYE]), pts[fr.LEFT_EYE]).astype(bool)
    brows = z()
    for up, lo in ((fr.RIGHT_EYEBROW_UPPER, fr.RIGHT_EYEBROW_LOWER), (fr.LEFT_EYEBROW_UPPER, fr.LEFT_EYEBROW_LOWER)):
        _poly(brows, np.concatenate([pts[up], pts[lo][::-1]]))
    lips = _poly(z(), pts[fr.LIPS_OUTER]).astype(bool)
    return {"oval": oval, "eyes": eyes, "brows": brows.astype(bool), "lips": lips}


def _glasses(lab: np.ndarray, skin: ColourModel, pts: np.ndarray, feats: dict, face_w: float,
             not_skin: np.ndarray) -> tuple[float, bool, np.ndarray]:
    """(score, sunglasses, glasses mask) from the eye region."""
    h, w = not_skin.shape
    eye_w = np.linalg.norm(pts[fr.RIGHT_EYE_OUTER, :2] - pts[fr.RIGHT_EYE_INNER, :2])
    eyes = feats["eyes"]
    # Lens areas: each eye's box grown to where lenses sit (brow to upper cheek, corner to temple).
    lens = np.zeros((h, w), np.uint8)
    for ids in (fr.RIGHT_EYE, fr.LEFT_EYE):
        c = pts[ids, :2].mean(0)
        cv2.ellipse(lens, (int(c[0]), int(c[1])), (int(0.85 * eye_w), int(0.62 * eye_w)), 0, 0, 360, 1, -1)
    lens = lens.astype(bool) & ~_dilate(eyes, 0.12 * eye_w) & ~feats["brows"]
    ring = _dilate(lens, 0.12 * eye_w) & ~_erode(lens, 0.18 * eye_w) & ~_dilate(eyes, 0.12 * eye_w) & ~feats["brows"]
    # Nose bridge: between the inner eye corners, at the level of the upper lids.
    a, b = pts[fr.RIGHT_EYE_INNER, :2], pts[fr.LEFT_EYE_INNER, :2]
    up = pts[fr.RIGHT_EYE_UPPER, :2].mean(0)[1] - pts[fr.RIGHT_EYE, :2].mean(0)[1]
    bridge = np.zeros((h, w), np.uint8)
    c = (a + b) / 2 + np.array([0.0, up])
    half = max(2, int(0.22 * np.linalg.norm(b - a)))
    cv2.rectangle(bridge, (int(c[0] - half), int(c[1] - 0.35 * eye_w)), (int(c[0] + half), int(c[1] + 0.15 * eye_w)), 1, -1)
    bridge = bridge.astype(bool) & ~_dilate(eyes, 0.08 * eye_w)
    # Frames go round BOTH eyes (a strand of hair or a shadow over one eye does not count).
    mid = int(round((a[0] + b[0]) / 2))
    sides = [ring[:, :mid], ring[:, mid:]]
    ns_sides = [float(not_skin[:, :mid][m].mean()) if m.any() else 0.0 for m in (sides[0],)]
    ns_sides += [float(not_skin[:, mid:][m].mean()) if m.any() else 0.0 for m in (sides[1],)]
    ring_ns = min(ns_sides)
    bridge_ns = float(not_skin[bridge].mean()) if bridge.any() else 0.0
    # Frames: both the bridge and the rims show something that is not skin; the cheeks and
    # forehead of a bare face are skin there (eye shadows are modelled by the skin GMM's L spread).
    frame_score = float(np.sqrt(max(ring_ns, 0.0) * max(bridge_ns, 0.0))) * 1.6
    # Sunglasses: the lens core (inside any frame, around the eye opening) is dark and not skin.
    core = np.zeros((h, w), np.uint8)
    for ids in (fr.RIGHT_EYE, fr.LEFT_EYE):
        c = pts[ids, :2].mean(0)
        cv2.ellipse(core, (int(c[0]), int(c[1])), (int(0.6 * eye_w), int(0.42 * eye_w)), 0, 0, 360, 1, -1)
    core = core.astype(bool) & ~_dilate(eyes, 0.1 * eye_w) & ~feats["brows"]
    lens_l = float(np.median(lab[..., 0][core])) if core.any() else 100.0
    sun = lens_l < skin.mean_lab[0] - 35.0 and (not_skin[core].mean() if core.any() else 0) > 0.75
    score = float(np.clip(max(frame_score, 1.0 if sun else 0.0), 0.0, 1.0))
    mask = np.zeros((h, w), bool)
    if score >= GLASSES_THRESHOLD:
        frames = (ring | bridge) & not_skin
        mask = _dilate(frames, 0.04 * eye_w) & ~eyes
        if sun:
            mask |= lens & not_skin
    return score, bool(sun), mask


def parse_photo(rgb: UInt8[np.ndarray, "H W 3"], landmarks: Float[np.ndarray, "478 D"], pose=None,
                person: Float[np.ndarray, "H W"] | None = None) -> PhotoParsing:
    """Label every pixel of ``rgb`` for the face given by its 478 ``landmarks`` (pixels).

    ``pose``: a :class:`~avatarforge.perception.pose.BodyPose` of the same photo, or None
    (then hands and lower clothing are not labelled, and clothing starts below the chin).
    ``person``: the selfie mask when already computed (else :func:`person_mask` runs).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise UserInputError(f"parse_photo needs an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    pts_full = np.asarray(landmarks, np.float64)
    if pts_full.ndim != 2 or pts_full.shape[0] != fr.N_LANDMARKS:
        raise UserInputError(f"parse_photo needs the {fr.N_LANDMARKS} face-mesh landmarks, got {pts_full.shape}")
    H, W = rgb.shape[:2]
    if person is None:
        person = person_mask(rgb)
    s = min(1.0, WORK_SIDE / max(H, W))
    h, w = max(1, int(round(H * s))), max(1, int(round(W * s)))
    img = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA) if s < 1 else rgb
    pm = cv2.resize(person, (w, h), interpolation=cv2.INTER_LINEAR) if s < 1 else person
    pts = pts_full[:, :2] * np.array([w / W, h / H])
    lab = _lab(img)
    feats = _feature_masks(pts, (h, w))
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    fw, fh = x1 - x0, y1 - y0
    warnings: list[str] = []

    # The chosen person: the selfie mask's components that touch the face.
    people = pm > 0.5
    me = _component_at(people, feats["oval"])
    me |= feats["oval"]
    others = people & ~me

    # Skin model: the inner face, away from features and the eye band (glasses, eye shadows).
    eye_band = np.zeros((h, w), bool)
    brow_top = pts[fr.RIGHT_EYEBROW_UPPER + fr.LEFT_EYEBROW_UPPER, 1].min()
    eye_bottom = pts[fr.RIGHT_EYE_LOWER + fr.LEFT_EYE_LOWER, 1].max()
    r0, r1 = int(max(0, brow_top - 0.05 * fh)), int(min(h, eye_bottom + 0.12 * fh))
    eye_band[r0:r1] = True
    inner = _erode(feats["oval"], 0.06 * fw) & ~_dilate(feats["eyes"] | feats["brows"] | feats["lips"], 0.05 * fw)
    seed = inner & ~eye_band
    if seed.sum() < 30:
        seed = inner
    if seed.sum() < 30:
        raise UserInputError("the face is too small to parse the photo: use a photo where the face is at least 64 px wide")
    samples = lab[seed]
    # Trim the darkest/brightest 5 % (shadow under the nose, speculars) before fitting.
    lo, hi = np.percentile(samples[:, 0], [5, 97])
    skin = ColourModel(samples[(samples[:, 0] >= lo) & (samples[:, 0] <= hi)], k=2)
    # Skin-like (evaluated on the chosen person only): within the model's spread, or darker /
    # brighter shading of the same chroma.
    is_skin = np.zeros((h, w), bool)
    where = me | _dilate(feats["oval"], 0.1 * fw)
    lab_p = lab[where]
    chroma_d = np.linalg.norm(lab_p[:, 1:] - skin.mean_lab[1:], axis=-1)
    is_skin[where] = (skin.distance(lab_p) < 2.6) | ((chroma_d < 9.0) & (lab_p[:, 0] > skin.mean_lab[0] - 22)
                                                    & (lab_p[:, 0] < skin.mean_lab[0] + 22))
    is_skin = cv2.morphologyEx(is_skin.astype(np.uint8), cv2.MORPH_OPEN, _disk(max(1.0, 0.01 * fw))).astype(bool)
    not_skin = ~is_skin

    g_score, sun, glasses = _glasses(lab, skin, pts, feats, fw, not_skin)

    labels = np.zeros((h, w), np.uint8)
    labels[others] = _L["occluder"]

    # Head zone: where hair can be (beside and above the face, down to the shoulders).
    chin_y = pts[fr.CHIN, 1]
    head_zone = np.zeros((h, w), bool)
    head_zone[: int(min(h, y1 + 1.6 * fh)), int(max(0, x0 - 1.1 * fw)): int(min(w, x1 + 1.1 * fw))] = True
    above_chin = np.zeros((h, w), bool)
    above_chin[: int(max(0, chin_y))] = True

    # Clothing model: the chest below the chin (person, not skin).
    chest = np.zeros((h, w), bool)
    chest[int(min(h, chin_y + 0.7 * fh)): int(min(h, chin_y + 1.6 * fh)), int(max(0, x0)): int(min(w, x1))] = True
    chest &= me & not_skin
    cloth = ColourModel(lab[chest], k=2) if chest.sum() >= 40 else None

    # Hair model: person, not skin, beside the face (temples, down to the jaw) and above it.
    side = np.zeros((h, w), bool)
    # (From the brows down: higher up, a hat may reach down beside the temples.)
    side[int(max(0, brow_top)): int(chin_y), int(max(0, x0 - 0.45 * fw)): int(min(w, x1 + 0.45 * fw))] = True
    side &= ~_dilate(feats["oval"], 0.03 * fw) & me & not_skin & ~glasses
    top = np.zeros((h, w), bool)
    top[int(max(0, y0 - 0.9 * fh)): int(max(0, y0 + 0.05 * fh)), int(max(0, x0 - 0.1 * fw)): int(min(w, x1 + 0.1 * fw))] = True
    top &= me & not_skin & ~feats["oval"]
    side_model = ColourModel(lab[side], k=2) if side.sum() >= 40 else None
    # Headwear: the band above the forehead is not skin and unlike the hair at the sides.
    hw_score = 0.0
    if top.sum() >= 40:
        top_lab = lab[top]
        if side_model is not None:
            unlike = side_model.distance(top_lab) > 4.0
        else:  # no hair beside the face: only strongly coloured tops count (hair is brown/black/blond/grey)
            chroma = np.linalg.norm(top_lab[:, 1:], axis=1)
            unlike = chroma > 30.0
        top_band = np.zeros((h, w), bool)
        top_band[int(max(0, y0 - 0.5 * fh)): int(max(0, y0)), int(x0 + 0.2 * fw): int(x1 - 0.2 * fw)] = True
        band_person = top_band & me
        share = float(top.sum()) / max(1, int(top_band.sum()))
        hw_score = float(unlike.mean()) * min(1.0, share / 0.5) if band_person.sum() > 0 else 0.0
    headwear_found = hw_score >= HEADWEAR_THRESHOLD
    hair_src = side | (top if not headwear_found else np.zeros_like(top))
    hair_model = ColourModel(lab[hair_src], k=3) if hair_src.sum() >= 40 else None

    # Candidate non-skin person pixels of the head zone: hair, headwear or clothing.
    cand = me & head_zone & not_skin & ~feats["oval"]
    hair = np.zeros((h, w), bool)
    headwear = np.zeros((h, w), bool)
    if hair_model is not None:
        labc = lab[cand]
        hs = hair_model.score(labc)
        cs = cloth.score(labc) if cloth is not None else np.full(len(hs), -np.inf)
        hd = hair_model.distance(labc)
        # Below the chin hair competes with clothes: clearly more hair-like (log-likelihood
        # margin 2) and close to the hair model; without a clothes model only very close.
        is_hair = np.where(above_chin[cand], hd < 6.0, (hs > cs + 2.0) & (hd < 3.5))
        if cloth is None:
            is_hair &= hd < 3.0
        hair[cand] = is_hair
    if headwear_found:
        hw = me & ~feats["oval"] & not_skin & ~hair
        hw_zone = np.zeros((h, w), bool)
        hw_zone[: int(max(0, y0 + 0.15 * fh)), int(max(0, x0 - 0.4 * fw)): int(min(w, x1 + 0.4 * fw))] = True
        headwear = _component_at(hw & hw_zone, top) & hw_zone
    # Fringe: non-skin pixels inside the oval above the brows that look like hair.
    forehead = feats["oval"] & not_skin & ~glasses
    forehead[int(max(0, brow_top)):] = False
    if hair_model is not None and forehead.any():
        f_hair = hair_model.distance(lab[forehead]) < 5.0
        hair[np.flatnonzero(forehead.ravel())[f_hair] // w, np.flatnonzero(forehead.ravel())[f_hair] % w] = True
    hair = cv2.morphologyEx(hair.astype(np.uint8), cv2.MORPH_CLOSE, _disk(0.02 * fw)).astype(bool) & me & ~headwear
    # Hair grows from the head: keep what connects to the hair seen beside and above the face
    # (not a hair-coloured wall or neighbour), and below the chin what hangs from that.
    hair_above = _component_at(hair & above_chin, hair & (hair_src | _dilate(feats["oval"], 0.05 * fw)))
    hair = hair_above | (_component_at(hair, hair_above) & ~above_chin)

    # Body: skin below the face = neck/body skin; the rest of the person = clothing.
    body_skin = me & is_skin & ~feats["oval"] & ~hair & ~headwear
    clothes = me & ~is_skin & ~hair & ~headwear & ~feats["oval"]
    upper, lower = clothes, np.zeros_like(clothes)
    hands = np.zeros((h, w), bool)
    if pose is not None:
        from avatarforge.perception.pose import landmark_index

        P = np.asarray(pose.points) * np.array([w / W, h / H])
        vis = np.asarray(pose.visibility)
        hips = [landmark_index("left_hip"), landmark_index("right_hip")]
        if (vis[hips] > 0.5).all():
            hip_y = P[hips, 1].mean()
            lower = clothes.copy()
            lower[: int(max(0, hip_y))] = False
            upper = clothes & ~lower
        for side_name in ("left", "right"):
            ids = [landmark_index(f"{side_name}_{p}") for p in ("wrist", "pinky", "index", "thumb")]
            if vis[ids[0]] > 0.5:
                c = P[ids].mean(0)
                r = max(np.linalg.norm(P[ids] - c, axis=1).max() * 1.8, 0.25 * fw)
                disk = np.zeros((h, w), np.uint8)
                cv2.circle(disk, (int(c[0]), int(c[1])), int(r), 1, -1)
                hands |= disk.astype(bool) & me & is_skin
    body_skin &= ~hands

    labels[me] = _L["upper_clothing"]
    labels[upper] = _L["upper_clothing"]
    labels[lower] = _L["lower_clothing"]
    labels[body_skin] = _L["body_skin"]
    labels[hands] = _L["hands"]
    labels[hair] = _L["hair"]
    labels[headwear] = _L["headwear"]
    oval = feats["oval"]
    # Inside the face oval: skin, or what covers it (hair handled above, hands, other things).
    occl = oval & not_skin & ~hair & ~glasses & ~_dilate(feats["eyes"] | feats["brows"] | feats["lips"], 0.03 * fw)
    hands_on_face = bool((hands & oval).sum() > 0.02 * oval.sum())
    labels[oval] = _L["face_skin"]
    labels[oval & hair] = _L["hair"]  # a fringe
    labels[oval & hands] = _L["hands"]
    labels[occl & ~hands] = _L["occluder"]
    labels[feats["brows"]] = _L["brows"]
    labels[feats["eyes"]] = _L["eyes"]
    labels[feats["lips"]] = _L["lips"]
    labels[glasses] = _L["glasses"]
    labels[~people & ~oval] = _L["background"]

    hair_lab = lab[labels == _L["hair"]].mean(0) if (labels == _L["hair"]).sum() >= 20 else None
    acc = Accessories(glasses=g_score >= GLASSES_THRESHOLD, glasses_score=g_score, sunglasses=sun and g_score >= GLASSES_THRESHOLD,
                      headwear=headwear_found, headwear_score=hw_score, hands_on_face=hands_on_face,
                      other_people=bool(others.sum() > 0.5 * oval.sum()))
    if s < 1:
        labels = cv2.resize(labels, (W, H), interpolation=cv2.INTER_NEAREST)
    return PhotoParsing(labels, np.asarray(person, np.float32), acc, skin.mean_lab.astype(np.float32),
                        None if hair_lab is None else hair_lab.astype(np.float32), warnings)
