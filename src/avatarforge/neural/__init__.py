"""Textured neural avatars (Shysheya et al., CVPR 2019) and their Direct baseline, on a CPU.

Pipeline: 3D keypoints + camera -> bone stack (:mod:`.bones`) -> fully convolutional generator
(:mod:`.model`) -> soft body parts and per-part UVs -> learned texture stack -> image over a
background. Data from the body model (:mod:`.data_synthetic`, with ground-truth part/UV maps
for the generator's initialisation), from a video of one person (:mod:`.data_video`; tracking in
:mod:`.tracking`) or from
synchronised calibrated videos (:mod:`.data_multiview`, :mod:`.calibration`);
training in :mod:`.train`; motions and MOTION.json in :mod:`.motion`; rendering in :mod:`.render`.

Python use::

    from avatarforge.neural import SyntheticConfig, make_synthetic, TrainConfig, train, load_avatar
    from avatarforge.neural import load_motion, parse_camera, render_video

    data = make_synthetic(SyntheticConfig(size=128))
    train(data, "out/avatar", TrainConfig(kind="texture"))
    render_video(load_avatar("out/avatar"), load_motion("walk"), "out/walk.mp4", parse_camera("30,10"))
"""

from avatarforge.neural.calibration import CameraCalib, load_calibration, triangulate
from avatarforge.neural.data_multiview import MultiViewConfig, dataset_from_multiview, track_multiview
from avatarforge.neural.data_synthetic import SyntheticConfig, make_synthetic
from avatarforge.neural.data_video import VideoConfig, dataset_from_video, motion_from_video, track_video
from avatarforge.neural.dataset import AvatarDataset, load_dataset, save_dataset
from avatarforge.neural.model import DirectAvatar, ModelConfig, TexturedAvatar, build_model
from avatarforge.neural.motion import MOTION_PRESETS, Motion, load_motion, save_motion
from avatarforge.neural.render import measure_fps, parse_camera, render_frames, render_video
from avatarforge.neural.train import Avatar, TrainConfig, evaluate, load_avatar, train

__all__ = [
    "CameraCalib", "load_calibration", "triangulate", "MultiViewConfig", "dataset_from_multiview", "track_multiview",
    "SyntheticConfig", "make_synthetic", "VideoConfig", "dataset_from_video", "motion_from_video", "track_video",
    "AvatarDataset", "load_dataset", "save_dataset", "ModelConfig", "TexturedAvatar", "DirectAvatar", "build_model",
    "Motion", "MOTION_PRESETS", "load_motion", "save_motion", "parse_camera", "render_frames", "render_video",
    "measure_fps", "Avatar", "TrainConfig", "train", "evaluate", "load_avatar",
]
