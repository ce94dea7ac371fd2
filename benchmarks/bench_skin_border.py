"""The border between the photo-baked face and the completed skin (issue 14 item 2), in UV
space, on real portraits: :func:`avatarforge.texture.border.border_step` (delta E76 between the
local mean albedo of the confidently photographed texels and of the completed texels along
their border) over the head's skin (features, eyeballs, cavities and the scalp left out), with
the photo parsing, for each photo and its mean.

    nice .venv/bin/python benchmarks/bench_skin_border.py [--size 1024] [--photos DIR] [--out results/skin_border.json]

``--previews DIR`` also writes each head's 0/45/90 degree views (preview_head.png's renderer,
no hair) to look at.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

PHOTOS = ("astronaut.jpg", "biden.jpg", "faceapi_sample2.jpg", "obama.jpg", "pyfeat_45-m7-di-ph.jpg", "tom_hanks.png",
          "faceapi_sample5.jpg")


def measure(rec, size: int, config=None) -> tuple[dict, object]:
    """Border step of ``rec``'s texture (with its parsing) and the TextureResult."""
    from avatarforge.perception.parsing import parse_photo
    from avatarforge.texture import make_texture, regions_for
    from avatarforge.texture.border import border_step
    from avatarforge.texture.make import grow_mask

    tex = make_texture(rec, size=size, config=config, parsing=parse_photo(rec.rgb, rec.landmarks.points))
    r = regions_for(rec.body, size)
    keep_out = grow_mask(r.eyes | r.brows | r.lips, 6 * size / 1024) | r.eyeball | r.interior | r.nostrils
    region = r.head & ~keep_out & (r.scalp < 0.5) & tex.baked.layout.mask
    step = border_step(tex.albedo_linear, tex.weight, region, band=12.0 * size / 1024)
    return {"mean_de": round(step.mean_de, 2), "p90_de": round(step.p90_de, 2), "texels": step.texels}, tex


def head_views(rec, tex, size: int = 320) -> np.ndarray:
    """The textured head at 0, 45 and 90 degrees (no hair), side by side."""
    from avatarforge.avatar import Avatar
    from avatarforge.outputs import write_head_preview

    body = rec.body
    values = body.params.complete({k: v for k, v in rec.fit.values.items() if not k.startswith("pose.")})
    av = Avatar(body, values, "a", body.forward_params(values), tex.albedo)
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return write_head_preview(av, Path(d) / "h.png", size=size)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=Path, default=Path("/work/photos/appearance"))
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "skin_border.json")
    ap.add_argument("--previews", type=Path, default=None)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from avatarforge.pipeline.face import reconstruct_face

    rows = {}
    cpu = time.process_time()
    for name in PHOTOS:
        path = args.photos / name
        if not path.exists():
            continue
        rec = reconstruct_face(path)
        rows[name], tex = measure(rec, args.size)
        print(name, rows[name], flush=True)
        if args.previews is not None:
            from PIL import Image

            args.previews.mkdir(parents=True, exist_ok=True)
            Image.fromarray(head_views(rec, tex)).save(args.previews / f"{path.stem}_head.png")
    vals = [r["mean_de"] for r in rows.values() if np.isfinite(r["mean_de"])]
    res = {"size": args.size, "mean_de": round(float(np.mean(vals)), 2), "photos": rows,
           "cpu_seconds": round(time.process_time() - cpu, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != "photos"}))


if __name__ == "__main__":
    main()
