"""The body under loose clothing: the silhouette's coverage term only where skin shows.

On a synthetic render whose clothes stand 5 cm off the body (``render_body_sample(...,
thickness=0.05)``), the fit that covers the whole clothed outline makes the body as fat as the
model allows; covering only the skin (the body-only parsing's TIGHT_LABELS) recovers the true
weight."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avatarforge.fitting.body_fit_silhouette import TIGHT_REACH, silhouette_target, silhouette_terms


def test_boundary_weights_follow_the_tight_mask():
    mask = np.zeros((100, 80), np.float32)
    mask[20:80, 20:60] = 1.0
    tight = np.zeros((100, 80), bool)
    tight[20:80, 20:40] = True  # the left half is skin
    full = silhouette_target(mask)
    t = silhouette_target(mask, tight=tight)
    assert full.boundary_weight is None and torch.equal(t.boundary, full.boundary)
    w = t.boundary_weight.numpy()
    x = t.boundary[:, 0].numpy()
    reach = TIGHT_REACH * 100 + 1.5
    assert set(np.unique(w)) == {0.0, 1.0}
    assert (w[x < 40 - reach] == 1).all() and (w[x > 40 + reach] == 0).all()
    # The terms themselves are unchanged (the weights apply in the loss).
    uv = torch.tensor([[30.0, 50.0], [70.0, 50.0]])
    a, b = silhouette_terms(uv, full), silhouette_terms(uv, t)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.wrong_types  # a mask of the wrong size: the function's own check is tested
def test_tight_mask_of_the_wrong_size():
    mask = np.ones((100, 80), np.float32)
    with pytest.raises(ValueError, match="shape"):
        silhouette_target(mask, tight=np.ones((50, 80), bool))


def test_loose_clothing_no_longer_makes_the_body_fat(body):
    from avatarforge.dev.body_synthetic import random_body_sample, render_body_sample
    from avatarforge.errors import UserInputError
    from avatarforge.fitting.body_fit import fit_body
    from avatarforge.perception.body_parsing import TIGHT_LABELS, parse_body_photo
    from avatarforge.perception.pose import detect_pose

    rng = np.random.default_rng(3000)  # benchmarks/bench_fullbody.py's first synthetic sample
    values = random_body_sample(body, rng, yaw_deg=25.0)
    sample = render_body_sample(body, values, rng, thickness=0.05)
    pose = detect_pose(sample.rgb)
    size = (sample.rgb.shape[1], sample.rgb.shape[0])
    tight = parse_body_photo(sample.rgb, pose).mask(*TIGHT_LABELS)
    assert 0.03 < tight.mean() / (pose.mask > 0.5).mean() < 0.3  # face, neck, forearms, hands, feet
    before = fit_body(pose, size, body)
    now = fit_body(pose, size, body, tight=tight)
    truth = values["weight"]
    assert before.values["weight"] > truth + 0.3  # the clothed outline inflates the body
    assert abs(now.values["weight"] - truth) < 0.15
    import jaxtyping

    jaxtyping.config.update("jaxtyping_disable", True)  # the function's own check, not the annotation's
    try:
        with pytest.raises(UserInputError, match="tight"):
            fit_body(pose, size, body, tight=tight[:10])
    finally:
        jaxtyping.config.update("jaxtyping_disable", False)
