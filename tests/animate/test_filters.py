"""One-euro filter and hold-and-ease over tracking gaps."""

from __future__ import annotations

import numpy as np

from avatarforge.animate.filters import hold_and_ease, one_euro


def test_one_euro_keeps_constants_and_lines_exactly() -> None:
    const = np.full((50, 3), 2.5)
    np.testing.assert_allclose(one_euro(const, 30.0), const, atol=1e-12)


def test_one_euro_removes_jitter_but_follows_a_slow_motion() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(300) / 30.0
    clean = np.sin(2 * np.pi * 0.3 * t)
    noisy = clean + rng.normal(0, 0.05, len(t))
    out = one_euro(noisy, 30.0)
    err_in, err_out = np.std(noisy - clean), np.std(out[10:-10] - clean[10:-10])
    assert err_out < 0.5 * err_in, (err_in, err_out)
    # zero phase: the filtered peak is where the true one is (forward-backward pass)
    assert abs(np.argmax(out[:120]) - np.argmax(clean[:120])) <= 2


def test_hold_then_ease_then_ease_back_in() -> None:
    fps = 10.0  # hold 0.5 s = 5 frames, ease 0.5 s = 5 frames
    valid = np.array([True] * 3 + [False] * 15 + [True] * 8)
    he = hold_and_ease(valid, fps, hold_s=0.5, ease_s=0.5)
    assert list(he.source[:3]) == [0, 1, 2]
    assert (he.source[3:18] == 2).all()  # the last pose is held through the gap
    np.testing.assert_allclose(he.weight[:8], 1.0)  # 3 valid + 5 held
    ease = he.weight[8:13]
    t = np.arange(1, 6) / 5.0
    np.testing.assert_allclose(ease, 1 - t * t * (3 - 2 * t))  # smoothstep down to 0
    np.testing.assert_allclose(he.weight[12:18], 0.0)
    # tracking returns: the weight climbs back by 1/5 per frame
    np.testing.assert_allclose(he.weight[18:24], [0.2, 0.4, 0.6, 0.8, 1.0, 1.0])
    assert list(he.source[18:]) == list(range(18, 26))


def test_frames_before_the_first_detection_are_neutral() -> None:
    he = hold_and_ease(np.array([False, False, True, True, True]), 4.0, hold_s=0.5, ease_s=0.5)
    assert list(he.source) == [-1, -1, 2, 3, 4]
    np.testing.assert_allclose(he.weight, [0.0, 0.0, 0.5, 1.0, 1.0])
