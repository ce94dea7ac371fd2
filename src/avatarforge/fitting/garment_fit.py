"""Choose the outfit (garment types and colours, :mod:`avatarforge.bodies.garments`) from a
photo's parsing, or from the user's ``--outfit``.

What the photo says: the colour of a garment is the median of its parsed pixels (upper clothing
on the chest between the shoulders and hips, lower clothing along the thighs, which must show
it; the shoes: the person's non-skin pixels around the feet landmarks). The type comes from
where the clothing reaches, sampled along the pose's limbs: clothing over the forearms means
long sleeves, over the shins long legs; a lower garment that also fills the gap between the knees
is a skirt, a skirt in the top's colour a dress, and long sleeves over trousers of the same
colour a suit's jacket. A portrait shows only the top (its colour;
sleeves unseen: a T-shirt); what is not seen gets the neutral default (:data:`DEFAULT_OUTFIT`,
colours from ``bodies.garments.DEFAULT_COLOURS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from avatarforge.bodies.garments import DEFAULT_COLOURS, GARMENTS, GARMENT_TYPES, check_outfit

__all__ = ["GarmentChoice", "OutfitFit", "fit_outfit", "parse_outfit", "resolve_outfit", "DEFAULT_OUTFIT",
           "ALIASES", "composite_garments"]

DEFAULT_OUTFIT = ("tshirt", "trousers", "shoes")
"""The neutral outfit where the photo shows nothing."""

#: Other names ``--outfit`` accepts, and the colour they imply (None: the type's default).
ALIASES: dict[str, tuple[str, tuple[int, int, int] | None]] = {
    "t-shirt": ("tshirt", None), "tee": ("tshirt", None), "sweater": ("longsleeve", None),
    "hoodie": ("longsleeve", None), "blouse": ("shirt", None), "coat": ("jacket", None),
    "pants": ("trousers", None), "jeans": ("trousers", (58, 82, 120)), "sneakers": ("shoes", None),
    "boots": ("shoes", None),
}
MIN_PIXELS = 150
"""Fewest parsed pixels of a garment for its colour to count as seen."""


@dataclass
class GarmentChoice:
    name: str
    """A key of ``bodies.garments.GARMENTS``."""
    colour_srgb: tuple[int, int, int]
    source: str
    """Where the colour comes from: photo, default or user."""

    def to_dict(self) -> dict:
        return {"type": self.name, "colour_srgb": list(self.colour_srgb), "source": self.source}


@dataclass
class OutfitFit:
    """What the photo shows: per slot (top, bottom, feet) the garment type and colour seen."""

    seen: dict[str, GarmentChoice] = field(default_factory=dict)
    """Slot -> the garment seen there (type from the photo where it can tell, else the default's)."""
    bare_feet: bool = False
    """The feet are seen and are skin: no shoes by default."""
    bare_torso: bool = False
    """The chest is seen and is mostly skin: no top by default."""

    def choices(self) -> list[GarmentChoice]:
        """The full outfit: what was seen, the neutral default for the rest."""
        out = list(self.seen.values())
        names = [c.name for c in out]
        for d in DEFAULT_OUTFIT:
            if (d == "shoes" and self.bare_feet) or ("top" in GARMENTS[d].slots and self.bare_torso):
                continue
            try:
                check_outfit(names + [d])
            except ValueError:
                continue
            out.append(GarmentChoice(d, DEFAULT_COLOURS[d], "default"))
            names.append(d)
        return _ordered(out)


def _ordered(items: list[GarmentChoice]) -> list[GarmentChoice]:
    return sorted(items, key=lambda c: GARMENT_TYPES.index(c.name))


def parse_outfit(text: str) -> list[tuple[str, tuple[int, int, int] | None]] | None:
    """``--outfit``'s value -> [(type, sRGB or None)], or None for ``auto`` ([] for ``none``).

    Syntax: ``auto``, ``none``, or garments joined by ``+`` (or ``,``), each optionally with a
    colour: ``tshirt:#c03030+jeans+shoes``. Raises ValueError with a one-line message."""
    t = text.strip().lower()
    if t == "auto":
        return None
    if t == "none":
        return []
    out = []
    for item in t.replace(",", "+").split("+"):
        item = item.strip()
        name, _, colour = item.partition(":")
        name = name.strip()
        rgb = None
        if name in ALIASES:
            name, rgb = ALIASES[name]
        if name not in GARMENTS:
            raise ValueError(f"unknown garment {name or item!r}: choose auto, none, or garments joined by '+' "
                             f"from {', '.join(GARMENT_TYPES + tuple(ALIASES))} (e.g. tshirt:#c03030+jeans+shoes)")
        if colour:
            rgb = _hex(colour.strip())
        out.append((name, rgb))
    check_outfit([n for n, _ in out])
    return out


def _hex(text: str) -> tuple[int, int, int]:
    h = text.lstrip("#")
    if len(h) != 6 or any(c not in "0123456789abcdef" for c in h):
        raise ValueError(f"garment colour {text!r}: use #RRGGBB (e.g. tshirt:#c03030)")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def resolve_outfit(requested: list[tuple[str, tuple[int, int, int] | None]] | None,
                   fit: OutfitFit | None) -> list[GarmentChoice]:
    """The outfit to build: the photo's (``requested`` None), none (``[]``), or the user's
    types, each in the user's colour, else the colour the photo shows in its slot, else the
    type's default."""
    fit = fit or OutfitFit()
    if requested is None:
        return fit.choices()
    out = []
    for name, rgb in requested:
        if rgb is not None:
            out.append(GarmentChoice(name, tuple(int(c) for c in rgb), "user"))
            continue
        seen = [c for s, c in fit.seen.items() if s in GARMENTS[name].slots and c.source == "photo"]
        out.append(GarmentChoice(name, seen[0].colour_srgb, "photo") if seen else
                   GarmentChoice(name, DEFAULT_COLOURS[name], "default"))
    return _ordered(out)


def _median(rgb: np.ndarray, mask: np.ndarray) -> tuple[int, int, int] | None:
    if mask.sum() < MIN_PIXELS:
        return None
    return tuple(int(c) for c in np.median(rgb[mask], 0))


def _share_along(labels_ok: np.ndarray, person: np.ndarray, a: np.ndarray, b: np.ndarray,
                 t0: float, t1: float) -> float | None:
    """Share of the person's pixels on the segment a -> b (t0..t1) where ``labels_ok``; None
    when fewer than 3 samples fall on the person."""
    h, w = labels_ok.shape
    ts = np.linspace(t0, t1, 9)
    pts = np.round(a[None] + ts[:, None] * (b - a)[None]).astype(int)
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
    pts = pts[inside]
    on = person[pts[:, 1], pts[:, 0]] > 0.5
    if on.sum() < 3:
        return None
    return float(labels_ok[pts[on, 1], pts[on, 0]].mean())


def fit_outfit(rgb: np.ndarray, parsing, pose=None, face_points: np.ndarray | None = None) -> OutfitFit:
    """What garments the photo shows (see the module docstring); ``parsing`` is the photo's
    ``perception.parsing.PhotoParsing``, ``pose`` its ``perception.pose.BodyPose`` or None.
    ``face_points`` (the chosen face's landmarks, pixels): a pose whose nose is not on that
    face is someone else's (group photos) and is not used."""
    import cv2

    rgb = np.asarray(rgb)
    upper, lower = parsing.mask("upper_clothing"), parsing.mask("lower_clothing")
    person = parsing.person
    seen: dict[str, GarmentChoice] = {}
    P = vis = None
    bare = bare_torso = False
    if pose is not None:
        from avatarforge.perception.pose import landmark_index

        P, vis = np.asarray(pose.points, np.float64), np.asarray(pose.visibility)
        if face_points is not None:
            fp = np.asarray(face_points)[:, :2]
            lo, hi = fp.min(0), fp.max(0)
            margin = 0.25 * (hi - lo)
            nose = P[landmark_index("nose")]
            if np.any(nose < lo - margin) or np.any(nose > hi + margin):
                P = vis = None

        def at(name: str) -> np.ndarray | None:
            i = landmark_index(name)
            return P[i] if vis[i] > 0.5 else None
    top_rgb = _median(rgb, upper)
    if face_points is not None:  # without a usable pose: the chest right under the chosen face
        fp = np.asarray(face_points)[:, :2]
        (x0, y0), (x1, y1) = fp.min(0), fp.max(0)
        fw, fh = x1 - x0, y1 - y0
        below = np.zeros(upper.shape, bool)
        below[int(max(0, y1 + 0.3 * fh)): int(max(0, y1 + 2.0 * fh)),
              int(max(0, x0 - 0.7 * fw)): int(max(0, x1 + 0.7 * fw))] = True
        top_rgb = _median(rgb, upper & below) or top_rgb
    if P is not None:  # the chest: the torso between the shoulders and hips, not other people's clothes
        quad = [at(n) for n in ("left_shoulder", "right_shoulder", "right_hip", "left_hip")]
        if all(q is not None for q in quad):
            q = np.asarray(quad)
            q = q.mean(0) + 0.7 * (q - q.mean(0))
            chest = np.zeros(upper.shape, np.uint8)
            cv2.fillPoly(chest, [np.round(q).astype(np.int32)], 1)
            chest = chest.astype(bool) & (person > 0.5)
            skin = parsing.mask("body_skin")
            if chest.sum() >= MIN_PIXELS and (chest & skin).sum() > 0.5 * chest.sum():
                bare_torso, top_rgb = True, None  # mostly skin between the shoulders and hips: no top
            else:
                top_rgb = _median(rgb, upper & chest) or top_rgb
    if top_rgb is not None:
        name = "tshirt"
        if P is not None:
            fore, upper_arm = [], []
            for side in ("left", "right"):
                s, e, w = at(f"{side}_shoulder"), at(f"{side}_elbow"), at(f"{side}_wrist")
                if s is not None and e is not None:
                    upper_arm.append(_share_along(upper, person, s, e, 0.5, 0.9))
                if e is not None and w is not None:
                    fore.append(_share_along(upper, person, e, w, 0.2, 0.75))
            fore = [f for f in fore if f is not None]
            if fore and np.mean(fore) > 0.5:
                name = "longsleeve"
        seen["top"] = GarmentChoice(name, top_rgb, "photo")
    bottom_rgb = None
    if P is not None:  # the thighs: lower clothing along hip -> knee (not a table in front of them)
        thighs, band = [], np.zeros(lower.shape, np.uint8)
        hw = [at("left_hip"), at("right_hip")]
        width = max(3, int(0.35 * np.linalg.norm(hw[0] - hw[1]))) if hw[0] is not None and hw[1] is not None else 3
        for side in ("left", "right"):
            hp, kn = at(f"{side}_hip"), at(f"{side}_knee")
            if hp is not None and kn is not None:
                thighs.append(_share_along(lower, person, hp, kn, 0.2, 0.8))
                cv2.line(band, tuple(int(c) for c in np.round(hp)), tuple(int(c) for c in np.round(kn)), 1, width)
        thighs = [t for t in thighs if t is not None]
        if thighs and np.mean(thighs) > 0.5:
            bottom_rgb = _median(rgb, lower & band.astype(bool)) or _median(rgb, lower)
    if bottom_rgb is not None:
        name = "trousers"
        shins, gaps = [], []
        for side in ("left", "right"):
            k, a = at(f"{side}_knee"), at(f"{side}_ankle")
            if k is not None and a is not None:
                shins.append(_share_along(lower, person, k, a, 0.25, 0.7))
        kl, kr, hl, hr = at("left_knee"), at("right_knee"), at("left_hip"), at("right_hip")
        if kl is not None and kr is not None and hl is not None and hr is not None:
            # Midway between the legs, from the crotch down to the knees: cloth there is a skirt.
            gaps.append(_share_along(lower, person, (hl + hr) / 2, (kl + kr) / 2, 0.45, 0.95))
        shins = [s for s in shins if s is not None]
        gap = gaps[0] if gaps and gaps[0] is not None else 0.0
        long_legs = bool(shins) and np.mean(shins) > 0.5
        if gap > 0.6:
            name = "skirt"
            if "top" in seen:
                lab = _lab(np.asarray([seen["top"].colour_srgb, bottom_rgb], np.uint8))
                if np.linalg.norm(lab[0] - lab[1]) < 12.0:  # one colour from the chest to the hem
                    name = "dress"
        elif shins and not long_legs:
            name = "shorts"
        if name == "dress":
            seen.pop("top")
            seen["top"] = GarmentChoice("dress", bottom_rgb, "photo")
        else:
            seen["bottom"] = GarmentChoice(name, bottom_rgb, "photo")
            top = seen.get("top")
            if name == "trousers" and top is not None and top.name == "longsleeve":
                lab = _lab(np.asarray([top.colour_srgb, bottom_rgb], np.uint8))
                if np.linalg.norm(lab[0] - lab[1]) < 12.0:  # long sleeves and trousers of one cloth: a suit
                    seen["top"] = GarmentChoice("jacket", top.colour_srgb, "photo")
    if P is not None:
        feet = np.zeros(upper.shape, bool)
        h, w = feet.shape
        for side in ("left", "right"):
            pts = [at(f"{side}_{p}") for p in ("heel", "foot_index", "ankle")]
            pts = [p for p in pts if p is not None]
            if len(pts) >= 2:
                lo, hi = np.min(pts, 0), np.max(pts, 0)
                r = max(4.0, 0.25 * float(np.linalg.norm(hi - lo)))
                c0, c1 = int(max(0, lo[0] - r)), int(min(w, hi[0] + r))
                r0, r1 = int(max(0, lo[1] - r)), int(min(h, hi[1] + r))
                feet[r0:r1, c0:c1] = True
        feet &= person > 0.5
        skin = parsing.mask("body_skin", "hands")
        shoe = _median(rgb, feet & ~skin)
        if feet.sum() >= MIN_PIXELS and (feet & skin).sum() > 0.5 * feet.sum():
            bare = True  # mostly skin around the feet: barefoot
        elif shoe is not None:
            seen["feet"] = GarmentChoice("shoes", shoe, "photo")
    return OutfitFit(seen, bare, bare_torso)


def _lab(srgb: np.ndarray) -> np.ndarray:
    """(N, 3) uint8 sRGB -> CIELAB (OpenCV, float input: L 0..100)."""
    import cv2

    return cv2.cvtColor(srgb[None].astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)[0]


def composite_garments(rgba: np.ndarray, camera, fitted_output, garments: list, colours: list,
                       hair=None) -> np.ndarray:
    """render_fitted's ``rgba`` with the garment meshes (built on ``fitted_output``, the body in
    the photo's pose) drawn where they are in front of the body and the ``hair`` mesh."""
    from avatarforge.render.overlay import composite_flat_meshes

    if not garments:
        return rgba
    occluders = [(fitted_output.vertices[0].detach().numpy(), fitted_output.faces.numpy())]
    if hair is not None:
        occluders.append((hair.vertices, hair.faces))
    return composite_flat_meshes(rgba, camera, occluders,
                                 [(g.vertices, g.faces, tuple(c)) for g, c in zip(garments, colours)])
