import math
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from skimage.metrics import structural_similarity

from avatarforge.neural.losses import image_metrics, mask_bce, psnr, ssim

ASTRONAUT = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


def _skimage_ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """scikit-image's SSIM with the same definition: Gaussian window sigma 1.5 (11 taps),
    population covariances, data range 1, mean over the channels and the valid positions."""
    return structural_similarity(a[0].permute(1, 2, 0).numpy(), b[0].permute(1, 2, 0).numpy(), data_range=1.0,
                                 channel_axis=-1, gaussian_weights=True, sigma=1.5, use_sample_covariance=False)


def _tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(img).permute(2, 0, 1)[None]


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_ssim_matches_skimage_on_random_images(dtype):
    g = torch.Generator().manual_seed(3)
    a = torch.rand(1, 3, 40, 48, generator=g, dtype=torch.float64)
    for noise in (0.02, 0.2, 1.0):
        b = (a + noise * (torch.rand(a.shape, generator=g, dtype=torch.float64) - 0.5)).clamp(0, 1)
        ours = ssim(a.to(dtype), b.to(dtype)).item()
        assert ours == pytest.approx(_skimage_ssim(a, b), abs=1e-9 if dtype == torch.float64 else 2e-5)


def test_ssim_matches_skimage_on_a_photo():
    img = np.asarray(Image.open(ASTRONAUT).convert("RGB").resize((128, 128)), np.float64) / 255
    rng = np.random.default_rng(0)
    noisy = np.clip(img + rng.normal(0, 0.05, img.shape), 0, 1)
    blurred = np.asarray(Image.fromarray((img * 255).astype(np.uint8)).resize((32, 32)).resize((128, 128)),
                         np.float64) / 255
    for other in (noisy, blurred):
        ours = ssim(_tensor(img), _tensor(other)).item()
        assert ours == pytest.approx(_skimage_ssim(_tensor(img), _tensor(other)), abs=1e-9)
        assert ours < 0.95


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
