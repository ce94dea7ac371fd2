"""DECA (Feng et al. 2021) on the official ``deca_model.tar`` layout: networks written here
with the released checkpoint's exact parameter names, a strict loader, DECA's crop, and the
decoding into FLAME parameters, albedo, SH lighting, camera and detail maps."""

from avatarforge.research.deca.crop import DecaCrop, deca_crop, landmark_box
from avatarforge.research.deca.model import CODE_SPLIT, Deca, DecaCode, DecaOutput, load_deca_nets
from avatarforge.research.deca.nets import DetailGenerator, ResnetEncoder

__all__ = [
    "DecaCrop", "deca_crop", "landmark_box", "CODE_SPLIT", "Deca", "DecaCode", "DecaOutput", "load_deca_nets",
    "DetailGenerator", "ResnetEncoder",
]
