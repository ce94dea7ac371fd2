"""Generated training pairs (split by identity) and resumable training on a tiny set."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from avatarforge.errors import UserInputError
from avatarforge.portrait.networks import NetConfig
from avatarforge.portrait.pose import TalkingPose
from avatarforge.portrait.synth import DataConfig, PortraitRenderer, generate_dataset, load_split, sample_identity
from avatarforge.portrait.train import TrainConfig, export_checkpoint, train_stage
from avatarforge.portrait.weights import load_checkpoint

TINY = NetConfig(image_size=16, width=4, bottleneck_size=4, blocks=1)


@pytest.fixture(scope="module")
def renderer():
    return PortraitRenderer(size=32, supersample=2)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("pdata")
    generate_dataset(out, DataConfig(size=16, n_train=3, n_val=1, n_test=1, per_identity=2, supersample=1))
    return out


def test_render_is_deterministic_transparent_around_and_opaque_at_the_face(renderer):
    ident = sample_identity(0, renderer.body.local_names)
    a = renderer.render(ident, TalkingPose())
    b = renderer.render(sample_identity(0, renderer.body.local_names), TalkingPose())
    assert a.shape == (32, 32, 4) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert a[0, 0, 3] == 0 and a[0, -1, 3] == 0  # background corners
    assert a[16, 16, 3] == 255  # the face
    assert np.all(a[a[..., 3] == 0][:, :3] == 0)  # straight alpha, RGB 0 where transparent


def test_eyes_and_mouth_change_only_their_regions_and_rotation_moves_the_head(renderer):
    ident = sample_identity(1, renderer.body.local_names)
    rest = renderer.render(ident, TalkingPose()).astype(int)
    diff = lambda p: np.abs(renderer.render(ident, p).astype(int) - rest).sum(-1) > 30  # noqa: E731
    eyes = diff(TalkingPose(left_eye=1, right_eye=1))
    mouth = diff(TalkingPose(mouth=1))
    turn = diff(TalkingPose(head_y=1))
    rows_e, rows_m = np.nonzero(eyes)[0], np.nonzero(mouth)[0]
    assert eyes.sum() > 0 and mouth.sum() > 0
    assert rows_e.max() < rows_m.min()  # eyes above the mouth
    assert rows_e.mean() < 16 < rows_m.mean() + 4
    assert turn.sum() > eyes.sum() + mouth.sum()
    # The rotation alone leaves the expression neutral: rotation=False undoes it exactly.
    assert np.array_equal(renderer.render(ident, TalkingPose(head_y=1), rotation=False), rest.astype(np.uint8))


def test_identities_differ(renderer):
    a = renderer.render(sample_identity(2, renderer.body.local_names), TalkingPose())
    b = renderer.render(sample_identity(3, renderer.body.local_names), TalkingPose())
    assert np.abs(a.astype(int) - b.astype(int)).mean() > 5


def test_splits_are_disjoint_by_identity_and_well_formed(data_dir):
    splits = {s: load_split(data_dir, s) for s in ("train", "val", "test")}
    ids = [set(map(int, s.identity_ids)) for s in splits.values()]
    assert ids == [{0, 1, 2}, {3}, {4}]
    tr = splits["train"]
    assert tr.rest.shape == (3, 16, 16, 4) and tr.morphed.shape == tr.posed.shape == (6, 16, 16, 4)
    assert tr.pose.shape == (6, 6) and list(tr.ident) == [0, 0, 1, 1, 2, 2]
    assert np.all(tr.pose[:, :3] >= -1) and np.all(tr.pose[:, 3:] >= 0) and np.all(tr.pose <= 1)
    assert json.loads((data_dir / "meta.json").read_text())["config"]["size"] == 16
    with pytest.raises(UserInputError, match="generate the data first"):
        load_split(data_dir / "nowhere", "train")


def test_training_logs_checkpoints_resumes_and_exports(data_dir, tmp_path):
    torch.set_num_threads(1)
    work = tmp_path / "work"
    cfg = TrainConfig(steps=25, batch=2, net=TINY, ckpt_every=10, val_every=25)
    with pytest.raises(UserInputError, match="train the rotator stage first"):
        train_stage("combiner", data_dir, work, cfg)
    r = train_stage("morpher", data_dir, work, cfg)
    assert r.step == 25 and r.finished
    lines = [json.loads(x) for x in (work / "morpher.log.jsonl").read_text().splitlines()]
    assert [x["step"] for x in lines] == [25] and "val_loss" in lines[0] and np.isfinite(lines[0]["loss"])
    # Resuming continues from step 25 to 50 (one more log line), not from 0.
    r2 = train_stage("morpher", data_dir, work, TrainConfig(steps=50, batch=2, net=TINY, ckpt_every=10, val_every=0))
    assert r2.step == 50
    assert [json.loads(x)["step"] for x in (work / "morpher.log.jsonl").read_text().splitlines()] == [25, 50]
    ck = torch.load(work / "morpher.ckpt", weights_only=True)
    assert ck["step"] == 50 and "optimizer" in ck and ck["optimizer"]["state"]
    for stage in ("rotator", "combiner"):
        train_stage(stage, data_dir, work, TrainConfig(steps=5, batch=2, net=TINY, val_every=0))
    path = export_checkpoint(work, tmp_path / "p.pt", TINY, meta={"k": 1})
    nets, meta = load_checkpoint(path)
    assert meta == {"k": 1} and nets[0].config == TINY
    assert torch.equal(nets[0].state_dict()["alpha_mask.0.weight"], ck["model"]["alpha_mask.0.weight"])


def test_a_few_steps_on_one_batch_reduce_the_loss(data_dir, tmp_path):
    """Adam with the reference settings fits one batch: the loss goes down."""
    from avatarforge.portrait.train import batch_tensors, stage_losses
    from avatarforge.portrait.weights import build_nets

    torch.manual_seed(0)
    nets = build_nets(TINY)
    batch = batch_tensors(load_split(data_dir, "train"), np.arange(4), 16)
    opt = torch.optim.Adam(nets[0].parameters(), lr=1e-3, betas=(0.5, 0.999))
    losses = []
    for _ in range(30):
        loss = stage_losses("morpher", nets, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]


def test_focus_term_averages_the_error_over_changed_pixels_only():
    from avatarforge.portrait.train import changed_pixel_mean

    src = torch.zeros(1, 4, 2, 2)
    tgt = src.clone()
    tgt[0, :, 0, 0] = 1.0  # one changed pixel
    err = torch.ones(1, 4, 2, 2)
    err[0, :, 0, 0] = 3.0
    assert float(changed_pixel_mean(err, src, tgt)) == 3.0
    assert float(changed_pixel_mean(err, src, src)) == 0.0  # nothing changed: no term


def test_init_starts_a_stage_from_a_checkpoint_and_refuses_another_size(data_dir, tmp_path):
    """``init`` seeds a fresh stage with the checkpoint's weights (step 0, new optimiser); an
    existing work checkpoint wins over it; a checkpoint of another size is refused."""
    from avatarforge.portrait.weights import build_nets, save_checkpoint

    torch.set_num_threads(1)
    torch.manual_seed(3)
    seed_nets = build_nets(TINY)
    src = save_checkpoint(tmp_path / "seed.pt", seed_nets)
    work = tmp_path / "w"
    r = train_stage("rotator", data_dir, work, TrainConfig(steps=1, batch=2, net=TINY, val_every=0, lr=1e-12,
                                                          init=str(src)))
    assert r.step == 1
    got = torch.load(work / "rotator.ckpt", weights_only=True)["model"]
    for k, v in seed_nets[1].state_dict().items():  # lr 1e-12: one step leaves the seeded weights
        assert torch.allclose(got[k], v, atol=1e-6), k
    # without init the flow head would start at zero; here it kept the seed's (non-zero) weights
    assert got["zhou_grid_change.weight"].abs().sum() > 0
    other = NetConfig(image_size=16, width=8, bottleneck_size=4, blocks=1)
    big = save_checkpoint(tmp_path / "big.pt", build_nets(other))
    with pytest.raises(UserInputError, match="another size"):
        train_stage("morpher", data_dir, tmp_path / "w2", TrainConfig(steps=1, batch=2, net=TINY, val_every=0,
                                                                      init=str(big)))
