"""Start-up and end-to-end speed of `avatarforge create` as a user runs it (new processes).

    .venv/bin/python benchmarks/bench_speed.py [--photo examples/astronaut.jpg] [--repeat 3]
        [--warm 3] [--batch-photos 6] [--texture-sizes 1024 2048]

Measured in one run, so the ratios cancel this (shared, loaded) machine's drift:
- the bare import of the stack (`import torch, mediapipe, cv2, anny, numba, scipy`);
- `avatarforge --help`;
- `create PHOTO` as a new process (median of --repeat; one warm-up run first so the numba
  kernels and the body model are in their caches), with each child's peak memory
  (``ru_maxrss`` from ``os.wait4``);
- bad input (not an image, truncated, no face): time to the one-line error;
- warm `create` (one process loads the model, runs one photo, then times ``--warm`` more:
  wall and the process's CPU seconds per photo, median);
- warm texture stage at ``--texture-sizes`` (median wall and CPU of 3 runs after one warm-up);
- `batch -j 2` on ``--batch-photos`` photos: photos/min as measured, and as the CPU time
  allows on 2 free cores (60 * photos / (CPU seconds / 2)), the figure this shared machine
  can still tell.
Writes benchmarks/results/speed.json (with the load average: the figures are noisy when the
machine is shared). Asserts nothing; the targets are issue 16's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
BARE_IMPORT = "import torch, mediapipe, cv2, anny, numba, scipy"
CLI = [sys.executable, "-m", "avatarforge.cli.main"]


def run_child(args: list[str], workdir: Path) -> dict:
    """Run ``args`` as a child; wall seconds, exit code and the child's own peak RSS (MB)."""
    with open(workdir / "stdout.txt", "wb") as out, open(workdir / "stderr.txt", "wb") as err:
        t = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"seconds": round(wall, 3), "exit_code": proc.returncode, "peak_mb": round(usage.ru_maxrss / 1024, 1),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
            "stderr_tail": (workdir / "stderr.txt").read_text(errors="replace").strip().splitlines()[-1:]}


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in ("seconds", "peak_mb", "cpu_seconds")}


WARM_SCRIPT = """
import json, sys, time, torch
torch.set_num_threads(1)
from avatarforge.bodies import load_body
from avatarforge.outputs import Report
from avatarforge.pipeline.create import create_avatar, write_create_outputs
from avatarforge.texture import make_texture
from avatarforge.util.progress import Stages
photo, out, n, sizes = sys.argv[1], sys.argv[2], int(sys.argv[3]), [int(x) for x in sys.argv[4:]]
body = load_body()
runs = []
for i in range(n + 1):  # the first photo fills the caches; the others are the warm figure
    stages = Stages()
    c, t = time.process_time(), time.perf_counter()
    res = create_avatar(photo, body=body, stages=stages)
    write_create_outputs(res, f"{out}/warm{i}", Report("create"), stages)
    runs.append({"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - c,
                 "stages": {k: round(v, 3) for k, v in stages.timings.items()}})
tex = {}
for size in sizes:
    make_texture(res.face, size=size, parsing=res.parsing)
    r = []
    for _ in range(3):
        c, t = time.process_time(), time.perf_counter()
        make_texture(res.face, size=size, parsing=res.parsing)
        r.append((time.perf_counter() - t, time.process_time() - c))
    tex[size] = r
print("RESULT" + json.dumps({"runs": runs[1:], "texture": tex, "fidelity": res.fidelity}))
"""


def batch_photos(d: Path, n: int, photo: Path) -> Path:
    """``n`` photos (the given one and its mirror image, alternating) in a new folder."""
    from PIL import ImageOps

    d.mkdir()
    img = Image.open(photo).convert("RGB")
    for i in range(n):
        (ImageOps.mirror(img) if i % 2 else img).save(d / f"p{i:02d}.jpg", quality=92)
    return d


def bad_inputs(d: Path) -> dict[str, Path]:
    (d / "notes.jpg").write_text("not an image")
    jpeg = (ROOT / "examples" / "astronaut.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    Image.fromarray(np.full((400, 400, 3), 128, np.uint8)).save(d / "no_face.png")
    return {p.stem: p for p in sorted(d.iterdir()) if p.suffix in (".jpg", ".png")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photo", type=Path, default=ROOT / "examples" / "astronaut.jpg")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warm", type=int, default=3, help="warm photos timed in one loaded process")
    ap.add_argument("--batch-photos", type=int, default=6)
    ap.add_argument("--texture-sizes", type=int, nargs="*", default=[1024, 2048])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "speed.json")
    args = ap.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_speed_") as tmp:
        tmp = Path(tmp)
        bare = [run_child([sys.executable, "-c", BARE_IMPORT], tmp) for _ in range(args.repeat)]
        helps = [run_child(CLI + ["--help"], tmp) for _ in range(args.repeat)]
        run_child(CLI + ["create", str(args.photo), "-o", str(tmp / "warmup")], tmp)  # fills the numba cache
        creates = []
        for i in range(args.repeat):
            r = run_child(CLI + ["create", str(args.photo), "-o", str(tmp / f"out{i}")], tmp)
            if r["exit_code"] != 0:
                raise SystemExit(f"create failed: {r['stderr_tail']}")
            creates.append(r)
        bads = {}
        bad_dir = tmp / "bad"
        bad_dir.mkdir()
        for name, path in bad_inputs(bad_dir).items():
            runs = [run_child(CLI + ["create", str(path), "-o", str(tmp / "bad_out")], tmp) for _ in range(args.repeat)]
            bads[name] = {**median_of(runs), "exit_code": runs[0]["exit_code"], "error": runs[0]["stderr_tail"]}
        warm_child = run_child([sys.executable, "-c", WARM_SCRIPT, str(args.photo), str(tmp), str(args.warm),
                                *map(str, args.texture_sizes)], tmp)
        lines = [ln for ln in (tmp / "stdout.txt").read_text().splitlines() if ln.startswith("RESULT")]
        if not lines:
            raise SystemExit(f"warm create failed: {warm_child['stderr_tail']}")
        warm = json.loads(lines[-1][len("RESULT"):])
        src = batch_photos(tmp / "batch_in", args.batch_photos, args.photo)
        batch = run_child(CLI + ["batch", str(src), "-o", str(tmp / "batch_out"), "-j", "2"], tmp)
        batch_report = json.loads((tmp / "batch_out" / "batch_report.json").read_text())
    bare_s = median_of(bare)["seconds"]
    create_m = median_of(creates)
    result = {
        "machine": {"cpus": os.cpu_count(), "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                    "note": "shared machine (several developers' jobs): compare ratios, not seconds"},
        "photo": str(args.photo.relative_to(ROOT) if args.photo.is_relative_to(ROOT) else args.photo),
        "repeat": args.repeat,
        "bare_import": {"command": f'python -c "{BARE_IMPORT}"', **median_of(bare)},
        "help": {**median_of(helps), "ratio_to_bare_import": round(median_of(helps)["seconds"] / bare_s, 3)},
        "create": {**create_m, "runs": [r["seconds"] for r in creates],
                   "ratio_to_bare_import": round(create_m["seconds"] / bare_s, 3)},
        "bad_input": {k: {**v, "ratio_to_bare_import": round(v["seconds"] / bare_s, 3)} for k, v in bads.items()},
        "warm_create": {
            "command": "create_avatar + write_create_outputs in a process that already made one avatar",
            "seconds": round(statistics.median(r["seconds"] for r in warm["runs"]), 3),
            "cpu_seconds": round(statistics.median(r["cpu_seconds"] for r in warm["runs"]), 3),
            "runs": [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()} for r in warm["runs"]],
            "process_peak_mb": warm_child["peak_mb"],
            "render_fitted": {k: {m: round(float(x), 3) for m, x in v.items()} for k, v in warm["fidelity"].items()},
        },
        "texture_warm": {size: {"seconds": round(statistics.median(r[0] for r in runs), 3),
                                "cpu_seconds": round(statistics.median(r[1] for r in runs), 3)}
                         for size, runs in warm["texture"].items()},
        "batch": {"command": f"avatarforge batch DIR -o OUT -j 2 ({args.batch_photos} photos)",
                  "exit_code": batch["exit_code"], "seconds": batch["seconds"], "cpu_seconds": batch["cpu_seconds"],
                  "photos_per_minute": batch_report["photos_per_minute"],
                  "photos_per_minute_on_2_free_cores": round(60 * batch_report["counts"]["done"]
                                                             / max(batch["cpu_seconds"] / 2, 1e-9), 2),
                  "peak_mb": batch["peak_mb"]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"bare import {bare_s:.2f} s | --help {result['help']['seconds']:.2f} s | create {create_m['seconds']:.2f} s "
          f"({result['create']['ratio_to_bare_import']:.2f}x bare), {create_m['peak_mb']:.0f} MB peak")
    for k, v in result["bad_input"].items():
        print(f"bad input {k}: {v['seconds']:.2f} s ({v['ratio_to_bare_import']:.2f}x bare), exit {v['exit_code']}")
    w = result["warm_create"]
    print(f"warm create {w['seconds']:.2f} s wall, {w['cpu_seconds']:.2f} s CPU | texture "
          + ", ".join(f"{k}: {v['seconds']:.2f} s ({v['cpu_seconds']:.2f} CPU)" for k, v in result["texture_warm"].items())
          + f" | batch -j 2: {result['batch']['photos_per_minute']} photos/min "
          f"({result['batch']['photos_per_minute_on_2_free_cores']} on 2 free cores)")
    print(f"load average {result['machine']['loadavg_before']} -> {result['machine']['loadavg_after']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
