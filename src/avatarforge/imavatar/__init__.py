"""IMavatar on a CPU: an implicit morphable head learned from a face video (Zheng et al., CVPR 2022).

The body model's head takes FLAME's role (:mod:`.rig`: ARKit blend shapes, head/neck/eye skinning).
Modules: :mod:`.rig`, :mod:`.data` (synthetic videos, tracking of real ones), :mod:`.model`
(canonical occupancy + texture, deformation field, non-rigid ray marching; baselines B-Morph and
C-Net), :mod:`.train`, :mod:`.metrics`. Reuses :mod:`avatarforge.implicit` (Broyden root finding,
implicit differentiation, marching cubes) and the shared face tracker.
"""
