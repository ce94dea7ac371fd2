import math

import torch
import torch.nn.functional as F

from avatarforge.neural.losses import image_metrics, mask_bce, psnr, ssim


def test_ssim_psnr_l1_values():
    torch.manual_seed(0)
    a = torch.rand(2, 3, 24, 24)
    assert torch.allclose(ssim(a, a), torch.ones(2))
    b = (a + 0.1).clamp(0, 1)
    assert (ssim(a, b) < 1).all()
    c = torch.full((1, 3, 8, 8), 0.5)
    assert psnr(c, c + 0.1).item() == pytest_approx(20.0)  # MSE 0.01 -> 20 dB
    m = image_metrics(c + 0.1, c)
    assert m["l1"].item() == pytest_approx(0.1) and m["psnr"].item() == pytest_approx(20.0)


def pytest_approx(x):
    import pytest

    return pytest.approx(x, rel=1e-4)


def test_mask_bce_matches_torch():
    torch.manual_seed(1)
    logit = torch.randn(2, 1, 5, 5)
    target = (torch.rand(2, 1, 5, 5) > 0.5).float()
    ours = mask_bce(F.logsigmoid(logit), F.logsigmoid(-logit), target)
    ref = F.binary_cross_entropy_with_logits(logit, target)
    assert math.isclose(ours.item(), ref.item(), rel_tol=1e-5)
