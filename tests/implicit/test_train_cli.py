"""Training (loss goes down, resume), the baselines' interface, and the `implicit` CLI."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from avatarforge.cli.main import main
from avatarforge.implicit.model import SNARF
from avatarforge.implicit.train import TrainConfig, build_model, load_model, train


def _bce(model, data, p):
    with torch.no_grad():
        logits = model(torch.from_numpy(data.points[p]), torch.from_numpy(data.transforms[p]).float())
        return torch.nn.functional.binary_cross_entropy_with_logits(
            logits, torch.from_numpy(data.occupancy[p].astype(np.float32))).item()


@pytest.mark.parametrize("kind", ["snarf", "backward", "pose_occupancy"])
def test_training_reduces_the_loss(tiny_implicit, tmp_path, kind):
    data, _ = tiny_implicit
    # one training pose and 300 of its points: the loss on them must fall
    small = dataclasses.replace(data, split=["train"] + ["within"] * (len(data.split) - 1),
                                points=data.points[:, :300].copy(), occupancy=data.occupancy[:, :300].copy())
    s = data.subject
    cfg = TrainConfig(kind=kind, steps=40, points_per_step=300, poses_per_step=1, lr=3e-3, log_every=10,
                      checkpoint_every=20)
    torch.manual_seed(cfg.seed)
    before = _bce(build_model(cfg, s.bones, s.bounds, init=(s.vertices[: s.n_body_vertices],
                                                             s.body_weights[: s.n_body_vertices])), small, 0)
    logs = []
    model = train(small, tmp_path / kind, cfg, progress=logs.append)
    after = _bce(model, small, 0)
    assert after < before - 0.1, (before, after)
    assert [r["step"] for r in logs] == [10, 20, 30, 40]
    # reload from the folder gives the same predictions
    again, cfg2, _ = load_model(tmp_path / kind)
    assert cfg2 == cfg
    x = torch.from_numpy(data.points[1, :300])
    T = torch.from_numpy(data.transforms[1]).float()
    with torch.no_grad():
        assert torch.allclose(again(x, T), model(x, T), atol=1e-5)


def test_training_resumes_from_the_checkpoint(tiny_implicit, tmp_path):
    data, _ = tiny_implicit
    cfg = TrainConfig(kind="pose_occupancy", steps=10, points_per_step=64, log_every=5, checkpoint_every=5)
    train(data, tmp_path, cfg)
    cfg.steps = 15
    train(data, tmp_path, cfg)
    steps = [json.loads(line)["step"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert steps == [5, 10, 15]
    assert torch.load(tmp_path / "checkpoint.pt", weights_only=True)["step"] == 15


def test_snarf_uses_several_initialisations(tiny_implicit):
    data, _ = tiny_implicit
    s = data.subject
    model = build_model(TrainConfig(n_init=3), s.bones, s.bounds,
                        init=(s.vertices[: s.n_body_vertices], s.body_weights[: s.n_body_vertices]))
    assert isinstance(model, SNARF)
    # body vertices of a posed body: their canonical rest positions are among the roots
    p = data.split.index("ood")
    sel = np.arange(0, s.n_body_vertices, 97)
    corr = model.search(torch.from_numpy(data.posed_vertices[p, sel]).float(), torch.from_numpy(data.transforms[p]).float())
    assert corr.x.shape == (len(sel), 3, 3)
    err = (corr.x - torch.from_numpy(s.vertices[sel]).float()[:, None]).norm(dim=-1)
    err[~corr.valid] = np.inf
    # the voxel field is the body's weights resampled at 4 cm: most rest positions are recovered to ~1 cm
    assert (err.min(1).values < 0.02).float().mean() > 0.8


def run(args, capsys):
    code = main(args)
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_errors(tmp_path, capsys):
    code, _, err = run(["implicit", "train", str(tmp_path / "nope"), "-o", str(tmp_path / "m")], capsys)
    assert code == 2 and err.startswith("error:") and "implicit synth" in err
    code, _, err = run(["implicit", "train", str(tmp_path), "-o", str(tmp_path / "m"), "--kind", "gdna"], capsys)
    assert code == 2 and "needs a gDNA data set" in err
    code, _, err = run(["implicit", "train", str(tmp_path), "-o", str(tmp_path / "m"), "--kind", "x"], capsys)
    assert code == 2 and "--kind must be one of" in err
    code, _, err = run(["implicit", "train", str(tmp_path), "-o", str(tmp_path / "m")], capsys)
    assert code == 2 and "not an implicit data set" in err
    code, _, err = run(["implicit", "repose", str(tmp_path), "--pose", "t", "-o", str(tmp_path / "x.obj")], capsys)
    assert code == 2 and "not an implicit model" in err
    code, _, err = run(["implicit", "repose", str(tmp_path), "--pose", "t", "-o", str(tmp_path / "x.txt")], capsys)
    assert code == 2 and ".obj" in err
    assert not (tmp_path / "m").exists()


def test_cli_synth_train_repose(tmp_path, capsys, tiny_implicit):
    _, data_dir = tiny_implicit
    model = tmp_path / "model"
    code, out, err = run(["implicit", "train", str(data_dir), "-o", str(model), "--kind", "pose_occupancy",
                          "--steps", "150", "--points-per-step", "1024", "--lr", "1e-2"], capsys)
    assert code == 0, err
    assert (model / "checkpoint.pt").is_file()
    pose = tmp_path / "pose.json"
    pose.write_text(json.dumps({"pose.upperarm01.L.z": 30}))
    mesh = tmp_path / "m.obj"
    code, out, err = run(["implicit", "repose", str(model), "--pose", str(pose), "-o", str(mesh), "--res", "32",
                          "--preview", str(tmp_path / "m.png")], capsys)
    assert code == 0, err
    import trimesh

    m = trimesh.load(mesh, force="mesh")
    assert len(m.faces) > 100 and (tmp_path / "m.png").is_file()
    code, _, err = run(["implicit", "repose", str(model), "--pose", str(pose), "-o", str(mesh)], capsys)
    assert code == 2 and "--force" in err
    pose.write_text(json.dumps({"pose.finger1-1.L.z": 30}))
    code, _, err = run(["implicit", "repose", str(model), "--pose", str(pose), "-o", str(tmp_path / "n.obj")], capsys)
    assert code == 2 and "only the main joints" in err and not (tmp_path / "n.obj").exists()
    code, _, err = run(["implicit", "repose", str(model), "--pose", "sideways", "-o", str(tmp_path / "n.obj")], capsys)
    assert code == 2 and "not a preset" in err


def test_cli_synth_refuses_a_non_empty_folder(tmp_path, capsys):
    (tmp_path / "f").write_text("x")
    code, _, err = run(["implicit", "synth", "-o", str(tmp_path)], capsys)
    assert code == 2 and "--force" in err
