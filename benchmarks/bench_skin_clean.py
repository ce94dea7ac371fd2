"""Skin cleanliness with ground truth (issue 14): the fitted body rendered with a KNOWN albedo
through the fitted camera of a real photo, composited with occluders -- glasses (dark frames),
hair strands over the forehead, a hat, a strongly coloured background at the silhouette --
then textured by the texture stage with and without the photo parsing.

Scores (CIELAB delta E76 between the produced albedo and the known one, over head/neck skin
texels away from the scalp, eyes, brows, lips and cavities):

* ``occluded``: texels the clean render shows (bake weight > 0.5) whose photo pixel the
  occluders cover;
* ``never_seen``: texels the clean render does not show (bake weight 0): completed only;
* ``oracle_fill``: the error of the truth itself push-pull filled into the occluded texels from
  the scored texels around them -- the floor of any completion that only sees the neighbours;
* ``occluder_colour``: share of all scored texels closer to an occluder's colour than to the
  truth by more than 10 delta E (glasses, strands, hat or background baked in);
* ``hat_shadow``: texels the hat does not cover but whose pixel lies in its (soft, up to 45 %
  darker) cast shadow on the forehead -- a real effect the de-lighting's smooth light cannot
  explain.

The known albedo is the real photo's own texture (with its parsing), made *skin* wherever the
face is scored: head texels that do not look like the skin tone (a fringe the real photo's
parsing took for skin, its shadow) are replaced by a smooth fill of the skin-like texels
around, keeping their fine detail (:func:`known_albedo`). Without that, the truth under the
synthetic hat and strands is the astronaut's own fringe (sRGB ~(132, 108, 71) vs skin ~(205,
175, 147)): a completion from skin would be scored wrong for being right
(``--fringe-truth`` scores against that truth).

Diagnostics, per occluder kind (which part loses: the parsing's mask or the fill):

* ``clean_photo``: the same texels textured from the photo without occluders (with its
  parsing): the floor of the round trip render -> photo -> texture (resolution, de-lighting);
* ``oracle_mask``: the production fill given the exact occluder mask (and the shadow band) as
  the parsing;
* ``oracle_fill``: see above (the production mask's errors do not enter it).

Target: ``occluded`` mean no worse than ``never_seen`` mean, ``occluder_colour`` ~ 0. Never-seen
texels are scored against a truth completed by the same skin synthesis as the output, so they
are easy by construction: ``clean_photo`` is the floor an occluded texel can reach.

    .venv/bin/python benchmarks/bench_skin_clean.py [--size 1024] [--photo examples/astronaut.jpg] [--fringe-truth]

:func:`run` is also used by tests/texture/test_skin_clean.py on a small texture.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
from pathlib import Path

import cv2
import numpy as np

GLASSES = (22, 20, 26)
STRANDS = (95, 62, 30)
HAT = (200, 30, 160)
BACKGROUND = (0, 200, 0)


def occluders(shape, pts: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Masks (H, W) bool of glasses, hair strands and a hat drawn from the 478 face points."""
    from avatarforge.perception import landmark_groups as fr

    h, w = shape
    rng = np.random.default_rng(seed)
    x0, y0 = pts[:, :2].min(0)
    x1, y1 = pts[:, :2].max(0)
    fw, fh = x1 - x0, y1 - y0
    eye_w = np.linalg.norm(pts[fr.RIGHT_EYE_OUTER, :2] - pts[fr.RIGHT_EYE_INNER, :2])
    t = max(2, int(round(0.07 * eye_w)))
    g = np.zeros((h, w), np.uint8)
    centres = []
    for ids in (fr.RIGHT_EYE, fr.LEFT_EYE):
        c = pts[ids, :2].mean(0)
        centres.append(c)
        cv2.ellipse(g, (int(c[0]), int(c[1])), (int(0.8 * eye_w), int(0.55 * eye_w)), 0, 0, 360, 1, t)
    a, b = centres
    cv2.line(g, (int(a[0] + 0.8 * eye_w), int(a[1] - 0.1 * eye_w)), (int(b[0] - 0.8 * eye_w), int(b[1] - 0.1 * eye_w)), 1, t)
    for c, s in ((a, -1), (b, 1)):  # temple arms
        cv2.line(g, (int(c[0] + s * 0.8 * eye_w), int(c[1])), (int(c[0] + s * 1.6 * eye_w), int(c[1] - 0.1 * eye_w)), 1, t)
    strands = np.zeros((h, w), np.uint8)
    top = pts[fr.FOREHEAD_TOP, :2]
    brow_y = pts[fr.RIGHT_EYEBROW_UPPER + fr.LEFT_EYEBROW_UPPER, 1].min()
    for _ in range(7):
        sx = top[0] + rng.uniform(-0.3, 0.3) * fw
        ex = sx + rng.uniform(-0.15, 0.15) * fw
        ey = top[1] + rng.uniform(0.5, 0.95) * (brow_y - top[1])
        mid = ((sx + ex) / 2 + rng.uniform(-0.05, 0.05) * fw, (top[1] + ey) / 2)
        curve = np.array([[(1 - u) ** 2 * sx + 2 * (1 - u) * u * mid[0] + u * u * ex,
                           (1 - u) ** 2 * (top[1] - 0.1 * fh) + 2 * (1 - u) * u * mid[1] + u * u * ey]
                          for u in np.linspace(0, 1, 20)])
        cv2.polylines(strands, [np.round(curve).astype(np.int32)], False, 1, max(2, int(0.012 * fw)))
    hat = np.zeros((h, w), np.uint8)
    brim_y = top[1] + 0.05 * fh
    cv2.ellipse(hat, (int(top[0]), int(brim_y)), (int(0.75 * fw), int(0.75 * fh)), 0, 180, 360, 1, -1)
    hat_m = hat.astype(bool)
    return {"glasses": g.astype(bool) & ~hat_m, "strands": strands.astype(bool) & ~hat_m, "hat": hat_m}


def hat_shadow(hat: np.ndarray, pts: np.ndarray, depth: float = 0.45, reach: float = 0.08) -> np.ndarray:
    """(H, W) float32 multiplier of the hat's cast shadow: ``1 - depth * exp(-d / (reach * face
    height))`` at ``d`` pixels below the hat (1 on and above it, and far below)."""
    fh = float(np.ptp(pts[:, 1]))
    d = cv2.distanceTransform((~hat).astype(np.uint8), cv2.DIST_L2, 3)
    below = np.zeros(hat.shape, bool)
    cols = hat.any(0)
    if cols.any():
        lowest = np.where(cols, hat.shape[0] - 1 - np.argmax(hat[::-1], 0), -1)
        below = np.arange(hat.shape[0])[:, None] > lowest[None]
        below &= cols[None]
    return np.where(below & ~hat, 1.0 - depth * np.exp(-d / max(reach * fh, 1.0)), 1.0).astype(np.float32)


def _delta_e(a_lin: np.ndarray, b_lin: np.ndarray) -> np.ndarray:
    from skimage.color import rgb2lab

    from avatarforge.util.colour import linear_to_srgb

    la = rgb2lab(np.clip(linear_to_srgb(a_lin), 0, 1)[None])[0]
    lb = rgb2lab(np.clip(linear_to_srgb(b_lin), 0, 1)[None])[0]
    return np.linalg.norm(la - lb, axis=-1)


def known_albedo(rec, size: int, skin_only: bool = True) -> np.ndarray:
    """A realistic known albedo: the photo's own texture with its parsing. ``skin_only``: head
    texels (away from eyes, brows, lips, cavities) that do not look like the skin tone
    (:func:`~avatarforge.texture.skin.skin_likeness` < 0.5: a fringe or its shadow the real
    photo's parsing let through) become the smooth fill of the skin-like texels around times
    their own fine luminance detail, so the truth is skin under every occluder."""
    from avatarforge.perception.parsing import parse_photo
    from avatarforge.texture import make_texture, regions_for
    from avatarforge.texture.fill import blur, push_pull
    from avatarforge.texture.make import grow_mask
    from avatarforge.texture.skin import skin_likeness
    from avatarforge.util.colour import LUMA

    tex = make_texture(rec, size=size, parsing=parse_photo(rec.rgb, rec.landmarks.points))
    a = tex.albedo_linear
    if not skin_only:
        return a
    regions = regions_for(rec.body, size)
    keep = grow_mask(regions.eyes | regions.brows | regions.lips, 6 * size / 1024)
    keep |= regions.eyeball | regions.interior | regions.nostrils | ~tex.baked.layout.mask
    zone = regions.head & ~keep
    bad = grow_mask(zone & (skin_likeness(a, tex.skin.linear) < 0.5), 2 * size / 1024) & zone
    smooth = push_pull(a, (zone & ~bad).astype(np.float32))
    lum = np.maximum(a @ LUMA, 1e-4)
    detail = np.clip(lum / np.maximum(blur(lum, 2.0 * size / 1024), 1e-4), 0.8, 1.25)
    out = a.copy()
    out[bad] = smooth[bad] * detail[bad][:, None]
    return out.astype(np.float32)


def _scores(a: np.ndarray, truth: np.ndarray, sets: dict[str, np.ndarray]) -> dict[str, float | None]:
    """Mean delta E of ``a`` against ``truth`` over each texel set (None: empty set)."""
    return {k: round(float(_delta_e(a[m], truth[m]).mean()), 2) if m.any() else None for k, m in sets.items()}


def oracle_parsing(parsing, covered: np.ndarray, occluded: np.ndarray):
    """The parsing a perfect parser would give: skin wherever the model covers the photo, the
    label ``occluder`` on ``occluded`` pixels, background elsewhere."""
    from avatarforge.perception.parsing import LABELS

    labels = np.full(covered.shape, LABELS.index("background"), np.uint8)
    labels[covered] = LABELS.index("face_skin")
    labels[occluded] = LABELS.index("occluder")
    return dataclasses.replace(parsing, labels=labels)


def run(rec, truth_linear: np.ndarray, size: int = 1024, diagnostics: bool = True) -> dict:
    """Scores with and without parsing for ``rec`` (a FaceReconstruction whose fit defines the
    geometry and camera) and the known albedo ``truth_linear`` ((S, S, 3) float32 linear);
    ``diagnostics`` adds the ``clean_photo`` and ``oracle_mask`` rows (two more textures)."""
    from avatarforge.perception.parsing import parse_photo
    from avatarforge.texture import make_texture, regions_for
    from avatarforge.texture.fidelity import render_fitted
    from avatarforge.texture.fill import push_pull
    from avatarforge.texture.layout import unpack
    from avatarforge.texture.make import grow_mask
    from avatarforge.util.colour import from_uint8, to_uint8

    truth = cv2.resize(truth_linear, (size, size), interpolation=cv2.INTER_AREA) if truth_linear.shape[0] != size else truth_linear
    known = types.SimpleNamespace(lit_linear=truth, albedo_linear=truth)
    clean = render_fitted(rec, known)
    alpha = clean[..., 3:4] > 0
    pts = np.asarray(rec.fit.landmarks_2d)
    occ = occluders(clean.shape[:2], pts)
    shadow = hat_shadow(occ["hat"], pts)
    clean_rgb = np.where(alpha, clean[..., :3], 0).astype(np.uint8)
    shaded = to_uint8(from_uint8(clean[..., :3]) * shadow[..., None])
    img = np.where(alpha, shaded, np.array(BACKGROUND, np.uint8)).astype(np.uint8)
    for name, colour in (("hat", HAT), ("glasses", GLASSES), ("strands", STRANDS)):
        img[occ[name]] = colour
    any_occ = occ["glasses"] | occ["strands"] | occ["hat"]
    in_shadow = alpha[..., 0] & ~any_occ & (shadow < 0.9)

    ref = make_texture(dataclasses.replace(rec, rgb=clean_rgb), size=size)  # the clean bake: which texels a photo shows
    synth = dataclasses.replace(rec, rgb=img)
    regions = regions_for(rec.body, size)
    keep_out = grow_mask(regions.eyes | regions.brows | regions.lips, 6 * size / 1024)
    scored = (regions.head & (regions.scalp < 0.5) & ~keep_out & ~regions.eyeball & ~regions.interior
              & ~regions.nostrils & ref.baked.layout.mask)
    b = ref.baked
    px = np.clip(b.pixel[:, 0].astype(int), 0, img.shape[1] - 1)
    py = np.clip(b.pixel[:, 1].astype(int), 0, img.shape[0] - 1)

    def texels_of(pixels: np.ndarray) -> np.ndarray:
        return scored & (b.weight > 0.5) & unpack(np.where(b.visible, pixels[py, px], False), b.layout, False, bool)

    occluded = texels_of(any_occ)
    by_kind = {k: texels_of(m) for k, m in occ.items()}
    by_kind["hat_shadow"] = texels_of(in_shadow) & ~occluded
    never = scored & (b.weight == 0)
    seen_clean = scored & (b.weight > 0.5) & ~occluded & ~by_kind["hat_shadow"]
    occ_cols = np.array([from_uint8(np.array(c, np.uint8)) for c in (GLASSES, STRANDS, HAT, BACKGROUND)], np.float32)
    out = {"size": size, "texels": {"scored": int(scored.sum()), "occluded": int(occluded.sum()),
                                    "never_seen": int(never.sum()), **{k: int(m.sum()) for k, m in by_kind.items()}}}
    # The floor of any completion from the texels around: the truth itself, push-pull filled
    # into the occluded texels from the scored texels the occluders leave (never-seen texels are
    # scored against a truth made by the same skin synthesis as the completion, so they are
    # easy by construction).
    oracle = push_pull(truth, (scored & ~occluded).astype(np.float32))
    out["oracle_fill"] = {"occluded_mean_de": _scores(oracle, truth, {"o": occluded})["o"],
                          "occluded_mean_de_by_kind": _scores(oracle, truth, by_kind)}
    parsing = parse_photo(img, pts)
    images = {"photo": img, "parsing": parsing, "truth": truth, "scored": scored, "occluded": occluded, "never": never}
    runs = [("without_parsing", synth, None), ("with_parsing", synth, parsing)]
    if diagnostics:
        runs += [("clean_photo", dataclasses.replace(rec, rgb=np.where(alpha, clean[..., :3], np.array(BACKGROUND, np.uint8))),
                  parse_photo(np.where(alpha, clean[..., :3], np.array(BACKGROUND, np.uint8)).astype(np.uint8), pts)),
                 ("oracle_mask", synth, oracle_parsing(parsing, alpha[..., 0], any_occ | in_shadow))]
    for label, photo_rec, parse in runs:
        tex = make_texture(photo_rec, size=size, parsing=parse)
        a = tex.albedo_linear
        de = _delta_e(a[scored], truth[scored])
        de_img = np.zeros(scored.shape, np.float32)
        de_img[scored] = de
        d_occ = np.stack([_delta_e(a[scored], np.broadcast_to(c, a[scored].shape)) for c in occ_cols], 1).min(1)
        occ_colour = (d_occ + 10.0 < de)
        out[label] = {"occluded_mean_de": round(float(de_img[occluded].mean()), 2),
                      "never_seen_mean_de": round(float(de_img[never].mean()), 2),
                      "seen_clean_mean_de": round(float(de_img[seen_clean].mean()), 2),
                      "occluder_colour_share": round(float(occ_colour.mean()), 4),
                      "occluded_mean_de_by_kind": {k: round(float(de_img[m].mean()), 2) if m.any() else None
                                                   for k, m in by_kind.items()}}
        images[label] = {"albedo": a, "delta_e": de_img, "weight": tex.weight}
    out["detected"] = parsing.accessories.to_dict()
    out["_images"] = images
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photo", type=Path, default=Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--out", type=Path, default=Path("/work/out-issue14/skin_clean"))
    ap.add_argument("--fringe-truth", action="store_true",
                    help="score against the photo's texture as it is (its fringe under the synthetic hat and strands)")
    args = ap.parse_args()
    from PIL import Image

    from avatarforge.pipeline.face import reconstruct_face

    rec = reconstruct_face(args.photo)
    res = run(rec, known_albedo(rec, args.size, skin_only=not args.fringe_truth), args.size)
    imgs = res.pop("_images")
    args.out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(imgs["photo"]).save(args.out / "synthetic_photo.png")
    (args.out / "parsing.png").write_bytes(imgs["parsing"].to_png())
    (args.out / "skin_clean.json").write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
