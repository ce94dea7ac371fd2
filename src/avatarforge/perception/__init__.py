"""Perception: read photos and find faces in them.

* :mod:`.image_io` -- :func:`load_image` (any JPEG/PNG/WebP/BMP/TIFF -> upright 8-bit RGB,
  with clear errors for bad files) and :func:`detection_view` for detectors;
* :mod:`.face` -- :func:`detect_faces`, :func:`find_faces` (every face with its landmarks,
  largest first) and the 478-point :func:`face_landmarks` (mediapipe's bundled models, no
  download) (their ``faces.json`` / ``faces.png`` are written by :func:`avatarforge.outputs.write_faces`);
* :mod:`.landmark_groups` -- index lists of the mesh's eyes, irises, brows, lips, oval, nose;
* :mod:`.iris` -- the eye alignment network (iris centres in eye crops);
* :mod:`.segmentation` -- :func:`person_mask` (person/background matting);
* :mod:`.face_metrics` -- :func:`eye_openness`, :func:`mouth_openness`,
  :func:`head_pose_angles`.

Pixel coordinates are continuous, x right, y down, pixel centres at integer + 0.5 (as in
:mod:`avatarforge.render`). "Left" and "right" are always the SUBJECT's: their left eye is
on the image's right in an unmirrored photo.

The face names are imported on first use: importing mediapipe takes ~0.6 s, which commands
that only read images should not pay.
"""

from __future__ import annotations

import importlib

from avatarforge.perception.image_io import (
    DEFAULT_MAX_PIXELS,
    SUPPORTED_FORMATS,
    LoadedImage,
    detection_view,
    load_image,
    original_to_view,
    view_to_original,
)

_LAZY = {
    "FaceBox": "face",
    "FaceLandmarks": "face",
    "detect_faces": "face",
    "face_landmarks": "face",
    "find_faces": "face",
    "FoundFace": "face",
    "EyeOpenness": "face_metrics",
    "HeadPose": "face_metrics",
    "eye_openness": "face_metrics",
    "mouth_openness": "face_metrics",
    "head_pose_angles": "face_metrics",
    "loaded_models": "_mediapipe",
    "native_stderr_captured": "_mediapipe",
}

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "LoadedImage",
    "load_image",
    "detection_view",
    "view_to_original",
    "original_to_view",
    *_LAZY,
    "landmark_groups",
    "load_mediapipe",
]


def load_mediapipe() -> None:
    """Import mediapipe now (~0.6-2 s; e.g. in parallel with other start-up work); every
    mediapipe model is reached through this package (its private ``_mediapipe`` module)."""
    importlib.import_module("avatarforge.perception._mediapipe")  # imports mediapipe (after its log defaults)


def __getattr__(name: str):
    if name == "landmark_groups":
        return importlib.import_module("avatarforge.perception.landmark_groups")
    if name in _LAZY:
        return getattr(importlib.import_module(f"avatarforge.perception.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'avatarforge.perception' has no attribute {name!r}")
