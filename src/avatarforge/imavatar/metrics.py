"""The measures of IMavatar's comparison: L1, PSNR, SSIM of renders against ground truth, and the
expression error (landmark distance after tracking both images), plus the explicit head's
texture taken from the training frames."""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, UInt8

__all__ = ["image_metrics", "landmark_error", "tracked_landmark_error", "colours_from_frames"]


def image_metrics(pred: UInt8[np.ndarray, "H W 3"], gt: UInt8[np.ndarray, "H W 3"]) -> dict[str, float]:
    """L1 (mean absolute difference, colours in [0, 1]), PSNR (dB) and SSIM over the whole image."""
    from skimage.metrics import structural_similarity

    a, b = pred.astype(np.float64) / 255, gt.astype(np.float64) / 255
    mse = float(((a - b) ** 2).mean())
    return {"l1": float(np.abs(a - b).mean()), "psnr": float(10 * np.log10(1.0 / max(mse, 1e-10))),
            "ssim": float(structural_similarity(a, b, channel_axis=2, data_range=1.0))}


def _landmarks(rgb: np.ndarray, upscale: int) -> np.ndarray | None:
    import cv2

    from avatarforge.errors import UserInputError
    from avatarforge.perception.face import face_landmarks

    big = cv2.resize(rgb, (rgb.shape[1] * upscale, rgb.shape[0] * upscale), interpolation=cv2.INTER_CUBIC)
    try:
        lm = face_landmarks(big)
    except UserInputError:
        return None
    return None if lm is None else np.asarray(lm.points)[:, :2] / upscale


def landmark_error(pred: UInt8[np.ndarray, "H W 3"], gt: UInt8[np.ndarray, "H W 3"], upscale: int = 4) -> float | None:
    """Mean distance (pixels of the input size) between the 478 face landmarks tracked on ``pred``
    and on ``gt`` (both upscaled for the detector); None when either has no detected face."""
    a, b = _landmarks(pred, upscale), _landmarks(gt, upscale)
    if a is None or b is None:
        return None
    return float(np.linalg.norm(a - b, axis=1).mean())


def tracked_landmark_error(pred: UInt8[np.ndarray, "H W 3"], gt: UInt8[np.ndarray, "H W 3"],
                           upscale: int = 4) -> tuple[float | None, str]:
    """Like :func:`landmark_error`, but a render in which the face detector finds no face is then
    tracked as the next video frame after the ground truth (the landmark model once on the region
    of the ground truth's landmarks, :func:`avatarforge.perception.face.track_face_landmarks`, with
    its face-presence gate). Returns (error or None, how the render's face was found: 'detected',
    'tracked', or 'lost'; 'no_gt' when the ground truth itself has no detected face)."""
    import cv2

    from avatarforge.perception.face import track_face_landmarks

    b = _landmarks(gt, upscale)
    if b is None:
        return None, "no_gt"
    a = _landmarks(pred, upscale)
    how = "detected"
    if a is None:
        big = cv2.resize(pred, (pred.shape[1] * upscale, pred.shape[0] * upscale), interpolation=cv2.INTER_CUBIC)
        prev = np.column_stack([b * upscale, np.zeros(len(b))])
        pts = track_face_landmarks(big, prev)
        if pts is None:
            return None, "lost"
        a, how = np.asarray(pts)[:, :2] / upscale, "tracked"
    return float(np.linalg.norm(a - b, axis=1).mean()), how


def colours_from_frames(rig, camera, rgb: UInt8[np.ndarray, "N H W 3"], expression: Float[np.ndarray, "N 52"],
                        transforms: Float[np.ndarray, "N 5 4 4"]) -> Float[np.ndarray, "V 3"]:
    """Per-vertex colours of the explicit head averaged over the frames where each vertex is seen
    (its depth matches the rendered depth at its pixel); unseen vertices get the mean colour."""
    import torch

    from avatarforge.imavatar.rig import deform_vertices
    from avatarforge.render import render_mesh

    acc, cnt = np.zeros((len(rig.vertices), 3)), np.zeros(len(rig.vertices))
    blend = torch.as_tensor(rig.blendshapes).permute(1, 0, 2)
    for i in range(len(rgb)):
        x = deform_vertices(torch.as_tensor(rig.vertices), blend, torch.as_tensor(rig.weights),
                            torch.as_tensor(expression[i]), torch.as_tensor(transforms[i])).numpy()
        res = render_mesh(x, rig.faces, camera)
        px = np.floor(res.screen[:, :2]).astype(int)
        h, w = res.raster.depth.shape
        ok = (px[:, 0] >= 0) & (px[:, 0] < w) & (px[:, 1] >= 0) & (px[:, 1] < h)
        pxc = np.clip(px, 0, [w - 1, h - 1])
        seen = ok & res.raster.mask[pxc[:, 1], pxc[:, 0]] & (np.abs(res.raster.depth[pxc[:, 1], pxc[:, 0]] - res.screen[:, 2]) < 0.004)
        acc[seen] += rgb[i][pxc[seen, 1], pxc[seen, 0]] / 255.0
        cnt[seen] += 1
    mean = acc.sum(0) / max(cnt.sum(), 1)
    return np.where(cnt[:, None] > 0, acc / np.maximum(cnt, 1)[:, None], mean)
