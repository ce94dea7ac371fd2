import numpy as np

from avatarforge.neural.dataset import SPLITS, camera_from_row, camera_to_row, load_dataset, save_dataset
from avatarforge.neural.part_maps import PART_NAMES, body_rig, part_of_joint, render_ground_truth
from avatarforge.render import Camera


def test_part_of_joint_rules():
    assert PART_NAMES[part_of_joint("lowerarm02.L")] == "lowerarm.L"
    assert PART_NAMES[part_of_joint("finger3-2.R")] == "hand.R"
    assert PART_NAMES[part_of_joint("toe1-1.L")] == "foot.L"
    assert PART_NAMES[part_of_joint("spine02")] == "chest"
    assert PART_NAMES[part_of_joint("spine05")] == "pelvis"
    assert PART_NAMES[part_of_joint("neck02")] == "head"


def test_rig_parts_and_ground_truth(body):
    rest = body.forward_params({})
    rig = body_rig(rest)
    assert set(np.unique(rig.face_part)) == set(range(len(PART_NAMES)))
    assert rig.corner_part_uv.min() >= 0 and rig.corner_part_uv.max() <= 1
    # Each part's UVs span its whole texture (rescaled to the part's bounding box).
    for p in range(len(PART_NAMES)):
        uv = rig.corner_part_uv[rig.face_part == p].reshape(-1, 2)
        np.testing.assert_allclose(uv.min(0), 0, atol=1e-6)
        np.testing.assert_allclose(uv.max(0), 1, atol=1e-6)
    cam = Camera.look_at((0, 0.9, 3.0), (0, 0.85, 0), width=40, height=48)
    gt = render_ground_truth(rest.vertices[0], rig, cam, None, background=(0.1, 0.2, 0.3))
    body_px = gt.mask > 0
    assert 100 < body_px.sum() < 0.6 * body_px.size
    np.testing.assert_array_equal(gt.part < len(PART_NAMES), body_px)
    np.testing.assert_allclose(gt.rgb[~body_px], np.broadcast_to([0.1, 0.2, 0.3], gt.rgb[~body_px].shape), atol=1e-6)
    # The head part is at the top of the image, the feet at the bottom.
    rows = np.arange(48)[:, None].repeat(40, 1)
    head = rows[gt.part == PART_NAMES.index("head")].mean()
    feet = rows[np.isin(gt.part, [PART_NAMES.index("foot.L"), PART_NAMES.index("foot.R")])].mean()
    assert head < 12 and feet > 36


def test_synthetic_splits_and_round_trip(tiny_data, tmp_path):
    d = tiny_data
    counts = {s: len(d.indices(s)) for s in SPLITS}
    assert counts == {"train": 4 * 8, "unseen_poses": 4 * 8, "unseen_views": 2 * 4}
    # Held-out views use cameras no training frame uses; held-out poses are other poses.
    train_cams = {tuple(np.round(r, 6)) for r in d.cameras[d.indices("train")]}
    assert not any(tuple(np.round(r, 6)) in train_cams for r in d.cameras[d.indices("unseen_views")])
    train_joints = d.joints[d.indices("train")]
    for j in d.joints[d.indices("unseen_poses")]:
        assert np.abs(train_joints - j).max(axis=(1, 2)).min() > 1e-3
    # Masks match the part maps, frames are not empty.
    np.testing.assert_array_equal(d.masks > 0, d.parts < len(PART_NAMES))
    assert (d.masks > 0).mean() > 0.05
    save_dataset(tmp_path / "ds", d)
    back = load_dataset(tmp_path / "ds")
    np.testing.assert_array_equal(back.images, d.images)
    np.testing.assert_array_equal(back.split, d.split)
    assert back.meta["counts"]["train"] == 32
    cam = d.camera(0)
    again = camera_from_row(camera_to_row(cam), 32, 32)
    np.testing.assert_allclose(again.project(d.joints[0].astype(np.float64)), cam.project(d.joints[0].astype(np.float64)))
