"""Rendering speed of a neural avatar: the fused render path vs the models' plain forward.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_neural_render.py [--model DIR ...] [--frames 30]

Per model (an untrained texture model and Direct -- every part weight above the sparse
threshold, the texture lookup's worst case -- and any trained ``--model`` folders), per size
(128, 256 px) and per torch thread count (1, 2): frames per second and process CPU
milliseconds per frame of the render path (bone rasterisation + generator + compositing to
uint8, ``neural.infer.render_image``), and the same for the plain path it replaced (the same
bones, then ``model(bones)`` + clamp + ``float_to_uint8``; the bones' old per-bone torch loop is
not in it). The two paths alternate frame by frame, so that the machine's load hits both alike. Writes benchmarks/results/neural_render.json (with the command).
Wall-clock FPS on a shared machine is a lower bound; the CPU time changes least with the load.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def _models(dirs: list[Path]):
    from avatarforge.neural.model import build_model
    from avatarforge.neural.train import Avatar, TrainConfig, load_avatar

    # A camera 2.9 m in front of the body (R = diag(1, -1, -1)), 256 px intrinsics.
    row = np.array([1, 0, 0, 0, -1, 0, 0, 0, -1, 0, 0.85, 2.9, 360, 128, 128], np.float64)
    for kind in ("texture", "direct"):
        cfg = TrainConfig(kind=kind)
        torch.manual_seed(0)
        yield f"{kind} (untrained)", Avatar(build_model(cfg.model_config()).eval(), (256, 256), torch.full((3,), 0.5),
                                            row, cfg.thickness, {})
    for d in dirs:
        yield f"{load_avatar(d).model.config.kind} ({d.name})", load_avatar(d)


def measure(avatar, motion, size: int) -> dict:
    """Interleaved timing of the fused path and the plain forward over the motion's frames."""
    from avatarforge.neural.bones import rasterize_bones
    from avatarforge.neural.infer import render_image
    from avatarforge.neural.render import CameraPath
    from avatarforge.util.colour import float_to_uint8

    path, bg, model = CameraPath(None), avatar.background, avatar.model.eval()
    n = len(motion)
    t = {"fast": [0.0, 0.0], "plain": [0.0, 0.0], "bones": [0.0, 0.0]}
    max_diff = 0
    for i in range(-2, n):  # two warm-up frames (numba cache load, allocator)
        k = max(i, 0)
        w0, c0 = time.perf_counter(), time.process_time()
        cam = path.camera(avatar, k, n, (size, size))
        bones = rasterize_bones(motion.joints[k], cam, thickness=avatar.thickness)
        w1, c1 = time.perf_counter(), time.process_time()
        fast = render_image(model, bones, bg)
        w2, c2 = time.perf_counter(), time.process_time()
        with torch.no_grad():
            plain = float_to_uint8(model(bones[None], bg).rgb[0].clamp(0, 1).permute(1, 2, 0).numpy())
        w3, c3 = time.perf_counter(), time.process_time()
        if i < 0:
            continue
        max_diff = max(max_diff, int(np.abs(fast.astype(int) - plain.astype(int)).max()))
        t["bones"][0] += w1 - w0
        t["bones"][1] += c1 - c0
        t["fast"][0] += w2 - w0  # the whole frame: bones + network + compositing
        t["fast"][1] += c2 - c0
        t["plain"][0] += (w1 - w0) + (w3 - w2)
        t["plain"][1] += (c1 - c0) + (c3 - c2)
    return {"fps": round(n / t["fast"][0], 1), "cpu_ms": round(1e3 * t["fast"][1] / n, 1),
            "plain_fps": round(n / t["plain"][0], 1), "plain_cpu_ms": round(1e3 * t["plain"][1] / n, 1),
            "bones_cpu_ms": round(1e3 * t["bones"][1] / n, 2), "max_level_diff": max_diff, "frames": n}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, action="append", default=[], help="trained avatar folders to time too")
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--sizes", default="128,256")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from avatarforge.neural.motion import load_motion

    motion = load_motion("walk", n_frames=args.frames)
    result: dict = {"command": "PYTHONPATH=src .venv/bin/python benchmarks/bench_neural_render.py " + " ".join(sys.argv[1:]),
                    "cpu": os.cpu_count(), "load_average_start": round(os.getloadavg()[0], 1), "models": {}}
    for name, avatar in _models(args.model):
        rows = result["models"].setdefault(name, {})
        for threads in (int(x) for x in args.threads.split(",")):
            torch.set_num_threads(threads)
            for size in (int(x) for x in args.sizes.split(",")):
                rows[f"{size}px_{threads}thread"] = r = measure(avatar, motion, size)
                print(name, size, threads, r, flush=True)
    result["load_average_end"] = round(os.getloadavg()[0], 1)
    print(json.dumps(result, indent=1))
    if not args.no_write:
        (ROOT / "benchmarks/results/neural_render.json").write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
