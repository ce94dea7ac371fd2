"""Start-up and end-to-end speed of `avatarforge create` as a user runs it (new processes).

    .venv/bin/python benchmarks/bench_speed.py [--photo examples/astronaut.jpg] [--repeat 3]

Measured in one run, so the ratios cancel this (shared, loaded) machine's drift:
- the bare import of the stack (`import torch, mediapipe, cv2, anny, numba, scipy`);
- `avatarforge --help`;
- `create PHOTO` as a new process (median of --repeat; one warm-up run first so the numba
  kernels and the body model are in their caches), with each child's peak memory
  (``ru_maxrss`` from ``os.wait4``);
- bad input (not an image, truncated, no face): time to the one-line error.
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
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"bare import {bare_s:.2f} s | --help {result['help']['seconds']:.2f} s | create {create_m['seconds']:.2f} s "
          f"({result['create']['ratio_to_bare_import']:.2f}x bare), {create_m['peak_mb']:.0f} MB peak")
    for k, v in result["bad_input"].items():
        print(f"bad input {k}: {v['seconds']:.2f} s ({v['ratio_to_bare_import']:.2f}x bare), exit {v['exit_code']}")
    print(f"load average {result['machine']['loadavg_before']} -> {result['machine']['loadavg_after']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
