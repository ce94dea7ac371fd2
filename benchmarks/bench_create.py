"""The main job's speed: `create` on a ~1-megapixel portrait (cold process and warm), and
batch throughput with 1 and 2 workers.

    .venv/bin/python benchmarks/bench_create.py [--batch-photos 6]

Writes benchmarks/results/create.json. The portrait is matplotlib's grace_hopper.jpg
upscaled to ~1 MP (the public photos shipped offline are smaller).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageOps


def portrait(folder: Path) -> Path:
    import matplotlib.cbook

    src = Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    img = src.resize((924, 1083), Image.LANCZOS)  # ~1.0 MP
    path = folder / "portrait_1mp.jpg"
    img.save(path, quality=92)
    return path


def batch_inputs(folder: Path, n: int, base: Path) -> Path:
    from skimage import data

    d = folder / "batch_in"
    d.mkdir()
    imgs = [Image.open(base), Image.fromarray(data.astronaut())]
    for i in range(n):
        img = imgs[i % 2]
        img = ImageOps.mirror(img) if (i // 2) % 2 else img
        img.save(d / f"p{i:02d}.jpg", quality=92)
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--batch-photos", type=int, default=6)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    photo = portrait(tmp)
    exe = [sys.executable, "-m", "avatarforge.cli.main"]
    figures: dict = {}

    t = time.perf_counter()
    subprocess.run(exe + ["create", str(photo), "-o", str(tmp / "cold")], check=True, capture_output=True)
    figures["create_cold_process_s"] = time.perf_counter() - t
    report = json.loads((tmp / "cold" / "report.json").read_text())
    figures["create_cold_report_total_s"] = report["total_seconds"]
    figures["create_cold_stages_s"] = report["stage_seconds"]

    from avatarforge.bodies import load_body
    from avatarforge.outputs import Report
    from avatarforge.pipeline.create import create_avatar, write_create_outputs
    from avatarforge.util.progress import Stages

    body = load_body()
    for i in range(2):  # the second call is the warm figure (model and caches kept)
        stages = Stages()
        t = time.perf_counter()
        res = create_avatar(photo, body=body, stages=stages)
        write_create_outputs(res, tmp / f"warm{i}", Report("create"), stages)
        warm = time.perf_counter() - t
    figures["create_warm_s"] = warm
    figures["create_warm_stages_s"] = {k: round(v, 3) for k, v in stages.timings.items()}

    src = batch_inputs(tmp, args.batch_photos, photo)
    for workers in (1, 2):
        out = tmp / f"batch{workers}"
        subprocess.run(exe + ["batch", str(src), "-o", str(out), "--workers", str(workers)], check=True,
                       capture_output=True)
        rep = json.loads((out / "batch_report.json").read_text())
        figures[f"batch_{workers}w_photos_per_min"] = rep["photos_per_minute"]
        figures[f"batch_{workers}w_seconds"] = rep["seconds"]
    print(json.dumps(figures, indent=1))
    out = Path(__file__).parent / "results" / "create.json"
    out.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
