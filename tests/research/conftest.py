"""Session fixtures: a synthetic research-asset tree in the official layout (built once)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from research_synthetic import (
    write_flame_pickle, write_landmark_embedding, write_smplx_npz,
)


@pytest.fixture(scope="session")
def deca_released(tmp_path_factory):
    """Full-size DECA networks with random weights and the checkpoint written from them."""
    from avatarforge.research.deca.model import build_deca_nets

    torch.manual_seed(0)
    nets = build_deca_nets()
    for net in (nets.E_flame, nets.E_detail, nets.D_detail):  # non-trivial BN statistics
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        net.eval()
    path = tmp_path_factory.mktemp("deca") / "deca_model.tar"
    torch.save({k: getattr(nets, k).state_dict() for k in ("E_flame", "E_detail", "D_detail")}, path)
    return nets, path


def write_obj(path, v, f, vt, ft):
    lines = [f"v {a:.6f} {b:.6f} {c:.6f}" for a, b, c in v] + [f"vt {a:.6f} {b:.6f}" for a, b in vt]
    lines += [f"f {a + 1}/{x + 1} {b + 1}/{y + 1} {c + 1}/{z + 1}" for (a, b, c), (x, y, z) in zip(f, ft)]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="session")
def asset_tree(tmp_path_factory, deca_released):
    """ASSETS/{smplx,flame,deca}/... with every file; SMPL-X's head region is the FLAME template
    moved up 1.5 m (so the graft has something consistent to align)."""
    root = tmp_path_factory.mktemp("assets")
    rng = np.random.default_rng(11)
    flame = write_flame_pickle(root / "flame" / "generic_model.pkl", rng, nv=60)
    nv = 10475
    ids = rng.choice(nv, 60, replace=False).astype(np.int64)
    sm = write_smplx_npz(root / "smplx" / "SMPLX_NEUTRAL.npz", rng)
    sm["v_template"][ids] = flame["v_template"] + np.array([0.0, 1.5, 0.0])
    np.savez(root / "smplx" / "SMPLX_NEUTRAL.npz", **sm)
    np.save(root / "smplx" / "SMPL-X__FLAME_vertex_ids.npy", ids)
    side = 16
    np.savez(root / "flame" / "FLAME_texture.npz", mean=rng.random((side, side, 3)) * 255,
             tex_dir=rng.normal(size=(side, side, 3, 200)))
    write_landmark_embedding(root / "flame" / "landmark_embedding.npy", rng, len(flame["f"]))
    vt = rng.random((80, 2))
    ft = rng.integers(0, 80, flame["f"].shape)
    write_obj(root / "flame" / "head_template.obj", flame["v_template"], flame["f"], vt, ft)
    (root / "deca").mkdir()
    (root / "deca" / "deca_model.tar").symlink_to(deca_released[1])
    return root
