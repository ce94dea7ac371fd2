"""The morphable head against the body model, the deformation field at initialisation, a tiny
training run, and the `head` CLI."""

import json

import numpy as np
import pytest
import torch

from avatarforge.cli.main import main


@pytest.fixture(scope="module")
def rig(body):
    from avatarforge.imavatar.rig import build_rig

    return build_rig(body)


VALUES = {"jawOpen": 0.7, "mouthSmileLeft": 0.5, "eyeBlinkRight": 0.8, "browInnerUp": 0.4, "pose.head.y": 20.0,
          "pose.head.x": -10.0, "pose.neck01.z": 5.0, "pose.eye.L.y": 10.0, "pose.eye.R.y": 10.0}


def _frame_values(rig):
    e = np.zeros(52)
    for k, v in VALUES.items():
        if k in rig.expression_names:
            e[rig.expression_names.index(k)] = v
    T = rig.transforms(np.array([-10.0, 20.0, 0.0]), np.array([0.0, 0.0, 5.0]), np.array([[0.0, 10.0, 0.0]] * 2))
    return e, T


def test_rig_reproduces_the_body_model(body, rig):
    from avatarforge.imavatar.rig import deform_vertices

    e, T = _frame_values(rig)
    x = deform_vertices(torch.as_tensor(rig.vertices), torch.as_tensor(rig.blendshapes).permute(1, 0, 2),
                        torch.as_tensor(rig.weights), torch.as_tensor(e), torch.as_tensor(T)).numpy()
    from scipy.spatial import cKDTree

    _, ids = cKDTree(body.forward_params({}).rest_vertices[0].numpy()).query(rig.vertices)
    ref = body.forward_params(VALUES).vertices[0].numpy()[ids]
    assert np.abs(x - ref).max() < 1e-3  # float32 body vs float64 rig: well under a millimetre


def test_deformation_at_init_is_the_morphable_models(rig):
    """The deformation field before training (prior grid, zero residual) moves the rig's own
    vertices like the morphable model; the grid's interpolation is the only difference."""
    from avatarforge.imavatar.model import Frame, IMavatar, PriorGrid
    from avatarforge.imavatar.rig import deform_vertices

    e, T = _frame_values(rig)
    model = IMavatar(PriorGrid.from_rig(rig, 0.008))
    frame = Frame.of(e, T)
    with torch.no_grad():
        got = model.deform(torch.as_tensor(rig.vertices, dtype=torch.float32), frame).numpy()
    ref = deform_vertices(torch.as_tensor(rig.vertices), torch.as_tensor(rig.blendshapes).permute(1, 0, 2),
                          torch.as_tensor(rig.weights), torch.as_tensor(e), torch.as_tensor(T)).numpy()
    rigid = deform_vertices(torch.as_tensor(rig.vertices), torch.zeros(len(rig.vertices), 52, 3, dtype=torch.float64),
                            torch.as_tensor(rig.weights), torch.as_tensor(e), torch.as_tensor(T)).numpy()
    err = np.linalg.norm(got - ref, axis=1)
    motion = np.linalg.norm(ref - rigid, axis=1)  # what the expression moves
    assert np.median(err) < 1e-3
    assert err.mean() < 0.25 * motion[motion > 1e-3].mean()
    moving = motion > 3e-3
    assert np.mean(err[moving] < 0.5 * motion[moving]) > 0.8


def test_tiny_training_lowers_the_loss_and_resumes(body, rig, tmp_path):
    from avatarforge.imavatar.data import SynthConfig, make_synthetic
    from avatarforge.imavatar.model import Frame
    from avatarforge.imavatar.raymarch import camera_rays, shade_rays
    from avatarforge.imavatar.train import TrainConfig, build_field, init_occupancy, load_model, train

    data = make_synthetic(body, SynthConfig(size=32, frames=8, extreme=1, key_every=4))
    data.split[:] = "heldout"
    data.split[0] = "train"
    cfg = TrainConfig(steps=12, rays=64, samples=10, init_steps=60, log_every=6, checkpoint_every=6, lr=1e-3)
    ys, xs = np.mgrid[0:32:2, 0:32:2]
    px = np.stack([xs.ravel(), ys.ravel()], 1)
    o, d = camera_rays(data.camera, px)
    gt = torch.as_tensor(data.rgb[0][px[:, 1], px[:, 0]], dtype=torch.float32) / 255
    m = torch.as_tensor(data.mask[0][px[:, 1], px[:, 0]] > 0, dtype=torch.float32)
    frame = Frame.of(data.expression[0], rig.transforms(data.head[0], data.neck[0], data.eyes[0]))

    def loss(field):
        out = shade_rays(field, o, d, frame, cfg.samples)
        on = out.hit & (m > 0)
        rgb = (out.rgb[on] - gt[on]).abs().mean() if on.any() else torch.ones(())  # no face hit: worst L1
        return float(rgb.detach() + cfg.w_mask * torch.nn.functional.binary_cross_entropy_with_logits(
            out.mask_logit, m))

    torch.manual_seed(cfg.seed)
    field0 = build_field(cfg, rig)
    init_occupancy(field0, rig, cfg.init_steps, cfg.seed)
    before = loss(field0)
    logs = []
    model = train(data, tmp_path / "m", cfg, rig=rig, progress=logs.append)
    assert all(torch.isfinite(p).all() for p in model.field.parameters())
    after = loss(model.field)
    assert after < before - 0.02, (before, after)
    assert [r["step"] for r in logs] == [6, 12]
    again = load_model(tmp_path / "m")
    assert loss(again.field) == pytest.approx(after, abs=1e-5)
    # resuming to more steps continues from step 12
    logs.clear()
    train(data, tmp_path / "m", TrainConfig(**{**cfg.__dict__, "steps": 14}), rig=rig, progress=logs.append)
    assert [r["step"] for r in logs] == [14]


def _run(capsys, *args):
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_cli_errors(capsys, tmp_path):
    code, _, err = _run(capsys, "head", "render", str(tmp_path / "none"), "-o", str(tmp_path / "o.mp4"))
    assert code == 2 and "not a head model" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "head", "render", str(tmp_path), "-o", str(tmp_path / "o.gif"))
    assert code == 2 and ".mp4 or .png" in err
    code, _, err = _run(capsys, "head", "train", str(tmp_path / "missing.mp4"), "-o", str(tmp_path / "m"))
    assert code == 2 and "no such video" in err
    code, _, err = _run(capsys, "head", "train", str(tmp_path), "-o", str(tmp_path / "m"), "--kind", "dnet")
    assert code == 2 and "--kind" in err
    code, _, err = _run(capsys, "head", "train", str(tmp_path), "-o", str(tmp_path / "m"))
    assert code == 2 and "not a head data set" in err
    code, _, err = _run(capsys, "head", "mesh", str(tmp_path), "-o", str(tmp_path / "x.txt"))
    assert code == 2 and ".obj" in err
    assert not (tmp_path / "o.mp4").exists()


def test_expressions_json_is_validated(tmp_path):
    from avatarforge.errors import UserInputError
    from avatarforge.imavatar.use import drive_from_json

    names = ("jawOpen", "eyeBlinkLeft")
    p = tmp_path / "e.json"
    p.write_text(json.dumps([{"jawOpen": 0.5, "pose.head.y": 10}, {"eyeBlinkLeft": 2.0}]))
    d = drive_from_json(p, names)
    assert d.expression[0, 0] == 0.5 and d.head[0, 1] == 10 and d.expression[1, 1] == 1.0  # clipped
    for bad in ([{"smile": 1}], {"frames": []}, [{"jawOpen": "a"}]):
        p.write_text(json.dumps(bad))
        with pytest.raises(UserInputError):
            drive_from_json(p, names)


def test_expression_error_tracks_the_render_and_rejects_a_faceless_one(rig):
    """The benchmark's expression error: 0 for the ground truth itself, the shift for a shifted
    render (landmarks move with the image), and no value for a render without facial features
    (a flat silhouette: the tracker's face-presence gate)."""
    from avatarforge.imavatar.data import head_camera, render_rig
    from avatarforge.imavatar.metrics import tracked_landmark_error

    e = np.zeros(52)
    e[rig.expression_names.index("jawOpen")] = 0.5
    gt, mask = render_rig(rig, head_camera(rig, 64), e, rig.transforms(np.zeros(3), np.zeros(3), np.zeros((2, 3))))
    assert tracked_landmark_error(gt, gt) == (0.0, "detected")
    shifted = np.zeros_like(gt)
    shifted[:, 2:] = gt[:, :-2]
    err, how = tracked_landmark_error(shifted, gt)
    assert how in ("detected", "tracked") and abs(err - 2.0) < 0.3
    blob = np.where(mask[..., None] > 0, np.array([200, 150, 130], np.uint8), 0).astype(np.uint8)
    assert tracked_landmark_error(blob, gt) == (None, "lost")
    assert tracked_landmark_error(gt, np.zeros_like(gt)) == (None, "no_gt")
