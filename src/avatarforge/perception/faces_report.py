"""What :func:`.face.find_faces` found, as data (``faces.json``) and as a picture (``faces.png``)."""

from __future__ import annotations

import cv2
import numpy as np
from jaxtyping import UInt8

from avatarforge.perception.face import FoundFace

__all__ = ["faces_json", "faces_image", "faces_table"]

_COLOURS = ((0, 200, 0), (255, 140, 0), (0, 160, 255), (220, 0, 220), (230, 40, 40), (0, 200, 200))


def faces_json(faces: list[FoundFace], image_size: tuple[int, int]) -> dict:
    """``{"image_size": [w, h], "faces": [{"index", "box": [x0, y0, x1, y1], "score", "yaw_deg"}]}``;
    boxes in original-image pixels (x right, y down), in the ``--face-index`` order."""
    return {
        "image_size": [int(image_size[0]), int(image_size[1])],
        "order": "largest face first (3D size of its landmark mesh; ties: leftmost, then topmost); index = --face-index",
        "faces": [
            {
                "index": f.index,
                "box": [round(float(v), 1) for v in (f.box.x0, f.box.y0, f.box.x1, f.box.y1)],
                "score": round(float(f.box.score), 3),
                "yaw_deg": round(float(f.yaw_deg), 1),
            }
            for f in faces
        ],
    }


def faces_table(faces: list[FoundFace]) -> list[str]:
    """One line per face for the terminal: index, box, width, yaw."""
    lines = [f"{'index':>5}  {'box x0,y0,x1,y1':<24} {'width':>6}  {'yaw':>5}"]
    for f in faces:
        box = ",".join(f"{v:.0f}" for v in (f.box.x0, f.box.y0, f.box.x1, f.box.y1))
        lines.append(f"{f.index:>5}  {box:<24} {f.size_px:>4.0f}px  {f.yaw_deg:>+4.0f}°")
    return lines


def faces_image(rgb: UInt8[np.ndarray, "H W 3"], faces: list[FoundFace], max_side: int = 1600) -> UInt8[np.ndarray, "h w 3"]:
    """The photo (shrunk to ``max_side``) with each face's box and index drawn on it."""
    h, w = rgb.shape[:2]
    s = min(1.0, max_side / max(h, w))
    img = cv2.resize(rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else rgb.copy()
    thick = max(2, round(max(img.shape[:2]) / 500))
    for f in faces:
        colour = _COLOURS[f.index % len(_COLOURS)]
        p0 = (round(f.box.x0 * s), round(f.box.y0 * s))
        p1 = (round(f.box.x1 * s), round(f.box.y1 * s))
        cv2.rectangle(img, p0, p1, colour, thick, cv2.LINE_AA)
        label = str(f.index)
        scale = max(0.6, (p1[0] - p0[0]) / 90)
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
        y_top = p0[1] - th - base - 2 * thick
        y_top = y_top if y_top >= 0 else p1[1]  # no room above: label below the box
        cv2.rectangle(img, (p0[0], y_top), (p0[0] + tw + 2 * thick, y_top + th + base + 2 * thick), colour, -1)
        cv2.putText(img, label, (p0[0] + thick, y_top + th + thick), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), thick, cv2.LINE_AA)
    return img
