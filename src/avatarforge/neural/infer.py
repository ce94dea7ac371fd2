"""The render-time path of the avatars: one frame in, one uint8 image out, as few passes as possible.

The same maths as :meth:`.model.TexturedAvatar.forward` / :meth:`.model.DirectAvatar.forward`
followed by ``clamp(0, 1)`` and :func:`avatarforge.util.colour.float_to_uint8`, for inference
only (no autograd), one frame at a time:

* :func:`generator_forward`: the U-Net with each instance norm + LeakyReLU fused into one
  numba pass per channel (statistics, scale/shift, activation, in place), the 1x1 convolutions
  as one matrix product, the nearest x2 upsampling added to the skip by broadcasting (never
  materialised);
* :func:`composite_texture`: softmax over the part logits and sigmoid of the UVs (torch), then a
  part's bilinear texture lookup (``grid_sample``: ``align_corners=False``, border padding) only where
  the part's weight exceeds :data:`.model.SPARSE_EPS` -- what the model's inference ``blend``
  does --, compositing over the background and rounding to uint8, in one numba pass per pixel;
* :func:`composite_direct`: the Direct head likewise.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float, UInt8
from torch import Tensor, nn

from avatarforge.neural.model import SPARSE_EPS, DirectAvatar, Generator, TexturedAvatar
from avatarforge.util.jit import njit_cached

__all__ = ["generator_forward", "composite_texture", "composite_direct", "render_image"]


def _norm_lrelu_kernel(x, weight, bias, eps, slope):  # pragma: no cover - jitted
    """In place on (C, N) float32: per channel (x - mean) / sqrt(var + eps) * weight + bias, then LeakyReLU."""
    c, n = x.shape
    for k in range(c):
        s = 0.0
        for i in range(n):
            s += x[k, i]
        mean = s / n
        ss = 0.0
        for i in range(n):
            d = x[k, i] - mean
            ss += d * d
        scale = weight[k] / np.sqrt(ss / n + eps)  # biased variance, as InstanceNorm2d
        shift = bias[k] - mean * scale
        fs, fb = np.float32(scale), np.float32(shift)
        for i in range(n):
            y = x[k, i] * fs + fb
            x[k, i] = y if y >= 0 else y * slope


_norm_lrelu_kernel = njit_cached(_norm_lrelu_kernel, fastmath=True)


def _block(block: nn.Sequential, x: Tensor) -> Tensor:
    """conv -> InstanceNorm2d(affine) -> LeakyReLU (:func:`.model._block`) for one image."""
    conv, norm, act = block[0], block[1], block[2]
    y = F.conv2d(x, conv.weight, conv.bias, conv.stride, conv.padding).contiguous()
    _, c, h, w = y.shape
    _norm_lrelu_kernel(y.view(c, h * w).numpy(), norm.weight.detach().numpy(), norm.bias.detach().numpy(),
                       float(norm.eps), np.float32(act.negative_slope))
    return y


def _conv1x1(conv: nn.Conv2d, x: Tensor) -> Tensor:
    _, c, h, w = x.shape
    out = torch.addmm(conv.bias[:, None], conv.weight.view(conv.out_channels, c), x.reshape(c, h * w))
    return out.view(1, conv.out_channels, h, w)


def _features(gen: Generator, x: Tensor) -> Tensor:
    """The U-Net up to (not including) its 1x1 head: (1, base, H, W)."""
    h, w = x.shape[-2:]
    if h % 2**gen.depth or w % 2**gen.depth:
        raise ValueError(f"image sides must be multiples of {2 ** gen.depth}, got {h}x{w}")
    x = x.float().contiguous()
    skips = [_block(gen.stem, x)]
    for level in gen.down:
        skips.append(_block(level[1], _block(level[0], skips[-1])))
    y = _block(gen.mid[1], _block(gen.mid[0], skips.pop()))
    for level in gen.up:
        skip = skips.pop()
        p = _conv1x1(level.proj, y)  # project, then upsample: 1x1 conv and nearest commute
        b, c, hh, ww = p.shape
        up = skip.view(b, c, hh, 2, ww, 2) + p[:, :, :, None, :, None]  # nearest x2 + skip in one add
        y = _block(level.block, up.view(b, c, 2 * hh, 2 * ww))
    return y


def generator_forward(gen: Generator, x: Float[Tensor, "1 C H W"]) -> Float[Tensor, "1 O H W"]:
    """``gen(x)`` for a single image without autograd (same result up to float rounding)."""
    with torch.inference_mode():
        return _conv1x1(gen.head, _features(gen, x))


def _head_pixel_major(gen: Generator, y: Tensor, rows: slice) -> Tensor:
    """Output channels ``rows`` of ``gen``'s 1x1 head on features ``y`` as a contiguous (H, W, O)
    array: the compositing kernels then read a pixel's channels together (channel planes
    4 H W bytes apart thrash the cache)."""
    _, c, h, w = y.shape
    weight = gen.head.weight.view(gen.head.out_channels, c)[rows]
    out = torch.addmm(gen.head.bias[rows][None], y.view(c, h * w).T, weight.T)
    return out.view(h, w, -1)


def _composite_texture_kernel(weights, uv, texture, bg, eps, img):  # pragma: no cover - jitted
    n, tsize = texture.shape[0], texture.shape[1]
    h, w = weights.shape[0], weights.shape[1]
    for row in range(h):
        for col in range(w):
            wb = weights[row, col, n]
            r, g, b = wb * bg[0], wb * bg[1], wb * bg[2]
            for i in range(n):
                wi = weights[row, col, i]
                if not wi > eps:
                    continue
                u, v = uv[row, col, 2 * i], uv[row, col, 2 * i + 1]
                # grid_sample, align_corners=False, border padding: texel coordinate u*T - 0.5, clipped.
                tx = min(max(u * np.float32(tsize) - np.float32(0.5), np.float32(0)), np.float32(tsize - 1))
                ty = min(max(v * np.float32(tsize) - np.float32(0.5), np.float32(0)), np.float32(tsize - 1))
                x0, y0 = int(tx), int(ty)
                fx, fy = tx - x0, ty - y0
                x1, y1 = min(x0 + 1, tsize - 1), min(y0 + 1, tsize - 1)
                w00, w01 = (1 - fx) * (1 - fy), fx * (1 - fy)
                w10, w11 = (1 - fx) * fy, fx * fy
                r += wi * (w00 * texture[i, y0, x0, 0] + w01 * texture[i, y0, x1, 0]
                           + w10 * texture[i, y1, x0, 0] + w11 * texture[i, y1, x1, 0])
                g += wi * (w00 * texture[i, y0, x0, 1] + w01 * texture[i, y0, x1, 1]
                           + w10 * texture[i, y1, x0, 1] + w11 * texture[i, y1, x1, 1])
                b += wi * (w00 * texture[i, y0, x0, 2] + w01 * texture[i, y0, x1, 2]
                           + w10 * texture[i, y1, x0, 2] + w11 * texture[i, y1, x1, 2])
            img[row, col, 0] = np.uint8(min(max(np.round(r * 255), 0), 255))
            img[row, col, 1] = np.uint8(min(max(np.round(g * 255), 0), 255))
            img[row, col, 2] = np.uint8(min(max(np.round(b * 255), 0), 255))


_composite_texture_kernel = njit_cached(_composite_texture_kernel, fastmath=False)


def _composite_direct_kernel(out, bg, img):  # pragma: no cover - jitted
    h, w = out.shape[0], out.shape[1]
    for row in range(h):
        for col in range(w):
            m = np.float32(1) / (np.float32(1) + np.exp(-out[row, col, 3]))
            for k in range(3):
                fg = np.float32(1) / (np.float32(1) + np.exp(-out[row, col, k]))
                val = m * fg + (np.float32(1) - m) * bg[k]
                img[row, col, k] = np.uint8(min(max(np.round(val * 255), 0), 255))


_composite_direct_kernel = njit_cached(_composite_direct_kernel, fastmath=False)


def composite_texture(
    logits: Float[Tensor, "H W P"], uv_logits: Float[Tensor, "H W N"], texture: Float[Tensor, "n 3 T T"],
    background: Float[Tensor, "3"],
) -> UInt8[np.ndarray, "H W 3"]:
    """The textured avatar's image from its generator output, pixel-major: the ``n + 1`` part
    logits (last = background) and the ``2 n`` UV logits (``(u, v)`` of part ``i`` at ``2 i, 2 i + 1``)
    of :class:`.model.TexturedAvatar`, composited over a background colour."""
    h, w = logits.shape[:2]
    # Softmax and sigmoid vectorised by torch (SIMD exp: cheaper than numba's scalar one, even
    # where a part's UV is then not read).
    weights = torch.softmax(logits.detach().float(), -1).contiguous().numpy()
    uv = torch.sigmoid(uv_logits.detach().float()).contiguous().numpy()
    texels = texture.detach().float().permute(0, 2, 3, 1).contiguous().numpy()  # (n, T, T, 3): a texel's colour together
    img = np.empty((h, w, 3), np.uint8)
    _composite_texture_kernel(weights, uv, texels,
                              background.detach().float().numpy(), np.float32(SPARSE_EPS), img)
    return img


def composite_direct(out: Float[Tensor, "H W 4"], background: Float[Tensor, "3"]) -> UInt8[np.ndarray, "H W 3"]:
    """Direct's image from its generator output, pixel-major (RGB logits, mask logit), over a background colour."""
    h, w = out.shape[:2]
    img = np.empty((h, w, 3), np.uint8)
    _composite_direct_kernel(out.detach().float().contiguous().numpy(), background.detach().float().numpy(), img)
    return img


def render_image(
    model: TexturedAvatar | DirectAvatar, bones: Float[Tensor, "C H W"], background: Float[Tensor, "3"]
) -> UInt8[np.ndarray, "H W 3"]:
    """One bone stack -> the uint8 image: ``float_to_uint8(model(bones[None], background).rgb[0].clamp(0, 1))``
    up to float rounding (a level off at a few pixels)."""
    gen = model.generator
    with torch.inference_mode():
        y = _features(gen, bones[None])
        if isinstance(model, TexturedAvatar):
            n = model.config.n_parts
            return composite_texture(_head_pixel_major(gen, y, slice(0, n + 1)),
                                     _head_pixel_major(gen, y, slice(n + 1, None)), model.texture, background)
        return composite_direct(_head_pixel_major(gen, y, slice(None)), background)
