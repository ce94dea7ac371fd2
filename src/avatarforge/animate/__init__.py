"""Animate a created avatar from a video: face and body capture -> glTF animation, BVH, MP4.

The command is ``avatarforge animate AVATAR_DIR --video VIDEO -o OUT`` (:func:`.job.animate_video`).
"""

from avatarforge.animate.face_motion import FaceMotion
from avatarforge.animate.job import AnimateConfig, Animation, animate_video, capture_animation, write_animation

__all__ = ["FaceMotion", "AnimateConfig", "Animation", "animate_video", "capture_animation", "write_animation"]
