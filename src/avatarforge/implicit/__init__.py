"""Implicit articulated bodies: SNARF (forward skinning of a canonical occupancy field) on a CPU.

Modules: :mod:`.rootfind` (batched Broyden), :mod:`.implicit_grad` (gradients through roots),
:mod:`.skinning` (voxel/MLP weight fields, LBS), :mod:`.model` (SNARF), :mod:`.baselines`,
:mod:`.data` (posed meshes + winding-number labels), :mod:`.winding`, :mod:`.train`,
:mod:`.extract` (marching cubes, metrics). Depends only on the base layers (errors, util,
bodies, render).
"""
