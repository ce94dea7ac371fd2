"""Face reconstruction on real photos: landmark agreement and speed.

    .venv/bin/python benchmarks/bench_face_real.py [PHOTO ...]

Without arguments it uses the public photos available offline (scikit-image's astronaut,
matplotlib's grace_hopper.jpg). For each photo: the normalised mean error (NME, by the
outer-eye-corner distance) between the fitted model's iBUG-68 landmarks and the detector's
68 points (MediaPipe's mesh mapped to iBUG-68 — not an independent detector), and the time
of detection and fit. Writes benchmarks/results/face_real.json.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def default_photos(folder: Path) -> list[Path]:
    import matplotlib.cbook
    from PIL import Image
    from skimage import data

    astro = folder / "astronaut.png"
    Image.fromarray(data.astronaut()).save(astro)
    return [astro, Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))]


def main() -> None:
    from avatarforge.bodies import load_body
    from avatarforge.fitting.ibug68 import IBUG68_GROUPS, ibug68_from_mediapipe, inter_ocular
    from avatarforge.pipeline.face import reconstruct_face
    from avatarforge.util.progress import Stages

    tmp = Path(tempfile.mkdtemp())
    photos = [Path(p) for p in sys.argv[1:]] or default_photos(tmp)
    body = load_body()
    reconstruct_face(photos[0], body=body)  # warm-up: model instances, JIT
    rows = []
    for photo in photos:
        stages = Stages()
        t = time.perf_counter()
        rec = reconstruct_face(photo, body=body, stages=stages)
        total = time.perf_counter() - t
        ref = ibug68_from_mediapipe(rec.landmarks.points[:, :2])
        # the fitted model's own points (the exported ibug68_2d lean on the detector's)
        err = np.linalg.norm(rec.fit.ibug68_model_2d - ref, axis=1)
        io = inter_ocular(ref)
        row = {
            "photo": photo.name, "size": list(rec.image_size), "nme": float(err.mean() / io),
            "nme_exported": float(np.linalg.norm(rec.fit.ibug68_2d - ref, axis=1).mean() / io),
            "nme_by_group": {g: float(err[list(r)].mean() / io) for g, r in IBUG68_GROUPS.items()},
            "rmse_px_478": rec.fit.rmse_px, "seconds": {k: round(v, 3) for k, v in stages.timings.items()},
            "detect_plus_fit_s": stages.timings["detect face"] + stages.timings["fit face"], "total_s": total,
        }
        rows.append(row)
        print(f"{photo.name:24s} NME {100 * row['nme']:.2f} %  detect+fit {row['detect_plus_fit_s']:.2f} s  "
              f"({', '.join(f'{k} {v:.2f}' for k, v in row['seconds'].items())})", flush=True)
    summary = {"mean_nme": float(np.mean([r["nme"] for r in rows])),
               "mean_detect_plus_fit_s": float(np.mean([r["detect_plus_fit_s"] for r in rows]))}
    print(json.dumps(summary))
    out = Path(__file__).parent / "results" / "face_real.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
