"""The three Talking Head Anime networks (published layout) and their sizes."""

from avatarforge.portrait.networks.blocks import EncoderDecoder, ResNetBlock, UNet
from avatarforge.portrait.networks.combiner import Combiner, CombinerOutput
from avatarforge.portrait.networks.config import FULL, REDUCED, NetConfig
from avatarforge.portrait.networks.morpher import FaceMorpher, MorpherOutput, append_pose
from avatarforge.portrait.networks.rotator import RotatorOutput, TwoAlgoFaceRotator, warp

__all__ = [
    "NetConfig", "FULL", "REDUCED", "FaceMorpher", "MorpherOutput", "TwoAlgoFaceRotator",
    "RotatorOutput", "Combiner", "CombinerOutput", "EncoderDecoder", "UNet", "ResNetBlock",
    "append_pose", "warp",
]
