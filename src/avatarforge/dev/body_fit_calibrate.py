"""Calibrate :data:`avatarforge.fitting.body_fit_landmarks.LANDMARK_ANCHORS` against the pose detector.

    python -m avatarforge.dev.body_fit_calibrate [--samples 80] [--seed 500]

Renders the body model in random poses, shapes and views (yaw up to 70 degrees, so that the
depth component of each offset is seen), runs :func:`avatarforge.perception.pose.detect_pose`
and, for each landmark, solves for the offset (in its frame joint's axes) minimising the
robust reprojection error over all samples with the known cameras. Prints the table to
paste into :mod:`avatarforge.fitting.body_fit_landmarks` and the per-landmark residuals before and after.
Takes about a minute on a 2-core CPU.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from avatarforge.fitting.body_fit_landmarks import LANDMARK_ANCHORS


def collect(body, samples: int, seed: int, yaw_deg: float = 70.0):
    """Per detected sample: world anchor positions (33, 3), frame rotations (33, 3, 3), the
    camera, the detected points (33, 2) and visibilities (33,)."""
    from avatarforge.dev.body_synthetic import random_body_sample, render_body_sample
    from avatarforge.perception.pose import detect_pose

    rng = np.random.default_rng(seed)
    names = body.joint_names
    a_idx = [names.index(x.anchor) for x in LANDMARK_ANCHORS]
    f_idx = [names.index(x.frame) for x in LANDMARK_ANCHORS]
    out = []
    for _ in range(samples):
        values = random_body_sample(body, rng, yaw_deg=yaw_deg)
        s = render_body_sample(body, values, rng)
        pose = detect_pose(s.rgb)
        if pose is None:
            continue
        res = body.forward_params(values)
        jw, rw = res.joints_world[0].double(), res.rest_joints_world[0].double()
        g = jw[:, :3, :3] @ rw[:, :3, :3].transpose(-1, -2)  # posed world rotation of each joint
        out.append((jw[a_idx, :3, 3].numpy(), g[f_idx].numpy(), s.camera, pose.points.copy(),
                    pose.visibility.copy()))
    return out


def solve(data, iters: int = 300, delta_px: float = 4.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Offsets (33, 3) and RMS residuals (px) before / after, robust (pseudo-Huber) LSQ."""
    anchors = torch.as_tensor(np.stack([d[0] for d in data]))  # (N, 33, 3)
    frames = torch.as_tensor(np.stack([d[1] for d in data]))  # (N, 33, 3, 3)
    det = torch.as_tensor(np.stack([d[3] for d in data]))
    vis = torch.as_tensor(np.stack([d[4] for d in data]))
    R = torch.as_tensor(np.stack([d[2].R for d in data]))
    t = torch.as_tensor(np.stack([d[2].t for d in data]))
    f = torch.as_tensor([d[2].fx for d in data], dtype=torch.float64)
    c = torch.as_tensor([[d[2].cx, d[2].cy] for d in data])
    offset = torch.as_tensor(np.array([x.offset for x in LANDMARK_ANCHORS]), dtype=torch.float64)
    offset.requires_grad_(True)

    def residual(o):
        # n: sample, k: landmark, r/c: matrix row/column
        p = anchors + torch.einsum("nkrc,kc->nkr", frames, o)
        cam = torch.einsum("nrc,nkc->nkr", R, p) + t[:, None]
        uv = f[:, None, None] * cam[..., :2] / cam[..., 2:] + c[:, None]
        return (uv - det).norm(dim=-1)

    w = (vis > 0.5).double()
    before = (residual(offset.detach()) ** 2 * w).sum(0) / w.sum(0).clamp_min(1)
    opt = torch.optim.Adam([offset], lr=0.002)
    for _ in range(iters):
        opt.zero_grad()
        r = residual(offset)
        loss = ((torch.sqrt(r * r + delta_px ** 2) - delta_px) * w).sum()
        loss.backward()
        opt.step()
    sym = torch.as_tensor(symmetrise(offset.detach().numpy()))
    after = (residual(sym) ** 2 * w).sum(0) / w.sum(0).clamp_min(1)
    return sym.numpy(), before.sqrt().numpy(), after.sqrt().numpy()


def symmetrise(offsets: np.ndarray) -> np.ndarray:
    """Average each left/right pair of offsets with its partner's mirror image (x negated),
    so that the landmark definitions are as symmetric as the body model; centre landmarks
    (the nose) get x = 0."""
    from avatarforge.perception.pose import PARTNER

    mirror = np.array([-1.0, 1.0, 1.0])
    out = (offsets + offsets[PARTNER] * mirror) / 2
    out[PARTNER == np.arange(len(out)), 0] = 0.0
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=80)
    ap.add_argument("--seed", type=int, default=500)
    args = ap.parse_args()
    from avatarforge.bodies import load_body

    data = collect(load_body(), args.samples, args.seed)
    offsets, before, after = solve(data)
    print(f"# {len(data)} detected samples; RMS residual px before -> after")
    for x, o, b, a in zip(LANDMARK_ANCHORS, offsets, before, after):
        print(f'    _a("{x.name}", "{x.anchor}", "{x.frame}", ({o[0]:.3f}, {o[1]:.3f}, {o[2]:.3f})),'
              f"  # {b:.1f} -> {a:.1f} px")


if __name__ == "__main__":
    main()
