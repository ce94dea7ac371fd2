"""Calibration files, triangulation, swap fixing, gap filling and multi-view data sets."""

import numpy as np
import pytest

from avatarforge.errors import UserInputError
from avatarforge.neural.calibration import (
    CameraCalib, load_calibration, project_points, save_calibration_toml, triangulate,
)
from avatarforge.neural.tracking import fill_gaps, fix_swaps, swap_sides
from avatarforge.render import Camera


def _ring(n=4, dist=3.0, size=(320, 240)):
    cams = []
    for k in range(n):
        a = 2 * np.pi * k / n
        c = Camera.look_at((dist * np.sin(a), 1.0, dist * np.cos(a)), (0, 0.9, 0), width=size[0], height=size[1], fov_y_deg=50)
        K = np.array([[c.fx, 0, c.cx], [0, c.fy, c.cy], [0, 0, 1]])
        cams.append(CameraCalib(f"cam{k + 1:02d}", size, K, np.zeros(4), c.R, c.t))
    return cams


def _manual_projection(cam, X):
    x = X @ cam.R.T + cam.t
    return (x[:, :2] / x[:, 2:]) @ cam.K[:2, :2].T + cam.K[:2, 2]


def test_toml_round_trip_and_pose2sim_fields(tmp_path):
    cams = _ring()
    cams[1].dist = np.array([0.01, -0.02, 0.001, 0.0])
    save_calibration_toml(tmp_path / "Calib.toml", cams)
    back = load_calibration(tmp_path / "Calib.toml")
    assert [c.name for c in back] == [c.name for c in cams]
    X = np.random.default_rng(0).normal([0, 1, 0], 0.3, (20, 3))
    for a, b in zip(cams, back):
        np.testing.assert_allclose(b.R, a.R, atol=1e-12)
        np.testing.assert_allclose(project_points(b, X), project_points(a, X), atol=1e-8)
    np.testing.assert_allclose(project_points(back[0], X), _manual_projection(cams[0], X), atol=1e-8)
    # Pose2Sim's own layout: Rodrigues rotation; a 90-degree turn about z.
    (tmp_path / "p2s.toml").write_text(
        '[int_cam01_img]\nname = "cam01"\nsize = [ 100, 80]\nmatrix = [ [ 50.0, 0.0, 50.0], [ 0.0, 50.0, 40.0], [ 0.0, 0.0, 1.0]]\n'
        'distortions = [ 0.0, 0.0, 0.0, 0.0]\nrotation = [ 0.0, 0.0, 1.5707963267948966]\ntranslation = [ 0.0, 0.0, 2.0]\n'
        'fisheye = false\n\n[metadata]\nadjusted = false\nerror = 0.0\n')
    (c,) = load_calibration(tmp_path / "p2s.toml")
    assert c.name == "cam01" and c.size == (100, 80)
    np.testing.assert_allclose(c.R, [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-12)
    np.testing.assert_allclose(project_points(c, np.array([[1.0, 0, 0]])), [[50, 40 + 25]], atol=1e-9)


def test_opencv_filestorage_yaml(tmp_path):
    import cv2

    cams = _ring(2)
    fs = cv2.FileStorage(str(tmp_path / "calib.yml"), cv2.FILE_STORAGE_WRITE)
    fs.write("names", [c.name for c in cams])
    for c in cams:
        fs.write(f"{c.name}_K", c.K)
        fs.write(f"{c.name}_dist", np.zeros((1, 5)))
        fs.write(f"{c.name}_rvec", cv2.Rodrigues(c.R)[0])
        fs.write(f"{c.name}_t", c.t.reshape(3, 1))
    fs.release()
    back = load_calibration(tmp_path / "calib.yml")
    for a, b in zip(cams, back):
        assert a.name == b.name
        np.testing.assert_allclose(b.R, a.R, atol=1e-9)
        np.testing.assert_allclose(b.t, a.t, atol=1e-12)


def test_bad_calibrations_are_refused(tmp_path):
    (tmp_path / "a.toml").write_text('[c]\nmatrix = [[1,0,0],[0,1,0],[0,0,1]]\n')
    with pytest.raises(UserInputError, match="lacks rotation, translation"):
        load_calibration(tmp_path / "a.toml")
    (tmp_path / "b.toml").write_text("[metadata]\nerror = 0.0\n")
    with pytest.raises(UserInputError, match="no camera found"):
        load_calibration(tmp_path / "b.toml")
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(UserInputError, match="unknown calibration format"):
        load_calibration(tmp_path / "c.json")


def test_weighted_triangulation():
    cams = _ring()
    rng = np.random.default_rng(1)
    X = rng.normal([0, 1, 0], 0.3, (25, 3))
    pts = np.stack([_manual_projection(c, X) for c in cams])
    est, used = triangulate(pts, np.ones((4, 25)), cams)
    np.testing.assert_allclose(est, X, atol=1e-9)  # exact data: exact answer
    assert (used == 4).all()
    noisy = pts + rng.normal(0, 1.0, pts.shape)  # 1 px noise
    est, _ = triangulate(noisy, np.ones((4, 25)), cams)
    assert np.median(np.linalg.norm(est - X, axis=1)) < 0.02
    # A view with garbage but zero weight changes nothing; one view only gives NaN.
    bad = pts.copy()
    bad[2] += 80
    w = np.ones((4, 25))
    w[2] = 0
    np.testing.assert_allclose(triangulate(bad, w, cams)[0], X, atol=1e-9)
    w1 = np.zeros((4, 25))
    w1[0] = 1
    assert np.isnan(triangulate(pts, w1, cams)[0]).all()


def test_swaps_are_fixed_in_time_and_across_views():
    from avatarforge.neural.data_multiview import settle_swaps
    from avatarforge.perception.pose import POSE_LANDMARK_NAMES, landmark_index

    rng = np.random.default_rng(2)
    # A person: left landmarks at +x, right at -x (body-sized spread).
    X = rng.normal([0, 1, 0], 0.05, (33, 3))
    for i in range(33):
        n = POSE_LANDMARK_NAMES[i]
        X[i, 0] += 0.2 if n.startswith("left") else -0.2 if n.startswith("right") else 0
    X[:, 1] += np.linspace(-0.8, 0.8, 33)
    cams = _ring()
    pts = np.stack([_manual_projection(c, X) for c in cams])
    wrong = pts.copy()
    wrong[2] = swap_sides(pts[2])  # the back camera labels the sides the other way
    swapped, est = settle_swaps(wrong, np.ones((4, 33)), cams)
    assert swapped.tolist() == [False, False, True, False]
    np.testing.assert_allclose(est, X, atol=1e-6)
    # In time: frames 3 and 4 of a slow motion are mislabelled.
    seq = np.stack([pts[0] + t * 0.5 for t in range(8)])
    seq[[3, 4]] = swap_sides(seq[[3, 4]])
    ok = np.ones(8, bool)
    assert np.flatnonzero(fix_swaps(seq, ok)).tolist() == [3, 4]
    # A wrong first frame: the majority's labels win.
    seq2 = np.stack([pts[0] + t * 0.5 for t in range(6)])
    seq2[0] = swap_sides(seq2[0])
    assert np.flatnonzero(fix_swaps(seq2, ok[:6])).tolist() == [0]
    assert landmark_index("nose") == 0 and swap_sides(seq2)[0, 0].tolist() == seq2[0, 0].tolist()


def test_gap_filling_is_linear_and_bounded():
    v = np.arange(10, dtype=np.float64)[:, None] * np.array([1.0, 2.0])
    ok = np.ones(10, bool)
    ok[[3, 4]] = False  # a 2-frame miss
    ok[[7]] = False
    fillable = np.ones(10, bool)
    fillable[7] = False  # out of view: not filled
    vals = np.where(ok[:, None], v, np.nan)
    out, filled = fill_gaps(vals, ok, fillable, max_gap=2)
    assert filled.tolist() == [False, False, False, True, True, False, False, False, False, False]
    np.testing.assert_allclose(out[[3, 4]], v[[3, 4]])
    assert np.isnan(out[7]).all()
    _, filled = fill_gaps(vals, ok, fillable, max_gap=1)
    assert not filled.any()


@pytest.fixture(scope="module")
def multiview_folder(tmp_path_factory, body):
    """Front, side and back renders of the body model walking, as videos + a TOML calibration,
    and the true keypoints (world frame of the calibration = avatarforge's)."""
    from avatarforge.neural.data_synthetic import procedural_albedo
    from avatarforge.neural.motion import motion_preset
    from avatarforge.neural.part_maps import body_rig, render_ground_truth
    from avatarforge.neural.skeleton import anny_keypoints
    from avatarforge.util.video import write_mp4

    d = tmp_path_factory.mktemp("mv")
    (d / "videos").mkdir()
    rest = body.forward_params({})
    rig = body_rig(rest)
    albedo = procedural_albedo(rest, rig, 256)
    eyes = {"front": (0.3, 1.0, 3.2), "side": (3.2, 1.0, 0.2), "back": (-0.3, 1.0, -3.2)}
    cams = {k: Camera.look_at(e, (0, 0.85, 0), width=192, height=256, fov_y_deg=45) for k, e in eyes.items()}
    poses = motion_preset("walk", 5)
    outs = [body.forward_params(p) for p in poses]
    frames = {k: [] for k in cams}
    for o in outs:
        for k, c in cams.items():
            gt = render_ground_truth(o.vertices[0], rig, c, albedo, background=(0.8, 0.82, 0.85))
            frames[k].append((gt.rgb * 255).astype(np.uint8))
    for k in cams:
        write_mp4(d / "videos" / f"{k}.mp4", frames[k], fps=10)
    calib = [CameraCalib(k, (192, 256), np.array([[c.fx, 0, c.cx], [0, c.fy, c.cy], [0, 0, 1]]), np.zeros(4), c.R, c.t)
             for k, c in cams.items()]
    save_calibration_toml(d / "Calib_synthetic.toml", calib)
    truth = np.stack([anny_keypoints(o.joints[0], body.joint_names).numpy() for o in outs])
    return d, truth


def test_multiview_triangulation_matches_the_known_body(multiview_folder):
    from avatarforge.neural.data_multiview import MultiViewConfig, dataset_from_multiview, track_multiview
    from avatarforge.neural.skeleton import KEYPOINTS, mediapipe_keypoints

    d, truth = multiview_folder
    cfg = MultiViewConfig(size=64, smooth_sigma=0.0, holdout_views=("side",))
    mv = track_multiview(d, cfg)
    # Every frame tracked in every view, the back view included.
    assert [v.counts()["usable"] for v in mv.views] == [5, 5, 5]
    kp = mediapipe_keypoints(mv.landmarks)
    core = [KEYPOINTS.index(k) for k in ("shoulder.L", "shoulder.R", "hip.L", "hip.R", "knee.L", "knee.R",
                                         "ankle.L", "ankle.R", "elbow.L", "elbow.R")]
    err = np.linalg.norm(kp[:, core] - truth[:, core], axis=-1)
    assert np.median(err) < 0.08, np.median(err)  # metres: MediaPipe vs the body model's joint heads
    # Sides are right in every view (the swapped labelling would put left and right 25+ cm off).
    sh = kp[:, KEYPOINTS.index("shoulder.L")] - kp[:, KEYPOINTS.index("shoulder.R")]
    assert (sh[:, 0] > 0.15).all()
    data = dataset_from_multiview(mv, cfg)
    assert np.bincount(data.split, minlength=3).tolist() == [10, 0, 5]
    # Projected with each view's data-set camera, the shared keypoints land on that view's mask.
    for i in range(len(data.images)):
        px = data.camera(i).project(data.joints[i].astype(np.float64))[:, :2].round().astype(int)
        inside = (px >= 0).all(1) & (px < 64).all(1)
        assert inside.mean() > 0.9
        assert (data.masks[i][px[inside, 1], px[inside, 0]] > 0).mean() > 0.7


def test_cli_multiview_errors(multiview_folder, tmp_path, capsys):
    from avatarforge.cli.main import main

    d, _ = multiview_folder
    code = main(["neural", "train", str(d), "-o", str(tmp_path / "m"), "--holdout-views", "top"])
    err = capsys.readouterr().err
    assert code == 2 and "error: --holdout-views: no camera named top" in err and "Traceback" not in err
    empty = tmp_path / "empty"
    empty.mkdir()
    code = main(["neural", "train", str(empty), "-o", str(tmp_path / "m2")])
    err = capsys.readouterr().err
    assert code == 2 and "no calibration file" in err
    assert not (tmp_path / "m2").exists()


def test_cli_multiview_train(multiview_folder, tmp_path, capsys):
    import json

    from avatarforge.cli.main import main

    d, _ = multiview_folder
    code = main(["neural", "train", str(d), "-o", str(tmp_path / "m"), "--kind", "direct", "--iterations", "2",
                 "--batch-size", "2", "--size", "32", "--holdout-views", "back"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "back: 5/5 frames in view tracked (0 interpolated), 5 in the data set (held out)" in err
    assert "front: 5/5 frames in view tracked" in err
    doc = json.loads((tmp_path / "m" / "config.json").read_text())
    assert doc["data"]["source"] == "multiview" and doc["data"]["holdout_views"] == ["back"]
    assert (tmp_path / "m" / "checkpoint.pt").is_file()
