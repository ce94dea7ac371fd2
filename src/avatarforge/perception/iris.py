"""Eye alignment network (the thesis's texture step): where is the iris centre in an eye crop?

A small CNN (four conv blocks, 16-64 channels, then a fully connected MLP) regresses the
iris centre ``(x, y)`` in pixels of a 40 x 40 RGB eye crop. Crops are similarity warps
defined by the two eye corners (:func:`crop_eye`), so a prediction maps back to image pixels
through the crop's :class:`EyeCrop` transform.

Pixel convention (as :mod:`avatarforge.perception.face` and :mod:`avatarforge.render`):
continuous coordinates, x right, y down, pixel ``(row i, col j)`` covers
``[j, j + 1) x [i, i + 1)`` so its centre is ``(j + 0.5, i + 0.5)``. This holds both in the
image and in the crop.

Corner order: ``corners[0]`` lands on the crop's left, ``corners[1]`` on its right. For an
upright face seen from the front, pass them in image left-to-right order: subject's right eye
(mediapipe 33 outer, 133 inner) and subject's left eye (362 inner, 263 outer); the crop is
then never mirrored, and is rotated so that the corner line is horizontal.

The bundled weights (``avatarforge/data/eye_net.pt``, a plain state dict) are trained by
``python -m avatarforge.dev.iris_train`` on renders of the embedded body model's eyes
with known iris positions plus detector-labelled crops of public photos (:mod:`avatarforge.dev.iris_data`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import torch
from jaxtyping import Float, UInt8
from torch import Tensor, nn

from avatarforge.errors import UserInputError
from avatarforge.perception import landmark_groups as lg

__all__ = [
    "CROP_SIZE", "CORNER_SPAN", "CHECKPOINT", "RIGHT_EYE", "LEFT_EYE",
    "EyeNet", "EyeCrop", "IrisCentres", "crop_eye", "predict_iris", "load_eye_net", "iris_centres",
    "eye_similarity", "warp", "to_tensor", "MAX_IRIS_SHIFT", "IrisRefinement", "refine_iris_points",
]

CROP_SIZE = 40
"""Side in pixels of the network's input crop (the thesis's 40 x 40)."""
CORNER_SPAN = 0.6
"""Distance between the two eye corners in a crop, as a fraction of the crop's side."""
CHECKPOINT = "eye_net.pt"
"""File name of the bundled state dict in ``avatarforge.data``."""
RIGHT_EYE = (lg.RIGHT_EYE_OUTER, lg.RIGHT_EYE_INNER)
"""Mediapipe corners of the subject's right eye (outer, inner): image left-to-right."""
LEFT_EYE = (lg.LEFT_EYE_INNER, lg.LEFT_EYE_OUTER)
"""Mediapipe corners of the subject's left eye (inner, outer): image left-to-right."""


class EyeNet(nn.Module):
    """Eye crop (N, 3, 40, 40) in [0, 1] -> iris centre (N, 2) in crop pixels.

    Four conv blocks (3x3 conv + batch norm + ReLU; 16, 32, 64, 64 channels), the first three
    followed by 2x2 max pooling (40 -> 20 -> 10 -> 5), a 1x1 conv down to 16 channels, then
    an MLP 400 -> 64 -> 2. The last layer predicts the offset from the crop centre in
    half-crop units; ``forward`` scales it to pixels, so an MSE on its output is in pixels
    squared. ~87k parameters, ~5 M multiply-adds per crop (a batch of 64 trains in ~0.1 s on
    one CPU core).
    """

    def __init__(self, size: int = CROP_SIZE, channels: tuple[int, ...] = (16, 32, 64, 64), hidden: int = 64):
        super().__init__()
        pools = len(channels) - 1
        if size % (2**pools):
            raise UserInputError(f"EyeNet: crop size {size} must be divisible by {2**pools}")
        self.size = size
        layers: list[nn.Module] = []
        c_in = 3
        for i, c in enumerate(channels):
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)]
            if i < pools:
                layers.append(nn.MaxPool2d(2))
            c_in = c
        layers += [nn.Conv2d(c_in, 16, 1), nn.ReLU(inplace=True)]
        self.features = nn.Sequential(*layers)
        side = size // 2**pools
        self.mlp = nn.Sequential(nn.Flatten(), nn.Linear(16 * side * side, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 2))

    def forward(self, crops: Float[Tensor, "N 3 S S"]) -> Float[Tensor, "N 2"]:
        """Crops (RGB in [0, 1]) -> iris centres ``(x, y)`` in continuous crop pixels."""
        if crops.ndim != 4 or crops.shape[1] != 3 or crops.shape[2:] != (self.size, self.size):
            raise UserInputError(f"EyeNet expects (N, 3, {self.size}, {self.size}) crops, got {tuple(crops.shape)}")
        half = self.size / 2
        return half + half * self.mlp(self.features(crops - 0.5))


@dataclass(frozen=True)
class EyeCrop:
    """An eye crop and the similarity that made it (``crop = A @ [x, y, 1]`` for image points)."""

    image: UInt8[np.ndarray, "S S 3"]
    """The crop, RGB uint8."""
    A: Float[np.ndarray, "2 3"]
    """Image -> crop similarity in continuous pixel coordinates."""

    @property
    def scale(self) -> float:
        """Crop pixels per image pixel."""
        return float(math.hypot(self.A[0, 0], self.A[1, 0]))

    def to_crop(self, points: Float[np.ndarray, "*N 2"]) -> Float[np.ndarray, "*N 2"]:
        """Image pixels -> crop pixels."""
        p = np.asarray(points, dtype=np.float64)
        return p @ self.A[:, :2].T + self.A[:, 2]

    def to_image(self, points: Float[np.ndarray, "*N 2"]) -> Float[np.ndarray, "*N 2"]:
        """Crop pixels -> image pixels (the inverse of :meth:`to_crop`)."""
        p = np.asarray(points, dtype=np.float64)
        L = self.A[:, :2]
        return np.linalg.solve(L, (p - self.A[:, 2]).reshape(-1, 2).T).T.reshape(p.shape)


def eye_similarity(corners: Float[np.ndarray, "2 2"], size: int = CROP_SIZE, span: float = CORNER_SPAN) -> np.ndarray:
    """The (2, 3) image -> crop similarity putting ``corners[0]`` left and ``corners[1]`` right.

    The corners' midpoint goes to the crop centre, the corner line to the horizontal, and the
    corner distance to ``span * size`` crop pixels.
    """
    c = np.asarray(corners, dtype=np.float64).reshape(2, 2)
    d = c[1] - c[0]
    dist = float(np.hypot(*d))
    if not np.isfinite(dist) or dist < 1e-6:
        raise UserInputError(f"crop_eye: the two eye corners coincide or are not finite ({c.tolist()}); check the landmarks")
    s = span * size / dist
    cos, sin = d / dist
    # Rotate by -angle (corner line -> +x), scale by s, then move the midpoint to the centre.
    L = s * np.array([[cos, sin], [-sin, cos]])
    t = np.array([size / 2, size / 2]) - L @ c.mean(0)
    return np.column_stack([L, t])


def warp(rgb: UInt8[np.ndarray, "H W 3"], A: Float[np.ndarray, "2 3"], size: int) -> UInt8[np.ndarray, "S S 3"]:
    """Warp ``rgb`` by the continuous-pixel similarity ``A`` into a ``size`` x ``size`` image.

    Shrinking is anti-aliased: the crop is sampled at k x its resolution (k = the shrink
    factor rounded up, at most 4) and area-averaged down. Borders replicate the edge pixels.
    """
    s = float(math.hypot(A[0, 0], A[1, 0]))
    k = int(min(4, max(1, math.ceil(1.0 / s - 1e-6))))
    Ak = k * np.asarray(A, dtype=np.float64)
    # Continuous (centre at +0.5) -> OpenCV index coordinates (centre at +0): q - 0.5 = L (p - 0.5) + L 0.5 + t - 0.5.
    M = Ak.copy()
    M[:, 2] = Ak[:, 2] + 0.5 * Ak[:, :2].sum(1) - 0.5
    out = cv2.warpAffine(np.ascontiguousarray(rgb), M, (size * k, size * k), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    if k > 1:
        out = cv2.resize(out, (size, size), interpolation=cv2.INTER_AREA)
    return out


def crop_eye(
    rgb: UInt8[np.ndarray, "H W 3"], corners: Float[np.ndarray, "2 2"], size: int = CROP_SIZE, span: float = CORNER_SPAN
) -> EyeCrop:
    """A ``size`` x ``size`` similarity crop of one eye from its two corners (image pixels).

    ``corners[0]`` goes to the crop's left, ``corners[1]`` to its right (see the module doc for
    which mediapipe points to pass); their distance becomes ``span * size`` pixels. Returns the
    crop and its transform (:meth:`EyeCrop.to_image` maps predictions back to the image).
    """
    img = np.asarray(rgb)
    if img.ndim != 3 or img.shape[2] < 3:
        raise UserInputError(f"crop_eye expects an (H, W, 3) RGB image, got shape {img.shape}")
    if img.dtype != np.uint8:
        raise UserInputError(f"crop_eye expects a uint8 image, got {img.dtype}")
    A = eye_similarity(corners, size, span)
    return EyeCrop(image=warp(img[..., :3], A, size), A=A)


def to_tensor(crops: UInt8[np.ndarray, "N S S 3"] | list[np.ndarray]) -> Float[Tensor, "N 3 S S"]:
    """uint8 RGB crops -> float tensor in [0, 1], channels first."""
    a = np.ascontiguousarray(np.stack(list(crops)) if isinstance(crops, list) else crops)
    return torch.from_numpy(a).permute(0, 3, 1, 2).float().div_(255.0)


@torch.no_grad()
def predict_iris(net: EyeNet, crops: UInt8[np.ndarray, "N S S 3"] | Float[Tensor, "N 3 S S"] | list) -> Float[np.ndarray, "N 2"]:
    """Iris centres ``(x, y)`` in crop pixels for uint8 (N, S, S, 3) crops or a [0, 1] tensor."""
    x = crops if isinstance(crops, Tensor) else to_tensor(crops)
    was_training = net.training
    net.eval()
    try:
        return net(x.float()).double().numpy()
    finally:
        net.train(was_training)


def load_eye_net(path: str | Path | None = None) -> EyeNet:
    """An :class:`EyeNet` in eval mode with the bundled weights, or those of ``path``.

    The file is a plain state dict, loaded with ``torch.load(weights_only=True)``.
    """
    try:
        if path is None:
            with resources.files("avatarforge.data").joinpath(CHECKPOINT).open("rb") as f:
                state = torch.load(f, map_location="cpu", weights_only=True)
        else:
            state = torch.load(Path(path), map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        where = path or f"avatarforge/data/{CHECKPOINT}"
        raise UserInputError(
            f"eye network weights not found at {where}: train them with "
            "`python -m avatarforge.dev.iris_train --out PATH`") from exc
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a training checkpoint (iris_train's resumable file)
    net = EyeNet()
    net.load_state_dict(state)
    return net.eval()


@dataclass(frozen=True)
class IrisCentres:
    """Both iris centres of one face, in image pixels."""

    right: Float[np.ndarray, "2"]
    """Subject's right eye (image left in a frontal photo)."""
    left: Float[np.ndarray, "2"]
    """Subject's left eye."""
    crops: tuple[EyeCrop, EyeCrop]
    """The (right, left) crops the network saw."""


def iris_centres(rgb: UInt8[np.ndarray, "H W 3"], face_points: Float[np.ndarray, "478 3"], net: EyeNet | None = None) -> IrisCentres:
    """Both iris centres (image pixels) from the eye corners of 478 mediapipe face points.

    ``face_points`` are :attr:`FaceLandmarks.points` (x, y in image pixels); only the corners
    (33/133 right, 362/263 left) are used. ``net`` defaults to :func:`load_eye_net`.
    """
    pts = np.asarray(face_points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] != 478 or pts.shape[1] < 2:
        raise UserInputError(f"iris_centres expects (478, 3) mediapipe face points, got shape {pts.shape}")
    net = load_eye_net() if net is None else net
    crops = tuple(crop_eye(rgb, pts[list(ids), :2]) for ids in (RIGHT_EYE, LEFT_EYE))
    pred = predict_iris(net, [c.image for c in crops])
    right, left = (c.to_image(p) for c, p in zip(crops, pred))
    return IrisCentres(right=right, left=left, crops=crops)


#: Largest shift (as a share of the eye's corner distance) from the detector's iris centre that
#: the network may make; beyond it the crop is probably bad (closed eye, glasses glare, blur).
MAX_IRIS_SHIFT = 0.2


@dataclass(frozen=True)
class IrisRefinement:
    """Face points with the iris centres set by the eye network (:func:`refine_iris_points`)."""

    points: Float[np.ndarray, "478 3"]
    """The input points, each iris (centre + 4 ring points) moved by its network shift."""
    network: Float[np.ndarray, "2 2"]
    """Network iris centres (subject's right, left), image pixels."""
    detector: Float[np.ndarray, "2 2"]
    """The detector's own iris centres (468, 473)."""
    used: tuple[bool, bool]
    """Whether each eye took the network's centre (False: shift too large, detector kept)."""
    warnings: list[str]


def refine_iris_points(rgb: UInt8[np.ndarray, "H W 3"], face_points: Float[np.ndarray, "478 3"],
                       net: EyeNet | None = None, max_shift: float = MAX_IRIS_SHIFT) -> IrisRefinement:
    """Replace the detector's iris positions by the eye network's (the thesis's eye alignment).

    Each iris ring (centre 468/473 and its 4 ring points) is translated so that its centre
    sits on the network's prediction; the face fit then turns the eyes (``pose.eye.*``) to look
    there and the texture paints the eyeballs around that gaze. An eye whose predicted centre is
    more than ``max_shift`` eye widths from the detector's keeps the detector's and warns.
    """
    pts = np.array(face_points, dtype=np.float64, copy=True)
    found = iris_centres(rgb, pts, net)
    network = np.stack([found.right, found.left])
    detector = pts[[lg.RIGHT_IRIS_CENTER, lg.LEFT_IRIS_CENTER], :2].copy()
    used, warnings = [], []
    for k, (ring, corners, name) in enumerate(((lg.IRIS_RIGHT, RIGHT_EYE, "right"), (lg.IRIS_LEFT, LEFT_EYE, "left"))):
        width = float(np.linalg.norm(pts[corners[0], :2] - pts[corners[1], :2]))
        shift = network[k] - detector[k]
        ok = bool(np.all(np.isfinite(shift)) and np.linalg.norm(shift) <= max_shift * width)
        if ok:
            pts[list(ring), :2] += shift
        else:
            warnings.append(f"{name} eye: the eye network disagrees with the detector by "
                            f"{np.linalg.norm(shift) / max(width, 1e-6):.2f} eye widths; kept the detector's iris")
        used.append(ok)
    return IrisRefinement(pts, network, detector, (used[0], used[1]), warnings)
