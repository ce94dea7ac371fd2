import json

import numpy as np
import pytest
import torch

from avatarforge.errors import UserInputError
from avatarforge.neural.train import (
    CHECKPOINT, LOG, TrainConfig, bone_batch, evaluate, init_texture, load_avatar, train,
)
from avatarforge.neural.model import TexturedAvatar

TINY = dict(batch_size=4, base_channels=4, texture_size=16, log_every=1, checkpoint_every=100)


def test_texture_model_losses_decrease(tiny_data, tmp_path):
    torch.set_num_threads(1)
    cfg = TrainConfig(kind="texture", pretrain_iterations=12, iterations=12, lr=3e-3, texture_lr=2e-2, **TINY)
    res = train(tiny_data, tmp_path / "m", cfg, resume=False)
    logs = [json.loads(line) for line in (tmp_path / "m" / LOG).read_text().splitlines()]
    pre = [entry for entry in logs if entry["phase"] == "pretrain"]
    main = [entry for entry in logs if entry["phase"] == "train"]
    assert len(pre) == 12 and len(main) == 12 and res.steps == 24
    assert np.mean([e["ce"] for e in pre[-3:]]) < np.mean([e["ce"] for e in pre[:3]])
    assert np.mean([e["loss"] for e in main[-3:]]) < np.mean([e["loss"] for e in main[:3]])
    avatar = load_avatar(tmp_path / "m")
    metrics = evaluate(avatar.model, tiny_data, "unseen_views", avatar.thickness)
    assert set(metrics) == {"ssim", "psnr", "l1"} and 0 < metrics["ssim"] <= 1


def test_direct_model_loss_decreases(tiny_data, tmp_path):
    cfg = TrainConfig(kind="direct", iterations=15, lr=3e-3, **TINY)
    train(tiny_data, tmp_path / "d", cfg, resume=False)
    logs = [json.loads(line) for line in (tmp_path / "d" / LOG).read_text().splitlines()]
    assert all(e["phase"] == "train" for e in logs)
    assert np.mean([e["loss"] for e in logs[-3:]]) < np.mean([e["loss"] for e in logs[:3]])


@pytest.mark.parametrize("split_at", [3, 4, 6])  # inside pre-training, at the boundary, inside training
def test_resume_round_trip_equals_one_run(tiny_data, tmp_path, split_at):
    cfg = TrainConfig(kind="texture", pretrain_iterations=4, iterations=4, **{**TINY, "checkpoint_every": split_at})
    train(tiny_data, tmp_path / "one", cfg, resume=False)
    _train_until(tiny_data, tmp_path / "two", cfg, split_at)
    state = torch.load(tmp_path / "two" / CHECKPOINT, weights_only=True)
    assert state["step"] == split_at
    train(tiny_data, tmp_path / "two", cfg, resume=True)
    a = torch.load(tmp_path / "one" / CHECKPOINT, weights_only=True)
    b = torch.load(tmp_path / "two" / CHECKPOINT, weights_only=True)
    assert a["step"] == b["step"] == 8
    # The second call continued from the checkpoint (a restart from scratch would log steps
    # 1.. again -- and, being deterministic, end with the same weights).
    steps = [json.loads(x)["step"] for x in (tmp_path / "two" / LOG).read_text().splitlines()]
    assert steps == list(range(1, 9))
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=1e-5, atol=1e-6)


def _train_until(data, out, cfg, steps):
    """Run ``cfg`` and interrupt it right after the checkpoint of step ``steps`` (as a kill would)."""
    import importlib

    train_mod = importlib.import_module("avatarforge.neural.train")  # the module (the package exports the function)

    orig = train_mod.save_checkpoint

    def save_then_stop(out_dir, model, opt, step, *a, **k):
        orig(out_dir, model, opt, step, *a, **k)
        if step == steps:
            raise _Stop

    train_mod.save_checkpoint = save_then_stop
    try:
        with pytest.raises(_Stop):
            train_mod.train(data, out, cfg, resume=False)
    finally:
        train_mod.save_checkpoint = orig


class _Stop(Exception):
    pass


def test_texture_init_from_true_maps_reproduces_the_frames(tiny_data):
    """With the generator replaced by the ground-truth part/UV maps, the averaged unprojected
    texture renders the training frames back closely (the initialisation's purpose)."""
    d = tiny_data
    cfg = TrainConfig(kind="texture", texture_size=16, base_channels=4, **{"n_parts": 15})
    model = cfg.model_config()
    model = TexturedAvatar(model)
    lookup = {}

    def true_maps(bones):  # the frames in `lookup["idx"]`, in order (one batch)
        idx = lookup["idx"]
        parts = torch.from_numpy(d.parts[idx].astype(np.int64))
        logits = torch.nn.functional.one_hot(parts, 16).permute(0, 3, 1, 2).float() * 30
        uv = torch.from_numpy(d.part_uv[idx].astype(np.float32)).permute(0, 3, 1, 2)  # (B, 2, H, W)
        return logits, uv[:, None].expand(-1, 15, -1, -1, -1)

    model.maps = true_maps
    train_idx = d.indices("train")
    lookup["idx"] = train_idx
    with torch.no_grad():
        out0 = model(bone_batch(d, train_idx), torch.as_tensor(d.background))
        target = torch.from_numpy(d.images[train_idx]).permute(0, 3, 1, 2).float() / 255
        before = (out0.rgb - target).abs().mean()
        init_texture(model, d, train_idx, batch=len(train_idx))
        after = (model(bone_batch(d, train_idx), torch.as_tensor(d.background)).rgb - target).abs().mean()
    assert after < 0.6 * before and after < 0.05


def test_bad_inputs(tiny_data, tmp_path):
    from dataclasses import replace

    no_parts = replace(tiny_data, parts=None, part_uv=None)
    with pytest.raises(UserInputError, match="part/UV maps"):
        train(no_parts, tmp_path / "x", TrainConfig(kind="texture", **TINY))
    with pytest.raises(UserInputError, match="not a neural avatar folder"):
        load_avatar(tmp_path)
    (tmp_path / "m").mkdir()
    train(tiny_data, tmp_path / "m", TrainConfig(kind="direct", iterations=1, **TINY))
    with pytest.raises(UserInputError, match="holds a different model"):
        train(tiny_data, tmp_path / "m", TrainConfig(kind="texture", **TINY))
    (tmp_path / "m" / CHECKPOINT).write_bytes(b"garbage")
    with pytest.raises(UserInputError, match="unreadable checkpoint"):
        load_avatar(tmp_path / "m")


def test_step_budget_follows_the_frame_side():
    from avatarforge.neural.train import TrainConfig, default_steps

    assert default_steps(64) == default_steps(128) == (TrainConfig().iterations, TrainConfig().pretrain_iterations)
    assert default_steps(256) == (600, 250)
    main, pre = zip(*(default_steps(s) for s in (128, 160, 192, 224, 256, 320, 512)))
    assert all(a >= b for a, b in zip(main, main[1:])) and all(a >= b for a, b in zip(pre, pre[1:]))
    # Above 256 px the budget keeps ~constant CPU: steps x pixels stays that of 256 px.
    assert default_steps(512)[0] * 512**2 == 600 * 256**2
    cfg = TrainConfig.for_size(256, kind="direct", iterations=7)
    assert (cfg.kind, cfg.iterations, cfg.pretrain_iterations) == ("direct", 7, 250)
