"""Outfit choice: the --outfit syntax, merging with the photo, and reading types off a parsing."""

from __future__ import annotations

import types

import numpy as np
import pytest

from avatarforge.fitting.garment_fit import OutfitFit, GarmentChoice, fit_outfit, parse_outfit, resolve_outfit
from avatarforge.perception.parsing import LABELS
from avatarforge.perception.pose import POSE_LANDMARK_NAMES


def test_parse_outfit_syntax():
    assert parse_outfit("auto") is None and parse_outfit("none") == []
    assert parse_outfit("tshirt:#C03030+jeans+shoes") == [("tshirt", (192, 48, 48)), ("trousers", (58, 82, 120)),
                                                           ("shoes", None)]
    assert parse_outfit("dress, shoes") == [("dress", None), ("shoes", None)]
    for bad, needle in (("cape", "unknown garment"), ("tshirt+shirt", "both cover the top"),
                        ("dress+trousers", "both cover"), ("tshirt:red", "#RRGGBB"), ("", "unknown garment")):
        with pytest.raises(ValueError, match=needle):
            parse_outfit(bad)


def test_resolve_merges_user_photo_and_default():
    fit = OutfitFit({"top": GarmentChoice("longsleeve", (10, 20, 30), "photo")})
    auto = resolve_outfit(None, fit)
    assert [(c.name, c.source) for c in auto] == [("longsleeve", "photo"), ("trousers", "default"), ("shoes", "default")]
    assert resolve_outfit([], fit) == []
    user = resolve_outfit([("tshirt", None), ("skirt", (1, 2, 3))], fit)
    assert [(c.name, c.colour_srgb, c.source) for c in user] == [("tshirt", (10, 20, 30), "photo"),
                                                                 ("skirt", (1, 2, 3), "user")]
    assert [c.source for c in resolve_outfit(None, None)] == ["default"] * 3


def _scene(sleeves: str, legs: str):
    """A 200x100 stick person: torso, arms, legs painted with labels and colours."""
    h, w = 200, 100
    lab = np.zeros((h, w), np.uint8)
    rgb = np.zeros((h, w, 3), np.uint8)
    L = {n: i for i, n in enumerate(LABELS)}
    pts = {"left_shoulder": (60, 40), "right_shoulder": (40, 40), "left_elbow": (75, 70), "right_elbow": (25, 70),
           "left_wrist": (85, 100), "right_wrist": (15, 100), "left_hip": (58, 100), "right_hip": (42, 100),
           "left_knee": (60, 140), "right_knee": (40, 140), "left_ankle": (60, 180), "right_ankle": (40, 180),
           "left_heel": (60, 186), "right_heel": (40, 186), "left_foot_index": (66, 190), "right_foot_index": (34, 190)}
    import cv2

    def seg(a, b, label, colour, width=8):
        cv2.line(lab, pts[a], pts[b], int(L[label]), width)
        cv2.line(rgb, pts[a], pts[b], colour, width)
    lab[40:100, 40:61] = L["upper_clothing"]
    rgb[40:100, 40:61] = (200, 30, 30)
    for s in ("left", "right"):
        seg(f"{s}_shoulder", f"{s}_elbow", "upper_clothing", (200, 30, 30))
        seg(f"{s}_elbow", f"{s}_wrist", "upper_clothing" if sleeves != "short" else "body_skin",
            (200, 30, 30) if sleeves != "short" else (220, 170, 140))
        seg(f"{s}_hip", f"{s}_knee", "lower_clothing", (20, 30, 90), 10)
        seg(f"{s}_knee", f"{s}_ankle", "lower_clothing" if legs != "shorts" else "body_skin",
            (20, 30, 90) if legs != "shorts" else (220, 170, 140), 10)
        seg(f"{s}_heel", f"{s}_foot_index", "lower_clothing", (30, 30, 30), 8)
    if sleeves == "suit":
        rgb[lab == L["upper_clothing"]] = (20, 30, 90)
    if legs == "skirt":
        lab[100:150, 35:66] = L["lower_clothing"]
        rgb[100:150, 35:66] = (20, 30, 90)
    P = np.zeros((33, 2))
    vis = np.zeros(33)
    for n, p in pts.items():
        P[POSE_LANDMARK_NAMES.index(n)] = p
        vis[POSE_LANDMARK_NAMES.index(n)] = 1.0
    person = (lab > 0).astype(np.float32)
    parsing = types.SimpleNamespace(labels=lab, person=person, mask=lambda *ns: np.isin(lab, [L[n] for n in ns]))
    return rgb, parsing, types.SimpleNamespace(points=P, visibility=vis)


@pytest.mark.parametrize("sleeves,legs,top,bottom", [
    ("long", "long", "longsleeve", "trousers"), ("short", "shorts", "tshirt", "shorts"),
    ("short", "skirt", "tshirt", "skirt"), ("suit", "long", "jacket", "trousers"),
])
def test_types_and_colours_from_a_parsing(sleeves, legs, top, bottom):
    import avatarforge.fitting.garment_fit as gf

    old = gf.MIN_PIXELS
    gf.MIN_PIXELS = 20
    try:
        fit = fit_outfit(*_scene(sleeves, legs))
    finally:
        gf.MIN_PIXELS = old
    assert fit.seen["top"].name == top and fit.seen["bottom"].name == bottom
    assert fit.seen["top"].colour_srgb == ((200, 30, 30) if sleeves != "suit" else (20, 30, 90))
    assert fit.seen["bottom"].colour_srgb == (20, 30, 90)
    assert fit.seen["feet"].name == "shoes" and not fit.bare_feet


def test_bare_feet_get_no_default_shoes(monkeypatch):
    import avatarforge.fitting.garment_fit as gf

    rgb, parsing, pose = _scene("short", "shorts")
    L = {n: i for i, n in enumerate(LABELS)}
    parsing.labels[175:200] = np.where(parsing.labels[175:200] > 0, L["body_skin"], 0)
    monkeypatch.setattr(gf, "MIN_PIXELS", 20)
    fit = fit_outfit(rgb, parsing, pose)
    assert fit.bare_feet and "feet" not in fit.seen
    assert "shoes" not in [c.name for c in fit.choices()]


def test_someone_elses_pose_is_not_used():
    """In a group photo the pose may be another person's: its nose is not on the chosen face."""
    import avatarforge.fitting.garment_fit as gf

    rgb, parsing, pose = _scene("long", "long")
    pose.points[POSE_LANDMARK_NAMES.index("nose")] = (50, 20)
    face = np.array([[40.0, 10.0], [60.0, 10.0], [50.0, 30.0]])
    old = gf.MIN_PIXELS
    gf.MIN_PIXELS = 20
    try:
        mine = fit_outfit(rgb, parsing, pose, face)
        other = fit_outfit(rgb, parsing, pose, face + 45.0)
    finally:
        gf.MIN_PIXELS = old
    assert mine.seen["top"].name == "longsleeve" and "bottom" in mine.seen
    assert other.seen["top"].name == "tshirt" and "bottom" not in other.seen and "feet" not in other.seen


def test_a_bare_chest_gets_no_top(monkeypatch):
    """A shirtless person: the chest between the shoulders and hips is skin, so no top is seen
    and the default outfit adds none (the trousers and shoes still come)."""
    import avatarforge.fitting.garment_fit as gf

    rgb, parsing, pose = _scene("short", "long")
    L = {n: i for i, n in enumerate(LABELS)}
    parsing.labels[40:100, 40:61] = L["body_skin"]
    parsing.labels[44:48, 45:55] = L["upper_clothing"]  # a few stray cloth pixels (a strap, a shadow)
    monkeypatch.setattr(gf, "MIN_PIXELS", 20)
    fit = fit_outfit(rgb, parsing, pose)
    assert fit.bare_torso and "top" not in fit.seen
    names = [c.name for c in fit.choices()]
    assert not any("top" in gf.GARMENTS[n].slots for n in names) and "trousers" in names
