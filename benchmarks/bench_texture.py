"""Time the texture stage and score its fitted render against the photos.

    python benchmarks/bench_texture.py                 # sizes 1024 and 2048, both sample photos
    python benchmarks/bench_texture.py --sizes 1024 --repeats 5 --json out.json

For each photo (scikit-image's astronaut, matplotlib's Grace Hopper) the face is reconstructed
once (not timed here: see bench_face_*), then for each texture size:

* cold: the first ``make_texture`` after clearing every in-memory cache and pointing the disk
  cache (``AVATARFORGE_CACHE_DIR``) at an empty directory -- what the first avatar of a
  process pays (UV rasters, mirror map, UV regions, seam layout, noise fields);
* first-in-process: in-memory caches cleared, the disk cache filled -- what the first avatar of
  every later process pays;
* warm: the median (and best) of ``--repeats`` further runs (the caches filled); on a shared
  machine the best run is the figure least disturbed by other processes;
* the face-region PSNR / SSIM of ``render_fitted`` (lit texture) and of the re-lit albedo
  against the photo;
* the same PSNR with the detector's iris points instead of the eye network's (ablation);
* the seam error (mean colour distance across UV seams, 0-255 sRGB units, cavities excluded) of
  the albedo before and after seam correction, and of the lit texture.

Targets on a 2-core CPU (warm): <= 2 s at 1024, <= 5 s at 2048. No assertions: figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def photos(tmp: Path) -> dict[str, Path]:
    import matplotlib.cbook as cbook
    from PIL import Image
    from skimage import data

    astro = tmp / "astronaut.png"
    Image.fromarray(data.astronaut()).save(astro)
    return {"astronaut": astro, "grace_hopper": Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1024, 2048])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = ap.parse_args()

    from avatarforge.bodies import load_body
    from avatarforge.pipeline.face import reconstruct_face
    from avatarforge.texture import TextureConfig, fitted_fidelity, make_texture, regions_for
    from avatarforge.texture.make import clear_caches
    from avatarforge.texture.seams import seam_error

    body = load_body()
    results = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        paths = photos(Path(tmp))
        recs = {name: reconstruct_face(path, body=body) for name, path in paths.items()}
        # Ablation: the same photos with the detector's irises instead of the eye network's.
        no_eye_net = {name: reconstruct_face(path, body=body, eye_net=False) for name, path in paths.items()}
        print(f"{'photo':<13} {'size':>5} {'cold s':>7} {'1st s':>6} {'warm s':>7} {'best s':>7} {'PSNR dB':>8} "
              f"{'SSIM':>6} {'relit':>6} {'seam b/a/lit':>16}  stages of the best warm run (s)")
        for name, rec in recs.items():
            for size in args.sizes:
                clear_caches()
                os.environ["AVATARFORGE_CACHE_DIR"] = tempfile.mkdtemp(dir=tmp)
                start = time.perf_counter()
                make_texture(rec, size=size)
                cold = time.perf_counter() - start
                clear_caches()
                start = time.perf_counter()
                make_texture(rec, size=size)
                first = time.perf_counter() - start
                warm, tex, best = [], None, None
                for _ in range(max(1, args.repeats)):
                    start = time.perf_counter()
                    tex = make_texture(rec, size=size)
                    warm.append(time.perf_counter() - start)
                    if warm[-1] == min(warm):
                        best = tex.timings
                _, scores = fitted_fidelity(rec, tex)
                fid, relit = scores["lit"], scores["relit_albedo"]
                _, off = fitted_fidelity(no_eye_net[name], make_texture(no_eye_net[name], size=size))
                raw = make_texture(rec, size=size, config=TextureConfig(seams=False))
                out = rec.body.forward_params(rec.fit.values)
                geo = (out.uvs.numpy(), out.uv_faces.numpy(), out.faces.numpy())
                mask = tex.baked.layout.mask & ~regions_for(rec.body, size).interior
                seams = {k: round(255 * seam_error(img.astype(np.float32) / 255, *geo, mask=mask), 2)
                         for k, img in (("before", raw.albedo), ("after", tex.albedo), ("lit", tex.lit))}
                stages = {k.replace("texture: ", ""): round(v, 3) for k, v in best.items()}
                run = {"photo": name, "size": size, "cold_s": round(cold, 3), "first_in_process_s": round(first, 3),
                       "warm_s": round(statistics.median(warm), 3), "best_s": round(min(warm), 3),
                       "psnr_db": round(fid["psnr"], 2), "ssim": round(fid["ssim"], 4),
                       "coverage": round(fid["coverage"], 4), "relit_albedo_psnr_db": round(relit["psnr"], 2),
                       "relit_albedo_ssim": round(relit["ssim"], 4),
                       "without_eye_net": {"psnr_db": round(off["lit"]["psnr"], 2), "ssim": round(off["lit"]["ssim"], 4)},
                       "seam_error_srgb": seams, "stages_s": stages,
                       "skin_srgb": tex.skin.srgb.tolist(), "hair": tex.features.hair is not None}
                results["runs"].append(run)
                print(f"{name:<13} {size:>5} {run['cold_s']:>7.2f} {first:>6.2f} {run['warm_s']:>7.2f} "
                      f"{run['best_s']:>7.2f} {run['psnr_db']:>8.2f} {run['ssim']:>6.3f} {relit['psnr']:>6.2f} "
                      f"{seams['before']:>5.2f}/{seams['after']:>4.2f}/{seams['lit']:>5.2f}  {stages}", flush=True)
    print(json.dumps(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()
