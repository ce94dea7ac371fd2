"""The main job's speed: `create` on a ~1-megapixel portrait (cold process and warm), and
batch throughput with 1 and 2 workers.

    .venv/bin/python benchmarks/bench_create.py [--batch-photos 6]

Writes benchmarks/results/create.json (with the load average at the start: on a 2-core machine
other processes change every figure; the process CPU seconds change least). The portrait is matplotlib's grace_hopper.jpg
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
    ap.add_argument("--cold-repeats", type=int, default=3, help="cold processes to time (median and best kept)")
    args = ap.parse_args()
    import os
    import resource
    import statistics
    tmp = Path(tempfile.mkdtemp())
    photo = portrait(tmp)
    exe = [sys.executable, "-m", "avatarforge.cli.main"]
    figures: dict = {"load_average_at_start": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}

    # A cold process: Python start, imports, model load (from the built cache), the job, exit.
    walls, cpus, reports = [], [], []
    for i in range(max(1, args.cold_repeats)):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        subprocess.run(exe + ["create", str(photo), "-o", str(tmp / f"cold{i}")], check=True, capture_output=True)
        walls.append(time.perf_counter() - t)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
        reports.append(json.loads((tmp / f"cold{i}" / "report.json").read_text()))
    best = min(range(len(walls)), key=walls.__getitem__)
    figures["create_cold_process_s"] = round(statistics.median(walls), 3)
    figures["create_cold_process_best_s"] = round(walls[best], 3)
    figures["create_cold_process_cpu_s"] = round(statistics.median(cpus), 3)
    figures["create_cold_report_total_s"] = reports[best]["total_seconds"]
    figures["create_cold_stages_s"] = reports[best]["stage_seconds"]

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
    figures["create_warm_s"] = round(warm, 3)
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
