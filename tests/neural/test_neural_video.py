import numpy as np
import pytest

from avatarforge.errors import UserInputError
from avatarforge.neural.data_video import VideoConfig, dataset_from_video, solve_translation, to_world, track_video
from avatarforge.neural.skeleton import KEYPOINTS, mediapipe_keypoints
from avatarforge.render import Camera


def test_translation_solve_recovers_a_known_placement():
    rng = np.random.default_rng(0)
    kp = rng.normal(0, 0.4, (len(KEYPOINTS), 3))  # hip-centred, camera axes
    true_t = np.array([0.3, -0.2, 3.5])
    f, cx, cy = 500.0, 320.0, 240.0
    cam = kp + true_t
    px = np.stack([f * cam[:, 0] / cam[:, 2] + cx, f * cam[:, 1] / cam[:, 2] + cy], 1)
    np.testing.assert_allclose(solve_translation(kp, px, f, cx, cy), true_t, atol=1e-9)


def test_world_frame_and_camera_reproject_the_camera_points():
    rng = np.random.default_rng(1)
    cam_pts = rng.normal([0.1, 0.0, 3.0], 0.3, (5, len(KEYPOINTS), 3))
    world, camera = to_world(cam_pts, 640, 480, 600.0, 320.0, 240.0)
    for t in range(5):
        proj = camera.project(world[t])
        np.testing.assert_allclose(proj[:, 0], 600 * cam_pts[t, :, 0] / cam_pts[t, :, 2] + 320, atol=1e-9)
        np.testing.assert_allclose(proj[:, 2], cam_pts[t, :, 2], atol=1e-9)
    # +Y up: points lower in the image (larger camera y) have smaller world y.
    assert np.corrcoef(world[..., 1].ravel(), cam_pts[..., 1].ravel())[0, 1] < -0.99


def test_mediapipe_keypoint_mapping():
    from avatarforge.perception.pose import landmark_index

    world = np.zeros((33, 3))
    world[landmark_index("left_shoulder")] = (1, 0, 0)
    world[landmark_index("right_shoulder")] = (-1, 0, 0)
    world[landmark_index("left_index")] = (2, 2, 0)
    world[landmark_index("left_pinky")] = (4, 2, 0)
    kp = mediapipe_keypoints(world)
    np.testing.assert_allclose(kp[KEYPOINTS.index("neck")], 0)
    np.testing.assert_allclose(kp[KEYPOINTS.index("hand.L")], (3, 2, 0))


def test_untrackable_video_reports_every_frame(tmp_path):
    from avatarforge.util.video import write_mp4

    write_mp4(tmp_path / "blank.mp4", [np.full((64, 48, 3), 30 * i, np.uint8) for i in range(3)], fps=10)
    with pytest.raises(UserInputError, match=r"no frame could be tracked \(3 frames: person out of view\)"):
        track_video(tmp_path / "blank.mp4")


@pytest.fixture(scope="module")
def walking_video(tmp_path_factory, body):
    """A rendered video of the body model walking (MediaPipe finds it on such renders), with one
    blank frame in the middle that must be reported and skipped."""
    from avatarforge.neural.data_synthetic import procedural_albedo
    from avatarforge.neural.motion import motion_preset
    from avatarforge.neural.part_maps import body_rig, render_ground_truth
    from avatarforge.util.video import write_mp4

    rest = body.forward_params({})
    rig = body_rig(rest)
    albedo = procedural_albedo(rest, rig, 256)
    cam = Camera.look_at((0.2, 0.9, 3.2), (0, 0.85, 0), width=192, height=256, fov_y_deg=45)
    frames = []
    for i, p in enumerate(motion_preset("walk", 5)):
        gt = render_ground_truth(body.forward_params(p).vertices[0], rig, cam, albedo, background=(0.8, 0.82, 0.85))
        frames.append((gt.rgb * 255).astype(np.uint8))
        if i == 2:
            frames.append(np.full_like(frames[-1], 200))
    path = tmp_path_factory.mktemp("video") / "walk.mp4"
    write_mp4(path, frames, fps=10)
    return path, cam


def test_video_to_dataset(walking_video):
    path, true_cam = walking_video
    data = dataset_from_video(path, VideoConfig(size=64, smooth_sigma=0.0, holdout_every=3))
    assert data.meta["skipped"] == [{"frame": 3, "reason": "person out of view (neither the pose nor the segmentation model finds one)"}]
    assert len(data.images) == 5 and data.size == (64, 64)
    assert list(data.split) == [0, 0, 1, 0, 0]
    # The tracked keypoints, projected with the data set's camera, land on the person.
    for i in range(5):
        px = data.camera(i).project(data.joints[i].astype(np.float64))[:, :2].round().astype(int)
        inside = (px >= 0).all(1) & (px < 64).all(1)
        assert inside.mean() > 0.9
        hits = data.masks[i][px[inside, 1], px[inside, 0]] > 0
        assert hits.mean() > 0.7
    # World frame: head above the pelvis above the ankles; the person faces +Z (left at +x
    # for a person facing the camera on +Z).
    j = data.joints.mean(0)
    assert j[KEYPOINTS.index("head"), 1] > j[KEYPOINTS.index("pelvis"), 1] > j[KEYPOINTS.index("ankle.L"), 1]
    assert j[KEYPOINTS.index("shoulder.L"), 0] > j[KEYPOINTS.index("shoulder.R"), 0]
    assert abs(j[KEYPOINTS.index("ankle.L"), 1]) < 0.25  # soles near y = 0
    # Background replaced by the constant colour.
    bg = (data.masks == 0)
    np.testing.assert_allclose(data.images[bg].mean(0), 127.5, atol=1.0)


def test_cli_train_on_video_and_track(walking_video, tmp_path, capsys):
    from avatarforge.cli.main import main
    from avatarforge.neural.motion import load_motion

    path, _ = walking_video
    code = main(["neural", "train", str(path), "-o", str(tmp_path / "m"), "--kind", "direct", "--iterations", "2",
                 "--batch-size", "2", "--size", "32"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "skipped frame 3: person out of view" in err
    assert (tmp_path / "m" / "checkpoint.pt").is_file()
    code = main(["neural", "track", str(path), "-o", str(tmp_path / "motion.json")])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "5 frames tracked, 1 skipped" in out.out
    motion = load_motion(tmp_path / "motion.json")
    assert motion.joints.shape == (5, 19, 3) and motion.fps == 10
