"""Photo parsing without a usable face: a full-body photo whose face is hidden, turned away,
pixelated or too small for the face-mesh model.

:func:`~avatarforge.perception.parsing.parse_photo` seeds its skin model on the inner face;
here there is none, so the skin seed is a fixed skin-chroma rule (YCrCb box, Chai & Ngan
1999, widened for shaded skin), refined by a CIELAB colour model of the person's pixels it
accepts among the head's and wrists' pixels (nearly always bare). The pose landmarks place
the rest:

* **head**: person pixels within a disk around the head landmarks (nose, eyes, ears; radius
  from the shoulder width): skin there is ``face_skin``, the rest ``hair`` (a cap or a hat
  is reported as hair: without a face nothing tells them apart);
* **hands**: skin pixels near the wrists; **body_skin**: other skin;
* **clothing**: the person's other pixels, ``lower_clothing`` below the hips.

Accessories (glasses, headwear) are not detected: the face is what shows them.
"""

from __future__ import annotations

import cv2
import numpy as np
from jaxtyping import Float, UInt8

from avatarforge.errors import UserInputError
from avatarforge.perception.parsing import LABELS, WORK_SIDE, Accessories, ColourModel, PhotoParsing, _lab
from avatarforge.perception.pose import BodyPose, landmark_index

__all__ = ["parse_body_photo", "skin_rule", "TIGHT_LABELS"]

_L = {name: i for i, name in enumerate(LABELS)}

TIGHT_LABELS = ("face_skin", "body_skin", "hands", "lips", "eyes", "brows")
"""Labels whose outline is the body's own (not clothing, hair or headwear): the body fit's
silhouette coverage term uses only these (:func:`avatarforge.fitting.body_fit.fit_body`'s
``tight``)."""


def skin_rule(rgb: UInt8[np.ndarray, "N 3"]) -> np.ndarray:
    """(N,) bool: sRGB colours inside a skin-chroma box of YCrCb (Cr 135-180, Cb 80-135,
    luma above 40), for any skin tone in ordinary light."""
    ycc = cv2.cvtColor(np.asarray(rgb, np.uint8).reshape(-1, 1, 3), cv2.COLOR_RGB2YCrCb)[:, 0].astype(np.int32)
    y, cr, cb = ycc[:, 0], ycc[:, 1], ycc[:, 2]
    return (y > 40) & (cr >= 135) & (cr <= 180) & (cb >= 80) & (cb <= 135)


def parse_body_photo(rgb: UInt8[np.ndarray, "H W 3"], pose: BodyPose,
                     person: Float[np.ndarray, "H W"] | None = None) -> PhotoParsing:
    """Label every pixel of a full-body photo from its ``pose`` (no face landmarks needed).

    ``person``: the person mask (default: the pose's own segmentation).

    Raises:
        UserInputError: ``rgb`` is not an (H, W, 3) uint8 image, or there is no person mask.
    """
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise UserInputError(f"parse_body_photo needs an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    person = pose.mask if person is None else person
    if person is None:
        raise UserInputError("parse_body_photo needs a person mask: the pose detector gave none")
    H, W = rgb.shape[:2]
    s = min(1.0, WORK_SIDE / max(H, W))
    h, w = max(1, int(round(H * s))), max(1, int(round(W * s)))
    img = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA) if s < 1 else rgb
    pm = cv2.resize(np.asarray(person, np.float32), (w, h), interpolation=cv2.INTER_LINEAR) if s < 1 else person
    me = pm > 0.5
    P = np.asarray(pose.points, np.float64) * np.array([w / pose.image_size[0], h / pose.image_size[1]])
    vis = np.asarray(pose.visibility)
    shoulders = P[[landmark_index("left_shoulder"), landmark_index("right_shoulder")]]
    unit = max(float(np.linalg.norm(shoulders[0] - shoulders[1])), 0.04 * h)

    def disk(centre: np.ndarray, radius: float) -> np.ndarray:
        d = np.zeros((h, w), np.uint8)
        cv2.circle(d, (int(round(centre[0])), int(round(centre[1]))), max(1, int(round(radius))), 1, -1)
        return d.astype(bool)

    head_ids = [landmark_index(n) for n in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")]
    head = disk(P[head_ids].mean(0), 0.75 * unit) & me
    # Skin seed: skin-coloured pixels of the head and around the wrists (almost always bare),
    # else of the whole person; a coat the colour of skin elsewhere then stays clothing
    # unless it also matches the seed's colour model.
    rule = np.zeros((h, w), bool)
    rule[me] = skin_rule(img[me])
    bare = head.copy()
    for side in ("left", "right"):
        if vis[landmark_index(f"{side}_wrist")] > 0.3:
            bare |= disk(P[landmark_index(f"{side}_wrist")], 0.3 * unit)
    seed = rule & bare if (rule & bare).sum() >= 40 else rule
    is_skin = np.zeros((h, w), bool)
    if seed.sum() >= 40:
        lab = _lab(img)
        model = ColourModel(lab[seed], k=2)
        is_skin[me] = (model.distance(lab[me]) < 2.6) & rule[me]
        k = max(1, int(round(0.02 * unit)))
        is_skin = cv2.morphologyEx(is_skin.astype(np.uint8), cv2.MORPH_OPEN,
                                   cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))).astype(bool)
    hands = np.zeros((h, w), bool)
    for side in ("left", "right"):
        ids = [landmark_index(f"{side}_{p}") for p in ("wrist", "pinky", "index", "thumb")]
        if vis[ids[0]] > 0.3:
            c = P[ids].mean(0)
            hands |= disk(c, max(np.linalg.norm(P[ids] - c, axis=1).max() * 1.8, 0.25 * unit)) & me & is_skin
    clothes = me & ~is_skin & ~head
    hips = [landmark_index("left_hip"), landmark_index("right_hip")]
    lower = clothes.copy()
    lower[: int(max(0, P[hips, 1].mean()))] = False

    labels = np.zeros((h, w), np.uint8)
    labels[clothes] = _L["upper_clothing"]
    labels[lower] = _L["lower_clothing"]
    labels[me & is_skin] = _L["body_skin"]
    labels[hands] = _L["hands"]
    labels[head & ~is_skin] = _L["hair"]
    labels[head & is_skin] = _L["face_skin"]
    skin_lab = _lab(img)[me & is_skin].mean(0) if (me & is_skin).sum() >= 20 else np.full(3, np.nan)
    hair_px = labels == _L["hair"]
    hair_lab = _lab(img)[hair_px].mean(0).astype(np.float32) if hair_px.sum() >= 20 else None
    if s < 1:
        labels = cv2.resize(labels, (W, H), interpolation=cv2.INTER_NEAREST)
    acc = Accessories(glasses=False, glasses_score=0.0, sunglasses=False, headwear=False, headwear_score=0.0)
    return PhotoParsing(labels, np.asarray(person, np.float32), acc, np.asarray(skin_lab, np.float32), hair_lab,
                        ["no usable face: glasses and headwear were not looked for, the head region is labelled "
                         "as skin or hair"])
