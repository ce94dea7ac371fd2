"""IMavatar vs B-Morph, C-Net and the explicit textured head on synthetic face videos.

    # one data set (64 px, 96 train / 16 held-out / 16 extreme frames), then each method (parallel
    # processes; the same step budget; a copy of the checkpoint kept every --keep-every steps)
    python benchmarks/bench_imavatar.py data --out /work/out-imavatar/run6
    python benchmarks/bench_imavatar.py method imavatar --out /work/out-imavatar/run6 --steps 3000
    python benchmarks/bench_imavatar.py method bmorph   --out /work/out-imavatar/run6 --steps 3000
    python benchmarks/bench_imavatar.py method cnet     --out /work/out-imavatar/run6 --steps 3000
    # (re-)evaluate every method at one common kept step (if the slowest run was stopped early)
    python benchmarks/bench_imavatar.py eval cnet --at 1000 --out /work/out-imavatar/run6
    python benchmarks/bench_imavatar.py fps imavatar --at 1000 --out /work/out-imavatar/run6  # measured, 128 + 256 px
    python benchmarks/bench_imavatar.py collect --at 1000 --out /work/out-imavatar/run6

Writes benchmarks/results/imavatar.json ({"imavatar": {"heldout": .., "extreme": ..}, "bmorph": ..,
"cnet": .., "explicit": .., "train_seconds": .., "render_fps": .., "other_steps": ..}) and
grid_heldout.png / grid_extreme.png in --out. Every held-out and extreme frame is evaluated.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).parent / "results" / "imavatar.json"
METHODS = ("imavatar", "bmorph", "cnet")


def _eval_frames(data, split: str, n: int) -> np.ndarray:
    idx = data.indices(split)
    return idx[np.linspace(0, len(idx) - 1, min(n, len(idx))).round().astype(int)]


def _summary(preds: dict[int, np.ndarray], data, idx, masks: dict[int, np.ndarray]) -> dict:
    from avatarforge.imavatar.metrics import image_metrics, tracked_landmark_error

    rows = [image_metrics(preds[int(i)], data.rgb[i]) for i in idx]
    found = [tracked_landmark_error(preds[int(i)], data.rgb[i]) for i in idx]
    lm = [v for v, _ in found]
    ok = [v for v in lm if v is not None]
    det = [v for v, how in found if how == "detected"]
    out = {k: float(np.mean([r[k] for r in rows])) for k in ("l1", "psnr", "ssim")}
    gt = [data.mask[i] > 0 for i in idx]
    out["mask_iou"] = float(np.mean([(masks[int(i)] & g).sum() / max((masks[int(i)] | g).sum(), 1) for i, g in zip(idx, gt)]))
    face = [image_metrics(np.where(g[..., None], preds[int(i)], 0).astype(np.uint8), data.rgb[i]) for i, g in zip(idx, gt)]
    out["psnr_face_only"] = float(np.mean([r["psnr"] for r in face]))
    out["expression_error_px"] = float(np.mean(ok)) if ok else None
    out["expression_error_median_px"] = float(np.median(ok)) if ok else None
    out["expression_tracked"] = f"{len(ok)}/{len(lm)}"
    out["expression_found_by"] = {k: sum(h == k for _, h in found) for k in ("detected", "tracked", "lost", "no_gt")}
    out["expression_error_detected_only_px"] = float(np.mean(det)) if det else None
    out["frames"] = len(idx)
    return out


def cmd_data(a) -> None:
    from avatarforge.bodies import load_body
    from avatarforge.imavatar.data import SynthConfig, make_synthetic, save_data

    (a.out / "data").mkdir(parents=True, exist_ok=True)
    data = make_synthetic(load_body(), SynthConfig(size=a.size, frames=a.frames, extreme=a.extreme,
                                                   heldout_every=a.heldout_every))
    save_data(data, a.out / "data")
    print("data", {s: int((data.split == s).sum()) for s in ("train", "heldout", "extreme")})


def _checkpoint(a, method: str) -> Path:
    """The checkpoint to evaluate: the one kept at step ``--at`` (every method at the same step), else the last."""
    folder = a.out / method
    return folder / f"checkpoint_{a.at}.pt" if a.at else folder / "checkpoint.pt"


def cmd_method(a) -> None:
    """Train to ``--steps`` (resumable), keeping a copy of the checkpoint every ``--keep-every`` steps so
    that all methods can be compared at one common step even if a slow run is stopped early."""
    import shutil

    from avatarforge.imavatar.data import load_data
    from avatarforge.imavatar.train import CHECKPOINT, TrainConfig, train

    torch.set_num_threads(1)
    data = load_data(a.out / "data")
    folder = a.out / a.method
    for target in range(a.keep_every, a.steps + a.keep_every, a.keep_every):
        target = min(target, a.steps)
        cfg = TrainConfig(kind=a.method, steps=target, rays=a.rays, max_cpu_seconds=a.cpu, log_every=25,
                          checkpoint_every=100)
        train(data, folder, cfg, progress=lambda r: print(a.method, r, flush=True))
        state = torch.load(folder / CHECKPOINT, map_location="cpu", weights_only=True)
        if int(state["step"]) < target:  # stopped by --cpu
            break
        shutil.copy(folder / CHECKPOINT, folder / f"checkpoint_{target}.pt")
    cmd_eval(a)


def cmd_eval(a) -> None:
    """Evaluate a method's checkpoint (``--at STEP`` or the last) on every held-out and extreme frame."""
    from avatarforge.imavatar.data import load_data
    from avatarforge.imavatar.raymarch import render_image
    from avatarforge.imavatar.train import load_model

    torch.set_num_threads(1)
    data = load_data(a.out / "data")
    model = load_model(a.out / a.method)
    state = torch.load(_checkpoint(a, a.method), map_location="cpu", weights_only=True)
    model.field.load_state_dict(state["model"])
    log = [json.loads(line) for line in (a.out / a.method / "log.jsonl").read_text().splitlines()]
    log = [r for r in log if r["step"] <= int(state["step"])]
    res = {"train_cpu_seconds": float(state["cpu"]), "train_wall_seconds": float(state["elapsed"]),
           "steps": int(state["step"]), "rays_per_step": model.config.rays, "last_log": log[-1] if log else None}
    for split in ("heldout", "extreme"):
        idx = _eval_frames(data, split, a.n_eval)
        preds, masks, c0 = {}, {}, time.process_time()
        pred_dir = a.out / a.method / f"pred_{res['steps']}"
        pred_dir.mkdir(exist_ok=True)
        for i in idx:
            frame = model.frame(data.expression[i], data.head[i], data.neck[i], data.eyes[i])
            torch.set_num_threads(1)  # MediaPipe / numba kernels in between reset it (see train.train)
            preds[int(i)], masks[int(i)] = render_image(model.field, data.camera, frame)
            np.save(pred_dir / f"{i}.npy", preds[int(i)])
            np.save(pred_dir / f"{i}_mask.npy", masks[int(i)])
        res[f"render_cpu_seconds_per_frame_{data.rgb.shape[1]}px"] = (time.process_time() - c0) / len(idx)
        res[split] = _summary(preds, data, idx, masks)
        print(a.method, split, res[split], flush=True)
    (a.out / f"{a.method}_{res['steps']}.json").write_text(json.dumps(res, indent=1))


def _load(a, method: str):
    from avatarforge.imavatar.train import load_model

    model = load_model(a.out / method)
    state = torch.load(_checkpoint(a, method), map_location="cpu", weights_only=True)
    model.field.load_state_dict(state["model"])
    return model, int(state["step"])


def cmd_fps(a) -> None:
    """Render speed (measured, one thread) of a trained method at ``--sizes`` px on ``--fps-frames`` held-out frames."""
    from avatarforge.imavatar.data import load_data
    from avatarforge.imavatar.raymarch import render_image
    from avatarforge.render import Camera

    torch.set_num_threads(1)
    data = load_data(a.out / "data")
    method = a.method or "imavatar"
    model, step = _load(a, method)
    cam = data.camera
    path = a.out / f"fps_{method}.json"
    fps = json.loads(path.read_text()) if path.is_file() else {}
    fps["step"] = step
    for size in a.sizes:
        s = size / cam.width
        big = Camera(cam.R, cam.t, size, size, cam.fx * s, cam.fy * s, cam.cx * s, cam.cy * s)
        idx = data.indices("heldout")[: a.fps_frames]
        torch.set_num_threads(1)
        c0, t0 = time.process_time(), time.perf_counter()
        for i in idx:
            img, _ = render_image(model.field, big, model.frame(data.expression[i], data.head[i], data.neck[i], data.eyes[i]))
            np.save(a.out / method / f"render_{size}_{i}.npy", img)
        fps[f"{size}px"] = {"fps_cpu": len(idx) / (time.process_time() - c0),
                            "fps_wall_under_load": len(idx) / (time.perf_counter() - t0), "frames": len(idx)}
        print(method, size, fps[f"{size}px"], flush=True)
        path.write_text(json.dumps(fps, indent=1))


def _common_step(a) -> int:
    """--at, or the largest step every method was evaluated at."""
    if a.at:
        return a.at
    done = [{int(p.stem.rsplit("_", 1)[1]) for p in a.out.glob(f"{m}_*.json") if p.stem.rsplit("_", 1)[1].isdigit()}
            for m in METHODS]
    common = set.intersection(*done) if all(done) else set()
    if not common:
        raise SystemExit("no step at which every method was evaluated: run `eval METHOD --at STEP` first")
    return max(common)


def _label(img: np.ndarray, texts: list[str], scale: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    big = Image.fromarray(img).resize((img.shape[1] * scale, img.shape[0] * scale), Image.NEAREST)
    out = Image.new("RGB", (big.width, big.height + 14), (255, 255, 255))
    out.paste(big, (0, 14))
    draw, w = ImageDraw.Draw(out), big.width // len(texts)
    for k, t in enumerate(texts):
        draw.text((k * w + 3, 1), t, fill=(0, 0, 0))
    return np.asarray(out)


def cmd_collect(a) -> None:
    from PIL import Image

    from avatarforge.imavatar.data import load_data, render_rig
    from avatarforge.imavatar.metrics import colours_from_frames
    from avatarforge.imavatar.rig import load_rig

    data = load_data(a.out / "data")
    step = _common_step(a)
    rig = load_rig(a.out / "imavatar" / "rig.npz")
    tr = data.indices("train")
    T = np.stack([rig.transforms(data.head[i], data.neck[i], data.eyes[i]) for i in range(len(data))])
    c0 = time.process_time()
    sub = tr[::4]  # every 4th training frame (time)
    colours = colours_from_frames(rig, data.camera, data.rgb[sub], data.expression[sub], T[sub])
    explicit = {"texture_cpu_seconds": time.process_time() - c0}
    preds, masks = {}, {}
    for split in ("heldout", "extreme"):
        idx = _eval_frames(data, split, a.n_eval)
        for i in idx:
            preds[int(i)], m = render_rig(rig, data.camera, data.expression[i], T[i], colours)
            masks[int(i)] = m > 0
        explicit[split] = _summary(preds, data, idx, masks)
    res = {m: json.loads((a.out / f"{m}_{step}.json").read_text()) for m in METHODS}
    doc = {m: {k: res[m][k] for k in ("heldout", "extreme")} for m in res}
    doc["explicit"] = explicit
    doc["train_seconds"] = {m: {"cpu": res[m]["train_cpu_seconds"], "wall_under_load": res[m]["train_wall_seconds"],
                                "steps": res[m]["steps"], "rays_per_step": res[m]["rays_per_step"]} for m in res}
    size = int(data.rgb.shape[1])
    doc["render_fps"] = {m: {f"{size}px_cpu": 1.0 / res[m][f"render_cpu_seconds_per_frame_{size}px"]} for m in res}
    for m in METHODS:
        if (a.out / f"fps_{m}.json").is_file():
            doc["render_fps"][m].update(json.loads((a.out / f"fps_{m}.json").read_text()))
    # the other evaluated steps (learning curves; e.g. the cheap baselines trained longer for the same CPU time)
    doc["other_steps"] = {}
    for m in METHODS:
        for p in sorted(a.out.glob(f"{m}_*.json")):
            tail = p.stem.rsplit("_", 1)[1]
            if tail.isdigit() and int(tail) != step:
                r = json.loads(p.read_text())
                doc["other_steps"].setdefault(m, {})[tail] = {
                    "train_cpu_seconds": r["train_cpu_seconds"],
                    **{sp: {k: r[sp][k] for k in ("l1", "psnr", "ssim", "expression_error_px", "expression_tracked")}
                       for sp in ("heldout", "extreme")}}
    for spec in a.extra:  # NAME=EVAL_JSON[,DIAG_JSON]: another run's results (e.g. an ablation)
        name, paths = spec.split("=", 1)
        ev, *dg = paths.split(",")
        r = json.loads(Path(ev).read_text())
        doc.setdefault("other_runs", {})[name] = {
            "steps": r["steps"], "train_cpu_seconds": r["train_cpu_seconds"],
            **{sp: r[sp] for sp in ("heldout", "extreme")},
            **({"deformation_vs_truth": json.loads(Path(dg[0]).read_text())} if dg else {})}
    if (a.out / f"diag_{step}.json").is_file():
        doc["deformation_vs_truth"] = json.loads((a.out / f"diag_{step}.json").read_text())
    doc["setup"] = {"size": size, "train_frames": int(len(tr)), "heldout_frames": int(len(data.indices("heldout"))),
                    "extreme_frames": int(len(data.indices("extreme"))), "steps": step,
                    "command": a.command,
                    "note": "2 CPU cores shared by 7 helpers (load 15-25): wall times are under heavy load, CPU times "
                            "are one thread; every method trained for the same number of steps and rays per step; "
                            "expression error = mean 478-landmark distance (px at the data size) between MediaPipe on "
                            "the render and on the ground truth, both upscaled 4x; frames where either has no "
                            "detected face are left out (counted in expression_tracked)"}
    a.results.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(doc, indent=1))
    # contact sheet: rows = held-out then extreme frames, columns = GT / IMavatar / B-Morph / C-Net / explicit
    names = ["GT", "IMavatar", "B-Morph", "C-Net", "explicit"]
    for split in ("heldout", "extreme"):
        rows = []
        for i in _eval_frames(data, split, a.grid_rows):
            tiles = [data.rgb[i]]
            for m in METHODS:
                p = a.out / m / f"pred_{step}" / f"{i}.npy"
                tiles.append(np.load(p) if p.is_file() else np.zeros_like(data.rgb[i]))
            tiles.append(preds[int(i)])
            rows.append(np.concatenate(tiles, 1))
        sheet = _label(np.concatenate(rows, 0), names, 3)
        Image.fromarray(sheet).save(a.out / f"grid_{split}.png")
        print("wrote", a.out / f"grid_{split}.png")


def cmd_diag(a) -> None:
    """The learned deformation against the true one: the rig's canonical vertices moved by the
    model's deformation field and by the morphable model that generated the data (mm), on the
    held-out and extreme frames (IMavatar and B-Morph; C-Net has no deformation field)."""
    from avatarforge.imavatar.data import load_data
    from avatarforge.imavatar.rig import deform_vertices

    torch.set_num_threads(1)
    data = load_data(a.out / "data")
    out = {}
    for method in ("imavatar", "bmorph"):
        model, step = _load(a, method)
        rig = model.rig
        v = torch.as_tensor(rig.vertices)
        blend, w = torch.as_tensor(rig.blendshapes).permute(1, 0, 2), torch.as_tensor(rig.weights)
        res = {"step": step}
        for split in ("heldout", "extreme"):
            err, motion = [], []
            for i in _eval_frames(data, split, a.n_eval):
                T = torch.as_tensor(rig.transforms(data.head[i], data.neck[i], data.eyes[i]))
                e = torch.as_tensor(data.expression[i])
                ref = deform_vertices(v, blend, w, e, T).numpy()
                rigid = deform_vertices(v, torch.zeros_like(blend), w, e, T).numpy()
                with torch.no_grad():
                    got = model.field.deform(v.float(), model.frame(data.expression[i], data.head[i], data.neck[i],
                                                                    data.eyes[i])).double().numpy()
                moving = np.linalg.norm(ref - rigid, axis=1) > 1e-3
                err.append(np.linalg.norm(got - ref, axis=1)[moving].mean() * 1000)
                motion.append(np.linalg.norm(ref - rigid, axis=1)[moving].mean() * 1000)
            res[split] = {"vertex_error_mm": float(np.mean(err)), "expression_motion_mm": float(np.mean(motion))}
        with torch.no_grad():
            res["residual_rms"] = float(model.field.deformer.residual(v.float()).square().mean().sqrt())
        out[method] = res
        print(method, res, flush=True)
    (a.out / f"diag_{out['imavatar']['step']}.json").write_text(json.dumps(out, indent=1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=("data", "method", "eval", "fps", "diag", "collect"))
    p.add_argument("method", nargs="?", choices=METHODS)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--steps", type=int, default=2000, help="training steps (the same for every method)")
    p.add_argument("--rays", type=int, default=256, help="rays per training step")
    p.add_argument("--keep-every", type=int, default=500, help="keep a copy of the checkpoint every N steps")
    p.add_argument("--at", type=int, default=0, help="eval/fps: the checkpoint kept at this step (0 = the last)")
    p.add_argument("--cpu", type=float, default=0.0, help="stop a run after this many CPU seconds (0 = no limit)")
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--frames", type=int, default=112)
    p.add_argument("--heldout-every", type=int, default=7)
    p.add_argument("--extreme", type=int, default=16)
    p.add_argument("--n-eval", type=int, default=10000, help="evaluation frames per split (default: all)")
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    p.add_argument("--extra", nargs="*", default=[], help="collect: NAME=EVAL_JSON[,DIAG_JSON] of other runs")
    p.add_argument("--results", type=Path, default=RESULTS, help="collect: where to write the JSON")
    p.add_argument("--fps-frames", type=int, default=2, help="fps: frames rendered per size")
    p.add_argument("--grid-rows", type=int, default=6, help="collect: frames per split in the contact sheets")
    a = p.parse_args()
    a.command = "python benchmarks/bench_imavatar.py " + " ".join(sys.argv[1:])
    {"data": cmd_data, "method": cmd_method, "eval": cmd_eval, "fps": cmd_fps, "diag": cmd_diag, "collect": cmd_collect}[a.step](a)


if __name__ == "__main__":
    main()
