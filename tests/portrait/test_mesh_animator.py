"""The mesh-guided animator on a synthetic face render (known truth), the video tracker and
the retargeting."""

import numpy as np
import pytest

from avatarforge.dev import face_synthetic as BENCH
from avatarforge.errors import UserInputError
from avatarforge.fitting.face_fit import FaceFitConfig
from avatarforge.portrait.mesh_animator import FacePose, MeshAnimator, MeshAnimatorConfig
from avatarforge.portrait.pose import TalkingPose

FAST_FIT = FaceFitConfig(rigid_steps=30, full_steps=80)


def _render(body, seed=3, **extra):
    rng = np.random.default_rng(seed)
    values = BENCH.random_sample(body, rng)
    values = {k: v for k, v in values.items() if k not in body.params.names("expression")}
    values.update({"pose.head.y": 5.0, "pose.head.x": 0.0, "pose.head.z": 0.0, **extra})
    return BENCH.render_sample(body, values, np.random.default_rng(seed))


@pytest.fixture(scope="module")
def animator(body):
    _, _, rgb = _render(body)
    person = (rgb != rgb[0, 0]).any(-1).astype(float)  # the render's background is one flat colour
    return MeshAnimator.from_image(rgb, body, MeshAnimatorConfig(eye_net=False), person=person, fit_config=FAST_FIT)


def test_identity_pose_returns_the_image_exactly(animator):
    for pose in (FacePose(), TalkingPose(), None, FacePose(head=(0.0, 0.0, 0.0), gaze=(0.0, 0.0))):
        out = animator.render(pose)
        assert out.dtype == np.uint8 and np.array_equal(out, animator.image)


def test_the_posed_head_is_the_body_models_own(animator, body):
    """The fast head slice + ground offset, seen by the fitted camera, is the full model's mesh."""
    full = body.forward_params(animator.fit.values).vertices[0].numpy()
    cam = animator.fit.camera
    ids = np.unique(np.concatenate([animator.faces.ravel()]))
    ref = full @ cam.R.T + cam.t
    # the slice's vertex order is that of the sorted head vertex ids
    from avatarforge.bodies.head_mesh import head_faces

    f = body.faces.numpy()
    head_ids = np.unique(f[head_faces(body, f)])
    assert len(ids) == len(head_ids)
    assert np.allclose(animator.src_cam, ref[head_ids], atol=2e-4)


def test_jaw_open_moves_the_lips_and_not_the_background(animator):
    img = animator.image
    out = animator.render(FacePose(actions={"jawOpen": 0.8}))
    assert out.shape == img.shape
    lm = animator.src_lm
    lower_lip = np.round(lm[17]).astype(int)  # mediapipe 17: lower lip, outer middle
    y0, x0 = lower_lip[1], lower_lip[0]
    assert np.abs(out[y0 - 2:y0 + 6, x0 - 3:x0 + 4].astype(int) - img[y0 - 2:y0 + 6, x0 - 3:x0 + 4]).mean() > 5
    # the mouth opened: below the upper lip's middle a dark cavity appears (under the painted teeth)
    x, y = np.round(lm[13]).astype(int)
    width = int(np.linalg.norm(lm[61] - lm[291]))  # the mouth corners
    column = slice(y, y + width // 2)
    assert out[column, x].mean(-1).min() < img[column, x].mean(-1).min() - 40
    # the background beyond the grown person mask (plus two blocks of the coarse motion grid)
    # did not move, bit for bit
    import cv2

    changed = (out != img).any(-1)
    person = (img != img[0, 0]).any(-1)
    dist = cv2.distanceTransform(np.where(person, 0, 255).astype(np.uint8), cv2.DIST_L2, 5)
    far = dist > animator.cfg.person_margin * animator.face_height + 2 * animator.cfg.flow_step + 2
    assert far.sum() > 1000 and not changed[far].any()
    assert changed.sum() > 200


def test_blink_paints_the_lids_and_turning_moves_the_face(animator):
    img = animator.image
    shut = animator.render(TalkingPose(left_eye=1.0, right_eye=1.0))
    eye = animator.src_eyes["L"]
    assert eye.sum() > 10
    assert np.abs(shut[eye].astype(int) - img[eye]).mean() > 5
    turned = animator.render(TalkingPose(head_y=1.0))
    nose = np.round(animator.src_lm[1]).astype(int)
    assert (turned[nose[1] - 3:nose[1] + 4, nose[0] - 3:nose[0] + 4] != img[nose[1] - 3:nose[1] + 4, nose[0] - 3:nose[0] + 4]).any()


def test_bad_actions_are_user_errors(animator):
    with pytest.raises(UserInputError, match="unknown facial action"):
        animator.render(FacePose(actions={"jawopen": 0.5}))
    with pytest.raises(UserInputError, match=r"\[0, 1\]"):
        animator.render(FacePose(actions={"jawOpen": 1.5}))
    with pytest.raises(UserInputError, match="is for a"):
        MeshAnimator(np.zeros((8, 8, 3), np.uint8), animator.fit, animator.body)


@pytest.mark.wrong_types
def test_a_grey_image_is_a_user_error(animator):
    with pytest.raises(UserInputError, match="RGB or RGBA"):
        MeshAnimator(np.zeros((8, 8), np.uint8), animator.fit, animator.body)


def test_an_image_without_a_face_is_refused(body):
    with pytest.raises(UserInputError):
        MeshAnimator.from_image(np.full((120, 160, 3), 90, np.uint8), body, MeshAnimatorConfig(eye_net=False))


def test_tracking_follows_a_synthetic_face_video(body):
    from avatarforge.fitting.face_track import FaceTrackConfig, track_face_frames

    frames = []
    for extra in ({}, {"jawOpen": 0.6}, {"pose.head.y": 20.0}, None, {}):
        frames.append(np.full((640, 640, 3), 40, np.uint8) if extra is None else _render(body, seed=5, **extra)[2])
    track = track_face_frames(frames, body, FaceTrackConfig(steps=5, first=FAST_FIT))
    assert track.found.tolist() == [True, True, True, False, True]
    jaw = track.expression[:, list(track.expression_names).index("jawOpen")]
    assert jaw[1] > jaw[0] + 0.2 and jaw[4] < jaw[1] - 0.15
    # a 15 degree turn in one frame: the warm-started steps get most of the way, the right way
    assert 6.0 < track.head[2, 1] - track.head[0, 1] < 25.0
    assert track.head[4, 1] < track.head[2, 1] - 4.0
    assert np.array_equal(track.head[3], track.head[2])  # no face: the previous values held
    assert track.first_fit is not None and track.seconds_per_frame > 0


def test_retarget_is_relative_to_the_neutral_frame_and_eases_back(animator):
    from avatarforge.fitting.face_track import FaceTrack
    from avatarforge.perception.face import face_landmarks
    from avatarforge.portrait.mesh_drive import retarget

    names = animator.expression_names
    n = 6
    expr = np.zeros((n, 52))
    expr[:, names.index("jawOpen")] = [0.1, 0.5, 0.5, 0.5, 0.5, 0.1]
    head = np.zeros((n, 3))
    head[:, 1] = [2.0, 12.0, 12.0, 12.0, 12.0, 2.0]
    points = face_landmarks(animator.image).points
    found = np.array([True, True, False, False, False, True])
    track = FaceTrack(expr, head, np.zeros((n, 2, 3)), found, names, 25.0, animator.fit,
                      landmarks=[points if f else None for f in found])
    poses = retarget(track, animator, smoothing=1.0, ease=0.5)
    j0 = float(animator.expr0[0, names.index("jawOpen")])
    assert poses[0].head == (0.0, 0.0, 0.0) and poses[0].actions == {}
    assert poses[1].head[1] == pytest.approx(10.0)
    assert poses[1].actions["jawOpen"] == pytest.approx(min(1.0, j0 + 0.4))
    assert poses[2].head[1] == pytest.approx(5.0) and poses[3].head[1] == pytest.approx(2.5)
    assert animator.is_identity(poses[5])
    assert retarget(track, animator, smoothing=1.0, max_head=4.0)[1].head[1] == pytest.approx(4.0)
    with pytest.raises(UserInputError, match="neutral frame 2"):
        retarget(track, animator, neutral_frame=2)
    with pytest.raises(UserInputError, match="outside"):
        retarget(track, animator, neutral_frame=9)
    track.found[:] = False
    with pytest.raises(UserInputError, match="no face"):
        retarget(track, animator)


def test_head_turns_warp_a_smooth_picture_smoothly(animator):
    """A head turn of 20 degrees stretches the near side and compresses the far side, with no
    seam: on a picture that is a smooth ramp (under 1 grey level per pixel in each channel), no
    neighbouring output pixels differ by more than a few levels (compression of the far side
    raises the slope a few times; a tear shows the flow's jump of tens of pixels as tens of
    levels), and the background far from the person (almost) unchanged."""
    img = animator.image
    h, w = img.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w]
    ramp = np.stack([xx * 200 // w, yy * 200 // h, np.full_like(xx, 128)], -1).astype(np.uint8)
    person = (img != img[0, 0]).any(-1).astype(float)
    smooth = MeshAnimator(ramp, animator.fit, animator.body, animator.cfg, person)
    step = max(200 / w, 200 / h)
    for yaw in (20.0, -20.0):
        out = smooth.render(FacePose(head=(0.0, yaw, 0.0))).astype(int)
        assert (out != ramp).any()
        jump = max(np.abs(np.diff(out, axis=0)).max(), np.abs(np.diff(out, axis=1)).max())
        assert step < 1 and jump <= 8, (yaw, jump)  # the seam this replaced made a jump of 24 levels
    import cv2

    q = smooth.cfg.flow_step
    near = cv2.dilate((smooth.soft_person > 0).astype(np.uint8), np.ones((4 * q + 1, 4 * q + 1), np.uint8))
    far = near == 0
    # not bit for bit: on this render 0.8 % of these pixels move (cause not found yet)
    assert far.sum() > 1000
    assert (smooth.render(FacePose(head=(0.0, 20.0, 0.0)))[far] != ramp[far]).any(-1).mean() < 0.02  # measured 0.8 %
