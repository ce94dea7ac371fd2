"""Body-part label of every triangle, read from Anny's UV segmentation image.

Anny ships ``data/segmentation/body_parts_segmentation.png`` (a UV-space painting, one flat
colour per part) and its ``.yaml`` legend. Each triangle takes the label painted under its
UV centroid (nearest legend colour; unlabelled colours count as ``body``). Cached per layout.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import numpy as np
from jaxtyping import Float, Int

from avatarforge.errors import AvatarforgeError

__all__ = ["PART_NAMES", "face_parts", "part_ids", "segmentation_paths"]

#: Part names of Anny's segmentation legend, in the order of the returned label ids.
PART_NAMES = ("body", "head", "hand.R", "hand.L", "eye_back.L", "eye_front.L", "eye_back.R", "eye_front.R",
              "eye_cavity.R", "eye_cavity.L", "mouth_cavity", "foot.L", "foot.R", "tongue")


def part_ids(*names: str) -> list[int]:
    """Label ids of the named parts; a trailing ``*`` matches a prefix (``"eye_front*"``)."""
    out = []
    for name in names:
        hits = [i for i, p in enumerate(PART_NAMES) if (p.startswith(name[:-1]) if name.endswith("*") else p == name)]
        if not hits:
            raise KeyError(f"unknown body part {name!r}; known: {', '.join(PART_NAMES)}")
        out += hits
    return out


def segmentation_paths() -> tuple[Path, Path]:
    """(png, yaml) of the installed anny package."""
    root = Path(str(resources.files("anny"))) / "data" / "segmentation"
    png, yml = root / "body_parts_segmentation.png", root / "body_parts_segmentation.yaml"
    for p in (png, yml):
        if not p.is_file():
            raise AvatarforgeError(f"{p} is missing: reinstall anny (it ships the UV part segmentation)")
    return png, yml


@functools.lru_cache(maxsize=1)
def _legend() -> tuple[np.ndarray, np.ndarray]:
    import yaml
    from PIL import Image

    png, yml = segmentation_paths()
    colours = yaml.safe_load(yml.read_text())["colors"]
    palette = np.array([colours[name] for name in PART_NAMES], dtype=np.float32)
    image = np.asarray(Image.open(png).convert("RGB"), dtype=np.float32)
    return image, palette


def face_parts(uvs: Float[np.ndarray, "T 2"], uv_faces: Int[np.ndarray, "F 3"]) -> Int[np.ndarray, " F"]:
    """int8 label (index into :data:`PART_NAMES`) of each triangle."""
    image, palette = _legend()
    h, w = image.shape[:2]
    centroid = np.asarray(uvs, dtype=np.float64)[np.asarray(uv_faces)].mean(1)
    col = np.clip((centroid[:, 0] * w).astype(int), 0, w - 1)
    row = np.clip(((1.0 - centroid[:, 1]) * h).astype(int), 0, h - 1)
    rgb = image[row, col]
    dist = np.linalg.norm(rgb[:, None] - palette[None], axis=-1)  # (F, parts)
    label = dist.argmin(1)
    label[dist.min(1) > 30.0] = 0  # anti-aliased edge colours: plain body
    return label.astype(np.int8)
