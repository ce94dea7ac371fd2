"""Textured neural avatar vs Direct on held-out *real* frames, same training budget.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_neural_avatar_real.py [--iterations 600] [--size 128]

Data (never committed; extracted from PyPI wheels, see README "Textured neural avatars"):

* multi-view: Pose2Sim's Demo_SinglePerson (4 synchronised, calibrated cameras, 100 frames,
  Qualisys calibration): one camera held out (``--holdout``, default cam02), the model trains
  on the other three; scored on the held-out camera's frames (held-out view);
* monocular: one of those cameras alone (``--mono-video``, default cam01.mp4, the front view):
  trained on the first 70 % of the tracked frames, scored on the later 30 % (held-out poses).
  (Sports2D's demo.mp4 shows two people, which a one-person avatar cannot separate.)

Per data set it records the tracking counts per view (frames with a pose / frames with the
person in view), trains the texture model (synthetic part/UV pre-training + main phase) and the
Direct baseline for the same main-phase steps and batch size (single torch thread), and scores
SSIM / PSNR / L1 inside the ground-truth person box (+4 px) and the mask IoU (predicted mask >
0.5 vs the segmentation). Also the rendering speed at 256 x 256. Writes
benchmarks/results/neural_avatar_real.json (with the command) and side-by-side pictures (rows:
ground truth, Direct, texture model) under --images.
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
POSE2SIM = Path("/work/photos/pose2sim/Pose2Sim/Demo_SinglePerson")
MONO = POSE2SIM / "videos" / "cam01.mp4"


@torch.no_grad()
def score(model, data, split: str, thickness: float) -> tuple[dict, np.ndarray, np.ndarray]:
    """Box metrics + mask IoU over ``split``; returns (metrics, predictions (N,H,W,3) uint8, idx)."""
    from avatarforge.neural.losses import image_metrics
    from avatarforge.neural.train import bone_batch

    model.eval()
    idx = data.indices(split)
    bg = torch.as_tensor(data.background, dtype=torch.float32)
    preds, pmasks = [], []
    for s in range(0, len(idx), 16):
        out = model(bone_batch(data, idx[s : s + 16], thickness), bg)
        preds.append(out.rgb.clamp(0, 1))
        pmasks.append(out.log_mask.exp()[:, 0])
    pred, pmask = torch.cat(preds), torch.cat(pmasks).numpy()
    target = torch.from_numpy(data.images[idx]).permute(0, 3, 1, 2).float() / 255
    vals: dict[str, list[float]] = {"ssim": [], "psnr": [], "l1": [], "mask_iou": []}
    h, w = data.size
    for k, i in enumerate(idx):
        gt = data.masks[i] > 127
        ys, xs = np.nonzero(gt)
        if not len(xs):
            continue
        y0, y1 = max(ys.min() - 4, 0), min(ys.max() + 5, h)
        x0, x1 = max(xs.min() - 4, 0), min(xs.max() + 5, w)
        m = image_metrics(pred[k : k + 1, :, y0:y1, x0:x1], target[k : k + 1, :, y0:y1, x0:x1])
        for key in ("ssim", "psnr", "l1"):
            vals[key].append(float(m[key][0]))
        pm = pmask[k] > 0.5
        vals["mask_iou"].append(float((pm & gt).sum() / max((pm | gt).sum(), 1)))
    out = (pred.permute(0, 2, 3, 1).numpy() * 255).round().astype(np.uint8)
    return {k: round(float(np.mean(v)), 4) for k, v in vals.items()} | {"frames": len(idx)}, out, idx


def run(name: str, data, args, pre, out_root: Path) -> dict:
    from avatarforge.neural.train import TrainConfig, train

    res: dict = {"frames": {s: int(len(data.indices(s))) for s in ("train", "unseen_poses", "unseen_views")}}
    preds = {}
    split = "unseen_views" if len(data.indices("unseen_views")) else "unseen_poses"
    for kind in args.kinds:
        # Same number of generator updates: Direct gets the texture model's pre-training steps as main steps.
        its = args.iterations + (args.pretrain if kind == "direct" and args.equal_updates else 0)
        cfg = TrainConfig(kind=kind, iterations=its, pretrain_iterations=args.pretrain if kind == "texture" else 0,
                          batch_size=args.batch_size, checkpoint_every=10**9, log_every=100)
        d = out_root / f"{name}_{kind}"
        t0 = time.perf_counter()
        r = train(data, d, cfg, resume=False, pretrain_data=pre if kind == "texture" else None)
        from avatarforge.neural.train import load_avatar

        av = load_avatar(d)
        m, pred, idx = score(av.model, data, split, av.thickness)
        res[kind] = {"split": split, **m, "train_seconds": round(time.perf_counter() - t0, 1), "steps": r.steps}
        preds[kind] = pred
        print(name, kind, res[kind], flush=True)
        args.images.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(args.images / f"pred_{name}_{kind}.npz", pred=pred, idx=idx)
    for kind in {"direct", "texture"} - set(args.kinds):  # trained by another process (--kinds): its saved frames
        saved = args.images / f"pred_{name}_{kind}.npz"
        if not saved.is_file():
            return res
        preds[kind] = np.load(saved)["pred"]
    # Side-by-side: ground truth / Direct / texture model, 6 frames spread over the split.
    pick = np.linspace(0, len(idx) - 1, min(6, len(idx))).round().astype(int)
    rows = [np.concatenate([data.images[idx][pick][j] for j in range(len(pick))], 1)]
    rows += [np.concatenate(list(preds[k][pick]), 1) for k in ("direct", "texture")]
    import cv2

    img = np.concatenate(rows, 0)
    img = img.repeat(2, 0).repeat(2, 1)
    args.images.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.images / f"real_{name}_{split}.png"), img[..., ::-1])
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=600)
    ap.add_argument("--pretrain", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--holdout", default="cam02")
    ap.add_argument("--images", type=Path, default=Path("out/neural_real"))
    ap.add_argument("--work", type=Path, default=Path("out/neural_real_models"))
    ap.add_argument("--equal-updates", type=int, default=1,
                    help="1: Direct trains for pretrain + iterations steps (same generator updates); 0: iterations only")
    ap.add_argument("--mono-video", type=Path, default=MONO)
    ap.add_argument("--only", choices=("multiview", "monocular"), default=None,
                    help="run one data set; the other's figures already in the JSON are kept")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--kinds", type=lambda s: tuple(s.split(",")), default=("direct", "texture"),
                    help="models to train, e.g. 'direct' and 'texture' in two processes (then merge the printed figures)")
    ap.add_argument("--skip-fps", action="store_true", help="do not measure the rendering speed")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from avatarforge.neural.data_multiview import MultiViewConfig, dataset_from_multiview
    from avatarforge.neural.data_synthetic import SyntheticConfig, make_synthetic
    from avatarforge.neural.data_video import VideoConfig, dataset_from_video

    t_start = time.perf_counter()
    result: dict = {"command": "PYTHONPATH=src .venv/bin/python benchmarks/bench_neural_avatar_real.py " + " ".join(sys.argv[1:]),
                    "size": args.size, "iterations": args.iterations, "pretrain_iterations": args.pretrain,
                    "batch_size": args.batch_size, "equal_updates": bool(args.equal_updates), "load_average_start": os.getloadavg()[0]}
    pre = make_synthetic(SyntheticConfig(size=args.size, train_sequences=4, test_sequences=1, unseen_views_per_camera=1))
    if args.only:
        old = ROOT / "benchmarks/results/neural_avatar_real.json"
        prev = json.loads(old.read_text()) if old.is_file() else {}
        other = "monocular" if args.only == "multiview" else "multiview"
        if other in prev:
            result[other] = prev[other] | {"command": prev.get("command")}
    if POSE2SIM.is_dir() and args.only in (None, "multiview"):
        t0 = time.perf_counter()
        mv = dataset_from_multiview(POSE2SIM, MultiViewConfig(size=args.size, holdout_views=(args.holdout,)))
        result["multiview"] = {"data": str(POSE2SIM), "holdout_view": args.holdout, "track_seconds": round(time.perf_counter() - t0, 1),
                               "tracking": {k: {kk: vv for kk, vv in v.items() if kk != "skipped"} | {"skipped": len(v["skipped"])}
                                            for k, v in mv.meta["views"].items()}}
        print(json.dumps(result["multiview"]["tracking"]), flush=True)
        result["multiview"] |= run("multiview", mv, args, pre, args.work)
        _write(result, args)
    if args.mono_video.is_file() and args.only in (None, "monocular"):
        t0 = time.perf_counter()
        mono = dataset_from_video(args.mono_video, VideoConfig(size=args.size, max_frames=300))
        n = len(mono.split)
        mono.split[int(0.7 * n):] = 1  # later frames = held-out poses
        result["monocular"] = {"data": str(args.mono_video), "track_seconds": round(time.perf_counter() - t0, 1),
                               "tracking": mono.meta["tracking"], "held_out": "frames after the first 70 %"}
        result["monocular"] |= run("monocular", mono, args, pre, args.work)
        _write(result, args)
    if args.skip_fps:
        return 0
    # Rendering speed at 256 px (untrained weights: every part weight above the sparse
    # threshold, the texture lookup's worst case; benchmarks/bench_neural_render.py has more).
    from avatarforge.neural.model import build_model
    from avatarforge.neural.motion import load_motion
    from avatarforge.neural.render import measure_render_speed
    from avatarforge.neural.train import Avatar, TrainConfig

    fps, cpu_ms = {}, {}
    for kind in ("texture", "direct"):
        cfg = TrainConfig(kind=kind)
        model = build_model(cfg.model_config()).eval()
        # A camera 2.9 m in front of the body (R = diag(1, -1, -1)), 256 px frames.
        row = np.array([1, 0, 0, 0, -1, 0, 0, 0, -1, 0, 0.85, 2.9, 360, 128, 128], np.float64)
        av = Avatar(model, (256, 256), torch.full((3,), 0.5), row, cfg.thickness, {})
        speed = measure_render_speed(av, load_motion("walk", n_frames=40), (256, 256))
        fps[kind], cpu_ms[kind] = round(speed.fps, 1), round(speed.cpu_ms, 1)
    result["fps_256"] = fps
    result["render_cpu_ms_256"] = cpu_ms
    result["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    result["load_average_end"] = os.getloadavg()[0]
    print(json.dumps(result, indent=1))
    _write(result, args)
    return 0


def _write(result: dict, args) -> None:
    """Write what is measured so far (a long run interrupted keeps its finished parts)."""
    if not args.no_write:
        (ROOT / "benchmarks/results/neural_avatar_real.json").write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    raise SystemExit(main())
