"""Foot contact: a planted foot stays put while the tracked hips jitter."""

from __future__ import annotations

import numpy as np

from avatarforge.animate.contact import foot_contacts, level_keypoints, lock_feet, root_translation
from avatarforge.neural.skeleton import KEYPOINTS


def standing(f: int = 60, seed: int = 0) -> np.ndarray:
    """(F, K, 3) a person standing still with the left foot planted, the right foot lifted
    and swung (frames 20-40), plus 3 mm jitter (what is left after the one-euro filter)."""
    rng = np.random.default_rng(seed)
    rest = {"pelvis": (0, 0.95, 0), "neck": (0, 1.45, 0), "head": (0, 1.6, 0.05), "hip.L": (0.1, 0.95, 0),
            "hip.R": (-0.1, 0.95, 0), "knee.L": (0.1, 0.5, 0), "knee.R": (-0.1, 0.5, 0), "ankle.L": (0.1, 0.08, 0),
            "ankle.R": (-0.1, 0.08, 0), "toe.L": (0.1, 0.02, 0.15), "toe.R": (-0.1, 0.02, 0.15)}
    kp = np.zeros((f, len(KEYPOINTS), 3))
    for name, p in rest.items():
        kp[:, KEYPOINTS.index(name)] = p
    for s, x in (("L", 0.2), ("R", -0.2)):
        for n in ("shoulder", "elbow", "wrist", "hand"):
            kp[:, KEYPOINTS.index(f"{n}.{s}")] = (x, 1.4 - 0.2 * ("shoulder", "elbow", "wrist", "hand").index(n), 0)
    swing = np.sin(np.linspace(0, np.pi, 21))
    kp[20:41, KEYPOINTS.index("ankle.R"), 1] += 0.2 * swing
    kp[20:41, KEYPOINTS.index("ankle.R"), 2] += 0.3 * swing
    return kp + rng.normal(0, 0.003, kp.shape) * [1, 0, 1]


def test_contacts_find_the_planted_and_the_lifted_foot() -> None:
    c = foot_contacts(standing(), 30.0)
    assert c[:, 0].all()  # the left foot never leaves the ground
    assert not c[25:36, 1].any() and c[:15, 1].all() and c[46:, 1].all()


def test_locked_foot_does_not_slide() -> None:
    f = 60
    rng = np.random.default_rng(1)
    raw = rng.normal(0, 0.02, (f, 3))  # hip jitter the tracker reports
    feet = np.tile([[0.1, 0.08, 0.0], [-0.1, 0.08, 0.0]], (f, 1, 1))  # avatar ankles without root motion
    contacts = np.zeros((f, 2), bool)
    contacts[:, 0] = True
    t = lock_feet(feet, raw, contacts, np.array([0.08, 0.08]))
    left = feet[:, 0] + t
    slide_locked = np.ptp(left[:, [0, 2]], axis=0).max()
    slide_raw = np.ptp((feet[:, 0] + raw)[:, [0, 2]], axis=0).max()
    assert slide_locked < 1e-9 < 0.02 < slide_raw
    # no contact: the raw translation is kept
    t_free = lock_feet(feet, raw, np.zeros((f, 2), bool), np.array([0.08, 0.08]))
    np.testing.assert_allclose(t_free, raw)


def test_root_translation_scales_to_the_avatar_legs() -> None:
    kp = standing()
    kp[:, :, 0] += np.linspace(0, 1, len(kp))[:, None]  # walks 1 m along x
    rest = kp[0] * 1.1  # an avatar 10 % taller (legs 10 % longer)
    t = root_translation(kp, rest)
    pelvis = kp[:, KEYPOINTS.index("pelvis")]
    np.testing.assert_allclose(t, 1.1 * (pelvis - np.median(pelvis, axis=0)), rtol=0.02, atol=1e-3)


def test_level_keypoints_undoes_a_camera_roll() -> None:
    from scipy.spatial.transform import Rotation

    kp = standing()
    roll = Rotation.from_euler("z", 20, degrees=True).as_matrix()
    tilted = kp @ roll.T
    level = level_keypoints(tilted, np.ones(len(kp), bool))
    up = level[:, KEYPOINTS.index("neck")] - (level[:, KEYPOINTS.index("ankle.L")] + level[:, KEYPOINTS.index("ankle.R")]) / 2
    up = np.median(up / np.linalg.norm(up, axis=1, keepdims=True), axis=0)
    assert np.degrees(np.arccos(up[1] / np.linalg.norm(up))) < 0.5
