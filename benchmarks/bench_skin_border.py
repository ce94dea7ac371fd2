"""The border between the photo-baked face and the completed skin (issue 14 item 2), in UV
space, on real portraits: :func:`avatarforge.texture.border.border_step` (delta E76 between the
local mean albedo of the confidently photographed texels and of the completed texels along
their border) over the head's skin (features, eyeballs, cavities and the scalp left out), with
the photo parsing, for each photo and its mean; ``default``: the inpainting's push-pull fill
drawing on every seen texel (``InpaintConfig.source_weight`` 0), ``sources_0.6``: below weight
0.6 only on skin-like texels.

    nice .venv/bin/python benchmarks/bench_skin_border.py [--size 512] [--photos DIR] [--out results/skin_border.json]

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
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "skin_border.json")
    ap.add_argument("--previews", type=Path, default=None)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    from avatarforge.pipeline.face import reconstruct_face

    from avatarforge.texture.inpaint import InpaintConfig
    from avatarforge.texture.make import TextureConfig

    # default: every seen texel a source of the inpainting's push-pull fill (source_weight 0);
    # sources_0.6: below weight 0.6 only skin-like texels.
    configs = {"default": TextureConfig(), "sources_0.6": TextureConfig(inpaint=InpaintConfig(source_weight=0.6))}
    rows: dict[str, dict] = {}
    cpu = time.process_time()
    for name in PHOTOS:
        path = args.photos / name
        if not path.exists():
            continue
        rec = reconstruct_face(path)
        for label, cfg in configs.items():
            rows.setdefault(name, {})[label], tex = measure(rec, args.size, cfg)
            if args.previews is not None:
                from PIL import Image

                args.previews.mkdir(parents=True, exist_ok=True)
                Image.fromarray(head_views(rec, tex)).save(args.previews / f"{path.stem}_{label}.png")
        print(name, rows[name], flush=True)
    res = {"size": args.size, "photos": rows, "cpu_seconds": round(time.process_time() - cpu, 1),
           "note": "CPU seconds under load (2 cores shared by 8 jobs)"}
    for label in configs:
        vals = [r[label]["mean_de"] for r in rows.values() if np.isfinite(r[label]["mean_de"])]
        res[f"mean_de_{label}"] = round(float(np.mean(vals)), 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=1))
    print(json.dumps({k: v for k, v in res.items() if k != "photos"}))


if __name__ == "__main__":
    main()
