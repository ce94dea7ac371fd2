"""Talking-head figures: test-set quality per stage and frames per second.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_portrait.py [--data DIR] [--weights FILE] [--grids DIR]

Quality, on the held-out identities of the generated test split (default
~/.cache/avatarforge/portrait_data; every test sample: rest image, pose, posed image), of:

* identity: the input unchanged;
* morpher only: eyes and mouth changed, no rotation;
* rotator colour path / appearance-flow path alone (on the morpher's output);
* full network (combiner output).

Each prediction and ground truth is converted to uint8 sRGB RGBA, composited over white and
compared as RGB in [0, 1]: RMSE over all pixels and channels, and SSIM (scikit-image, 7x7
Gaussian-free window, channel-averaged), averaged over samples.

Speed: ``Poser.pose_image`` on a 256x256 RGBA image (uint8 in, uint8 out, resizing included),
for the bundled reduced networks and for the full published size (random weights: speed does
not depend on them), with 1 and 2 torch threads. The CPU is shared (2 cores, other jobs
running), so timings are noisy; the median of the runs is reported.

Writes benchmarks/results/portrait.json and, with --grids, pose grids (PNG).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from avatarforge.portrait.image import composite, to_rgba, to_tensor
from avatarforge.portrait.networks import FULL
from avatarforge.portrait.pose import TalkingPose
from avatarforge.portrait.poser import Poser
from avatarforge.portrait.synth.dataset import default_data_dir, load_split
from avatarforge.portrait.weights import build_nets

ROOT = Path(__file__).resolve().parent


def _rgb01(t: torch.Tensor) -> np.ndarray:
    return np.stack([composite(x) for x in to_rgba(t)]).astype(np.float64) / 255


def quality(poser: Poser, data_dir: Path, batch: int = 16) -> dict:
    from skimage.metrics import structural_similarity

    test = load_split(data_dir, "test")
    size = poser.config.image_size
    names = ("identity", "morpher_only", "rotator_color_change", "rotator_appearance_flow", "full")
    se = {n: [] for n in names}
    ss = {n: [] for n in names}
    for a in range(0, len(test), batch):
        idx = np.arange(a, min(a + batch, len(test)))
        rest = to_tensor(test.rest[test.ident[idx]])
        gt = _rgb01(to_tensor(test.posed[idx]))
        if rest.shape[-1] != size:
            raise SystemExit(f"test data is {rest.shape[-1]} px, the networks work at {size} px")
        out = poser.forward(rest, torch.from_numpy(test.pose[idx]))
        preds = {"identity": rest, "morpher_only": out.morphed.image, "rotator_color_change": out.rotated.color_changed,
                 "rotator_appearance_flow": out.rotated.resampled, "full": out.image}
        for n, t in preds.items():
            p = _rgb01(t)
            se[n] += list(((p - gt) ** 2).reshape(len(idx), -1).mean(1))
            ss[n] += [structural_similarity(x, y, channel_axis=-1, data_range=1.0) for x, y in zip(p, gt)]
    return {n: {"rmse": float(np.sqrt(np.mean(se[n]))), "ssim": float(np.mean(ss[n]))} for n in names} | {
        "n_samples": len(test), "n_identities": int(len(test.identity_ids)), "size": size}


def fps(poser: Poser, threads: int, runs: int) -> float:
    rgba = np.zeros((256, 256, 4), np.uint8)
    rgba[64:192, 64:192] = 200
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        poser.pose_image(rgba, TalkingPose(mouth=0.5))
        times = []
        for i in range(runs):
            t = time.perf_counter()
            poser.pose_image(rgba, TalkingPose(head_y=-1 + 2 * i / max(runs - 1, 1), mouth=0.5))
            times.append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(before)
    return 1.0 / statistics.median(times)


def grids(poser: Poser, data_dir: Path, out: Path, n_ids: int = 4) -> list[str]:
    """Held-out identities: per identity a row of ground truth and a row of predictions."""
    from PIL import Image

    test = load_split(data_dir, "test")
    poses = [TalkingPose(), TalkingPose(left_eye=1, right_eye=1), TalkingPose(mouth=1),
             TalkingPose(head_y=1, mouth=0.5), TalkingPose(head_y=-1), TalkingPose(head_x=1),
             TalkingPose(head_x=-1, left_eye=1), TalkingPose(neck_z=1, mouth=0.3)]
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for k in range(min(n_ids, len(test.rest))):
        x = to_tensor(test.rest[k])
        pred = [composite(x) for x in to_rgba(torch.cat([poser.forward(x, p.tensor()).image for p in poses]))]
        rows.append(np.concatenate([composite(test.rest[k])] + pred, 1))
    path = out / "heldout_grid.png"
    Image.fromarray(np.concatenate(rows, 0)).save(path)
    # Pairs with ground truth (first poses of each test identity): input | truth | prediction.
    trip = []
    for k in range(min(n_ids * 2, len(test))):
        i = k * (len(test) // (n_ids * 2))
        x = to_tensor(test.rest[test.ident[i]])
        p = composite(to_rgba(poser.forward(x, torch.from_numpy(test.pose[i:i + 1])).image)[0])
        trip.append(np.concatenate([composite(test.rest[test.ident[i]]), composite(test.posed[i]), p], 1))
    path2 = out / "heldout_truth_vs_prediction.png"
    Image.fromarray(np.concatenate(trip, 0)).save(path2)
    written = [str(path), str(path2)]
    # Real photos: matted and framed like the training data, posed at 256 px.
    photos = {"astronaut": ROOT.parent / "examples" / "astronaut.jpg"}
    try:
        import matplotlib.cbook

        with matplotlib.cbook.get_sample_data("grace_hopper.jpg") as f:
            photos["grace_hopper"] = Path(f.name)
    except Exception:  # noqa: BLE001 - matplotlib's sample data is optional
        pass
    from avatarforge.portrait.input import load_portrait

    for name, photo in photos.items():
        if not photo.exists():
            continue
        rgba = load_portrait(photo, 256).rgba
        row = [composite(rgba)] + [composite(poser.pose_image(rgba, p)) for p in poses]
        path3 = out / f"photo_{name}.png"
        Image.fromarray(np.concatenate(row, 1)).save(path3)
        written.append(str(path3))
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=default_data_dir())
    ap.add_argument("--weights", type=Path, default=None, help="checkpoint (default: the bundled reduced one)")
    ap.add_argument("--runs", type=int, default=20, help="timed runs of the reduced variant (full: 3)")
    ap.add_argument("--grids", type=Path, default=None, help="folder for pose-grid PNGs")
    args = ap.parse_args()
    torch.set_num_threads(1)
    poser = Poser.load(args.weights)
    res = {"weights": str(args.weights or "bundled portrait_reduced.pt"), "config": poser.config.to_dict(),
           "meta": poser.meta, "quality": quality(poser, args.data)}
    full = Poser(*build_nets(FULL))
    res["fps_256"] = {
        "reduced_1_thread": fps(poser, 1, args.runs), "reduced_2_threads": fps(poser, 2, args.runs),
        "full_1_thread": fps(full, 1, 3), "full_2_threads": fps(full, 2, 3),
        "note": "2-core CPU shared with other jobs: noisy; median of runs",
    }
    if args.grids:
        res["grids"] = grids(poser, args.data, args.grids)
    print(f"{'':26s} {'RMSE':>8s} {'SSIM':>8s}")
    for n, v in res["quality"].items():
        if isinstance(v, dict):
            print(f"{n:26s} {v['rmse']:8.4f} {v['ssim']:8.4f}")
    print(" ".join(f"{k}={v:.1f}" for k, v in res["fps_256"].items() if isinstance(v, float)), "FPS at 256x256")
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "portrait.json").write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
