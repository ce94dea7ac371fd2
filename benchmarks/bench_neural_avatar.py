"""Textured neural avatar vs the Direct baseline on synthetic data, same training budget.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_neural_avatar.py            # full (~35-45 min, CPU)
    PYTHONPATH=src .venv/bin/python benchmarks/bench_neural_avatar.py --quick    # smoke run (~1 min)
    PYTHONPATH=src .venv/bin/python benchmarks/bench_neural_avatar.py --eval-only  # re-evaluate trained models

Renders the synthetic data set (the body model in a procedural outfit, random motions, 8
training cameras around it, 4 held-out cameras in between; held-out poses from other motion
seeds), trains the texture model (generator pre-training on part/UV maps + texture
initialisation + main training) and the Direct baseline for the same number of generator
updates at the same batch size, single torch thread, then evaluates SSIM / PSNR / L1 on the
held-out poses and the held-out views and measures rendering speed at 256 x 256 (bone
rasterisation + network + compositing, one frame at a time, single thread).

Writes benchmarks/results/neural_avatar.json (not with --quick) and side-by-side images
(rows: ground truth, Direct, texture model) under --images (default out/neural/).
The CPU is shared: timings are noisy; the load average is recorded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def _strip(images: list[np.ndarray], scale: int) -> np.ndarray:
    row = np.concatenate(images, 1)
    return row.repeat(scale, 0).repeat(scale, 1)


def _body_box_metrics(avatar, data, split: str) -> dict[str, float]:
    """SSIM / PSNR / L1 inside each frame's ground-truth person bounding box (+4 px): the
    whole-image figures are dominated by the flat background."""
    from avatarforge.neural.losses import image_metrics
    from avatarforge.neural.train import predict

    idx = data.indices(split)
    pred = predict(avatar.model, data, idx, avatar.thickness)
    target = torch.from_numpy(data.images[idx]).permute(0, 3, 1, 2).float() / 255
    sums: dict[str, list[float]] = {"ssim": [], "psnr": [], "l1": []}
    h, w = data.size
    for k, i in enumerate(idx):
        ys, xs = np.nonzero(data.masks[i])
        y0, y1 = max(ys.min() - 4, 0), min(ys.max() + 5, h)
        x0, x1 = max(xs.min() - 4, 0), min(xs.max() + 5, w)
        m = image_metrics(pred[k : k + 1, :, y0:y1, x0:x1], target[k : k + 1, :, y0:y1, x0:x1])
        for key in sums:
            sums[key].append(float(m[key][0]))
    return {k: float(np.mean(v)) for k, v in sums.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--iterations", type=int, default=1000, help="main-phase steps of the texture model")
    ap.add_argument("--pretrain", type=int, default=400, help="generator pre-training steps of the texture model")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--workdir", type=Path, default=ROOT / "out" / "neural" / "bench")
    ap.add_argument("--images", type=Path, default=ROOT / "out" / "neural")
    ap.add_argument("--quick", action="store_true", help="tiny smoke run; writes no result file")
    ap.add_argument("--eval-only", action="store_true",
                    help="re-evaluate the models already trained in --workdir (training figures are taken "
                         "from the existing result file)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    from avatarforge.neural.data_synthetic import SyntheticConfig, make_synthetic
    from avatarforge.neural.motion import load_motion
    from avatarforge.neural.render import measure_fps
    from avatarforge.neural.train import TrainConfig, evaluate, load_avatar, predict, train

    if args.quick:
        args.size, args.iterations, args.pretrain = 64, 30, 20
        syn = SyntheticConfig(size=64, train_sequences=2, test_sequences=1, frames_per_sequence=5,
                              unseen_views_per_camera=3)
    else:
        syn = SyntheticConfig(size=args.size, train_sequences=8, test_sequences=2, frames_per_sequence=20,
                              unseen_views_per_camera=16)
    t0 = time.perf_counter()
    data = make_synthetic(syn)
    data_seconds = time.perf_counter() - t0
    print(f"data: {data.meta['counts']} frames at {args.size}px in {data_seconds:.0f} s", flush=True)

    budget = args.pretrain + args.iterations
    configs = {
        "texture": TrainConfig(kind="texture", iterations=args.iterations, pretrain_iterations=args.pretrain,
                               batch_size=args.batch, log_every=50, checkpoint_every=500),
        "direct": TrainConfig(kind="direct", iterations=budget, pretrain_iterations=0, batch_size=args.batch,
                              log_every=50, checkpoint_every=500),
    }
    results: dict = {}
    seconds: dict[str, float] = {}
    fps: dict[str, float] = {}
    preds: dict[str, dict[str, torch.Tensor]] = {}
    motion = load_motion("dance", 40)
    result_file = ROOT / "benchmarks" / "results" / "neural_avatar.json"
    previous = json.loads(result_file.read_text()) if args.eval_only else {}
    for kind, cfg in configs.items():
        d = args.workdir / kind
        if args.eval_only:
            seconds[kind] = previous["train_seconds_by_model"][kind]
        else:
            shutil.rmtree(d, ignore_errors=True)
            res = train(data, d, cfg, resume=False,
                        on_log=lambda log, k=kind: print(f"  {k} {json.dumps(log)}", flush=True))
            seconds[kind] = res.seconds
        avatar = load_avatar(d)
        results[kind] = {split: evaluate(avatar.model, data, split, avatar.thickness)
                         for split in ("unseen_poses", "unseen_views", "train")}
        for split in ("unseen_poses", "unseen_views"):
            results[kind][f"{split}_body_box"] = _body_box_metrics(avatar, data, split)
        fps[kind] = measure_fps(avatar, motion, (256, 256))
        preds[kind] = {split: predict(avatar.model, data, data.indices(split)[:: max(1, len(data.indices(split)) // 8)][:8],
                                      avatar.thickness) for split in ("unseen_views", "unseen_poses")}
        print(f"{kind}: {json.dumps(results[kind])} train {seconds[kind]:.0f} s, render {fps[kind]:.1f} fps @256", flush=True)

    args.images.mkdir(parents=True, exist_ok=True)
    from PIL import Image

    for split in ("unseen_views", "unseen_poses"):
        idx = data.indices(split)[:: max(1, len(data.indices(split)) // 8)][:8]
        gt = [data.images[i] for i in idx]
        rows = [_strip(gt, 2)]
        for kind in ("direct", "texture"):
            rows.append(_strip([(p.permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8) for p in preds[kind][split]], 2))
        name = f"side_by_side_{split}{'_quick' if args.quick else ''}.png"
        Image.fromarray(np.concatenate(rows, 0)).save(args.images / name)
        print(f"wrote {args.images / name} (rows: ground truth, Direct, texture model)")

    tex = load_avatar(args.workdir / "texture").model.texture.detach().clamp(0, 1)
    atlas = np.concatenate([(t.permute(1, 2, 0).numpy() * 255).astype(np.uint8) for t in tex], 1)
    Image.fromarray(atlas.repeat(2, 0).repeat(2, 1)).save(args.images / f"texture_stack{'_quick' if args.quick else ''}.png")

    out = {
        "texture": {k: v for k, v in results["texture"].items()},
        "direct": {k: v for k, v in results["direct"].items()},
        "train_seconds": round(seconds["texture"], 1),
        "render_fps": round(fps["texture"], 2),
        "train_seconds_by_model": {k: round(v, 1) for k, v in seconds.items()},
        "render_fps_by_model": {k: round(v, 2) for k, v in fps.items()},
        "render_size": [256, 256],
        "resolution": [args.size, args.size],
        "iterations": {"texture": {"pretrain": args.pretrain, "train": args.iterations}, "direct": {"train": budget}},
        "batch_size": args.batch,
        "frames": data.meta["counts"],
        "data_seconds": round(data_seconds, 1),
        "torch_threads": 1,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "command": "PYTHONPATH=src .venv/bin/python benchmarks/bench_neural_avatar.py"
                   + ("" if (args.size, args.iterations, args.pretrain, args.batch) == (128, 1000, 400, 8) else
                      f" --size {args.size} --iterations {args.iterations} --pretrain {args.pretrain} --batch {args.batch}"),
        **({"eval_command": "PYTHONPATH=src .venv/bin/python benchmarks/bench_neural_avatar.py --eval-only "
                            "(metrics and render_fps re-measured on the models trained by `command`)",
            "render_fps_earlier_runs": previous.get("render_fps_earlier_runs", []) + [previous.get("render_fps_by_model")]}
           if args.eval_only else {}),
        "note": "train split figures are on training poses and views, for reference; CPU shared with other jobs",
    }
    for m in ("texture", "direct"):
        for split in out[m]:
            out[m][split] = {k: round(v, 4) for k, v in out[m][split].items()}
    print(json.dumps(out, indent=1))
    if not args.quick:
        result_file.parent.mkdir(exist_ok=True)
        result_file.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
