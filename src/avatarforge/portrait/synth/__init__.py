"""Training data for the talking head, rendered from the embedded body model."""

from avatarforge.portrait.synth.dataset import DataConfig, PairSet, generate_dataset, load_split, sample_pose
from avatarforge.portrait.synth.identity import Identity, Look, sample_identity
from avatarforge.portrait.synth.render import PortraitRenderer, body_values

__all__ = [
    "DataConfig", "PairSet", "generate_dataset", "load_split", "sample_pose", "Identity", "Look",
    "sample_identity", "PortraitRenderer", "body_values",
]
