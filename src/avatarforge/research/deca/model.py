"""DECA inference: strict loading of ``deca_model.tar``, encoding a 224x224 crop into the
236 + 128 codes, decoding into FLAME geometry, albedo, lighting, camera and detail maps."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from avatarforge.errors import UserInputError
from avatarforge.research.deca.nets import DetailGenerator, ResnetEncoder
from avatarforge.research.safe_pickle import load_checkpoint, load_npz

__all__ = ["CODE_SPLIT", "N_DETAIL", "DecaNets", "DecaCode", "DecaOutput", "FlameTexture", "Deca",
           "load_deca_nets", "check_state_dict", "sh_shading", "orthographic_project", "detail_normals"]

CODE_SPLIT = {"shape": 100, "tex": 50, "exp": 50, "pose": 6, "cam": 3, "light": 27}
"""E_flame's 236 outputs in order (pose = global 3 + jaw 3 axis-angle; cam = scale, tx, ty;
light = 9 SH coefficients x RGB)."""
N_DETAIL = 128
UV_SIZE = 256


@dataclass
class DecaNets:
    """The three networks of ``deca_model.tar`` (eval mode)."""

    E_flame: ResnetEncoder
    E_detail: ResnetEncoder
    D_detail: DetailGenerator


def build_deca_nets() -> DecaNets:
    """Randomly initialised networks in the released layout."""
    return DecaNets(ResnetEncoder(sum(CODE_SPLIT.values())), ResnetEncoder(N_DETAIL),
                    DetailGenerator(CODE_SPLIT["exp"] + 3 + N_DETAIL))


def check_state_dict(module: torch.nn.Module, state: dict, what: str) -> list[str]:
    """Every key/shape difference between ``state`` and ``module``'s own (empty = exact match)."""
    if not isinstance(state, dict):
        return [f"{what} is a {type(state).__name__}, expected a state dict"]
    own = module.state_dict()
    problems = []
    # BatchNorm's step counters (torch >= 0.4.1) carry no weights: a file without them is fine.
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    extra = [k for k in state if k not in own]
    if missing:
        problems.append(f"{what}: {len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
    if extra:
        problems.append(f"{what}: {len(extra)} unexpected keys (e.g. {', '.join(extra[:3])})")
    for k, v in own.items():
        if k in state and hasattr(state[k], "shape") and tuple(state[k].shape) != tuple(v.shape):
            problems.append(f"{what}.{k}: shape {tuple(state[k].shape)}, expected {tuple(v.shape)}")
    return problems


def load_deca_nets(path: str | os.PathLike) -> DecaNets:
    """Load ``deca_model.tar`` (weights only) with an exact key and shape match (BatchNorm's
    ``num_batches_tracked`` counters may be absent).

    Raises UserInputError naming the file and the first differences.
    """
    ckpt = load_checkpoint(path)
    if not isinstance(ckpt, dict) or not all(k in ckpt for k in ("E_flame", "E_detail", "D_detail")):
        keys = list(ckpt)[:6] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise UserInputError(f"{path}: expected a dict with E_flame, E_detail, D_detail, got {keys}")
    nets = build_deca_nets()
    problems = []
    for name in ("E_flame", "E_detail", "D_detail"):
        problems += check_state_dict(getattr(nets, name), ckpt[name], name)
    if problems:
        raise UserInputError(f"{path}: not the released DECA layout: {'; '.join(problems[:4])}")
    for name in ("E_flame", "E_detail", "D_detail"):
        net = getattr(nets, name)
        state = dict(ckpt[name])
        for k, v in net.state_dict().items():  # see check_state_dict: counters may be absent
            state.setdefault(k, v)
        net.load_state_dict(state, strict=True)
        net.eval()
    return nets


@dataclass
class DecaCode:
    """E_flame's code split by meaning (+ E_detail's code)."""

    shape: Float[Tensor, "B 100"]
    tex: Float[Tensor, "B 50"]
    exp: Float[Tensor, "B 50"]
    pose: Float[Tensor, "B 6"]
    """Global rotation (3) then jaw (3), axis-angle radians, FLAME's frame."""
    cam: Float[Tensor, "B 3"]
    """Orthographic camera: scale, tx, ty (see :func:`orthographic_project`)."""
    light: Float[Tensor, "B 9 3"]
    """Second-order spherical-harmonic coefficients per RGB channel."""
    detail: Float[Tensor, "B 128"] | None = None

    @classmethod
    def split(cls, code: Float[Tensor, "B 236"], detail: Tensor | None = None) -> "DecaCode":
        parts = dict(zip(CODE_SPLIT, torch.split(code, list(CODE_SPLIT.values()), dim=1)))
        parts["light"] = parts["light"].reshape(code.shape[0], 9, 3)
        return cls(**parts, detail=detail)


@dataclass
class DecaOutput:
    """Everything DECA yields for a batch."""

    code: DecaCode
    vertices: Float[Tensor, "B V 3"]
    """FLAME vertices (metres, FLAME frame: +Y up, facing +Z), global pose applied; V = 5023 for the released FLAME."""
    projected: Float[Tensor, "B V 3"]
    """Vertices through the orthographic camera, crop-normalised [-1, 1], y down (DECA's)."""
    albedo: Float[Tensor, "B 3 256 256"] | None
    """Albedo in FLAME's UV layout, RGB in [0, 1] nominally (None without a texture space)."""
    displacement: Float[Tensor, "B 1 256 256"] | None
    """Detail displacement along the normals in FLAME's UV layout, metres in [-0.01, 0.01]."""
    detail_normals: Float[Tensor, "B 3 256 256"] | None
    """Unit normals of the displaced surface in UV space (None without a UV layout)."""
    shaded: Float[Tensor, "B 3 256 256"] | None = None
    """Albedo x SH shading of the detail normals (DECA's ``uv_texture``; needs both)."""


class FlameTexture(torch.nn.Module):
    """FLAME's linear albedo space: ``FLAME_texture.npz`` (mean, tex_dir; 0..255) or
    ``FLAME_albedo_from_BFM.npz`` (MU, PC; 0..1), 512x512, first ``n_tex`` components; both store
    BGR channel order, returned as RGB at 256x256 like DECA."""

    def __init__(self, path: str | os.PathLike, n_tex: int = 50):
        super().__init__()
        path = Path(path)
        d = load_npz(path)
        if "mean" in d and "tex_dir" in d:
            mean, basis, scale = d["mean"], d["tex_dir"], 255.0
        elif "MU" in d and "PC" in d:
            mean, basis, scale = d["MU"], d["PC"], 1.0
        else:
            raise UserInputError(f"{path}: expected keys mean/tex_dir (FLAME_texture.npz) or MU/PC "
                                 f"(FLAME_albedo_from_BFM.npz), has {', '.join(sorted(d))}")
        mean = np.asarray(mean, np.float32).reshape(-1)
        n = mean.size
        side = int(round(math.sqrt(n / 3)))
        if side * side * 3 != n or basis.size % n:
            raise UserInputError(f"{path}: texture mean has {n} values, expected a square RGB image")
        basis = np.asarray(basis, np.float32).reshape(n, -1)
        if basis.shape[1] < n_tex:
            raise UserInputError(f"{path}: {basis.shape[1]} texture components, need {n_tex}")
        self.side = side
        self.register_buffer("mean", torch.from_numpy(mean / scale), persistent=False)
        self.register_buffer("basis", torch.from_numpy(basis[:, :n_tex] / scale), persistent=False)

    def forward(self, tex: Float[Tensor, "B 50"], size: int = UV_SIZE) -> Float[Tensor, "B 3 S S"]:
        flat = self.mean + tex @ self.basis.T  # (B, side*side*3)
        img = flat.reshape(tex.shape[0], self.side, self.side, 3).permute(0, 3, 1, 2)
        img = torch.nn.functional.interpolate(img, size=[size, size], mode="nearest")
        return img[:, [2, 1, 0]]


_SH_CONST = torch.tensor([
    1 / math.sqrt(4 * math.pi), *(3 * [(2 * math.pi / 3) * math.sqrt(3 / (4 * math.pi))]),
    *(3 * [(math.pi / 4) * 3 * math.sqrt(5 / (12 * math.pi))]),
    (math.pi / 4) * 1.5 * math.sqrt(5 / (12 * math.pi)), (math.pi / 4) * 0.5 * math.sqrt(5 / (4 * math.pi)),
])


def sh_shading(normals: Float[Tensor, "B 3 H W"], light: Float[Tensor, "B 9 3"]) -> Float[Tensor, "B 3 H W"]:
    """Irradiance of second-order SH lighting at unit normals (DECA's basis order and constants:
    1, x, y, z, xy, xz, yz, x^2 - y^2, 3 z^2 - 1)."""
    x, y, z = normals[:, 0], normals[:, 1], normals[:, 2]
    basis = torch.stack([torch.ones_like(x), x, y, z, x * y, x * z, y * z, x * x - y * y, 3 * z * z - 1], 1)
    basis = basis * _SH_CONST.to(normals)[None, :, None, None]
    # b: batch, k: SH band, c: colour, h w: pixel
    return torch.einsum("bkc,bkhw->bchw", light, basis)


def orthographic_project(points: Float[Tensor, "B N 3"], cam: Float[Tensor, "B 3"]) -> Float[Tensor, "B N 3"]:
    """DECA's camera: (x, y) -> s (x + tx, y + ty), z -> s z, then y flipped (image y down);
    x, y in [-1, 1] over the 224 crop (pixel = (x + 1) * 112)."""
    s, t = cam[:, None, :1], cam[:, None, 1:]
    xy = s * (points[..., :2] + t)
    return torch.cat([xy[..., :1], -xy[..., 1:], s * points[..., 2:]], -1)


def detail_normals(vertices: Float[Tensor, "V 3"], faces: np.ndarray, uvs: np.ndarray, uv_faces: np.ndarray,
                   displacement: Float[Tensor, "1 H W"]) -> tuple[Float[Tensor, "3 H W"], np.ndarray]:
    """Normals of the surface displaced along its normals by a UV displacement map.

    The coarse positions and normals are rasterised into UV space, displaced, and the normal
    of the displaced grid surface is the cross product of its UV-space finite differences
    (oriented like the coarse normal). Texels outside the layout keep the coarse normal (0 there).
    Returns (normals (3, H, W), covered mask (H, W)).
    """
    from avatarforge.render.interpolate import interpolate, to_image
    from avatarforge.render.shading import vertex_normals
    from avatarforge.render.uv import rasterize_uv

    h, w = displacement.shape[-2:]
    raster = rasterize_uv(uvs, uv_faces, (h, w))
    # faces and uv_faces describe the same triangles: per-vertex attributes map into UV space.
    vn = vertex_normals(vertices, faces)
    pos = to_image(interpolate(vertices, faces, raster), raster)  # (H, W, 3)
    nrm = torch.nn.functional.normalize(to_image(interpolate(vn, faces, raster), raster), dim=-1)
    disp = pos + displacement[0, :, :, None] * nrm
    du = torch.zeros_like(disp)
    dv = torch.zeros_like(disp)
    du[:, 1:-1] = disp[:, 2:] - disp[:, :-2]
    dv[1:-1] = disp[:-2] - disp[2:]  # rows go down, v goes up
    n = torch.cross(du, dv, dim=-1)
    n = n * torch.sign((n * nrm).sum(-1, keepdim=True) + 1e-20)
    n = torch.nn.functional.normalize(n, dim=-1)
    mask = torch.from_numpy(raster.mask)
    interior = mask.clone()
    interior[:, [0, -1]] = False
    interior[[0, -1]] = False
    interior &= torch.roll(mask, 1, 0) & torch.roll(mask, -1, 0) & torch.roll(mask, 1, 1) & torch.roll(mask, -1, 1)
    out = torch.where(interior[..., None], n, nrm)
    return out.permute(2, 0, 1), raster.mask


class Deca(torch.nn.Module):
    """DECA = networks + FLAME (+ texture space, + UV layout for the detail normals)."""

    def __init__(self, nets: DecaNets, flame, texture: FlameTexture | None = None):
        super().__init__()
        self.E_flame, self.E_detail, self.D_detail = nets.E_flame, nets.E_detail, nets.D_detail
        self.flame = flame
        self.texture = texture

    @torch.no_grad()
    def encode(self, images: Float[Tensor, "B 3 224 224"]) -> DecaCode:
        """Crops (RGB in [0, 1], DECA's crop) -> codes."""
        return DecaCode.split(self.E_flame(images), self.E_detail(images))

    @torch.no_grad()
    def decode(self, code: DecaCode) -> DecaOutput:
        """Codes -> FLAME geometry, albedo, displacement and detail normals."""
        flame = self.flame
        rot = flame.rotations_from_axis_angle(code.pose[:, :3], jaw=code.pose[:, 3:])
        verts = flame.lbs(code.shape, code.exp, rot).vertices
        albedo = self.texture(code.tex) if self.texture is not None else None
        disp = normals = None
        if code.detail is not None:
            disp = self.D_detail(torch.cat([code.pose[:, 3:], code.exp, code.detail], 1))
            uvs = flame.arrays.uvs
            if uvs is not None:
                f, uf = flame.arrays.faces, flame.arrays.uv_faces
                normals = torch.stack([detail_normals(v, f, uvs, uf, d)[0] for v, d in zip(verts, disp)])
        shaded = None if albedo is None or normals is None else albedo * sh_shading(normals, code.light)
        return DecaOutput(code, verts, orthographic_project(verts, code.cam), albedo, disp, normals, shaded)
