"""Wavefront OBJ export of a `RiggedMesh`: ``<stem>.obj`` + ``<stem>.mtl`` (+ ``<stem>_texture.png``).

OBJ has no skin and no morph targets: the mesh is written in its bind pose with the
default morph weights applied (so it looks like the GLB does when first opened). Positions,
UVs and normals have their own index lists (``f v/vt/vn``), so nothing is split at seams;
UVs keep the OBJ convention (v up from the image's bottom).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from avatarforge.util.atomic import atomic_write_bytes, atomic_write_text
from avatarforge.util.geometry import vertex_normals
from avatarforge.export.geometry import FALLBACK_NORMAL
from avatarforge.export.mesh import RiggedMesh
from avatarforge.export.png import encode_png

__all__ = ["write_obj", "posed_vertices", "obj_text"]


def posed_vertices(mesh: RiggedMesh, apply_default_morphs: bool = True) -> np.ndarray:
    """(V, 3) float32 bind-pose positions plus ``sum_m morph_weights[m] * morph_deltas[m]``."""
    v = np.asarray(mesh.vertices, dtype=np.float32)
    if not apply_default_morphs or mesh.morph_deltas is None or mesh.morph_weights is None:
        return v
    w = np.asarray(mesh.morph_weights, dtype=np.float32)
    if not np.any(w):
        return v
    deltas = np.asarray(mesh.morph_deltas, dtype=np.float32)
    return v + np.einsum("m,mvc->vc", w, deltas)  # m: morph target, v: vertex, c: xyz


def _rows(prefix: str, fmt: str, values: np.ndarray) -> str:
    """``prefix`` + one formatted row per line (one %-format over all rows: fast)."""
    if len(values) == 0:
        return ""
    line = prefix + " " + " ".join([fmt] * values.shape[1]) + "\n"
    return (line * len(values)) % tuple(values.ravel().tolist())


def _mtl_text(mesh: RiggedMesh, material: str, texture_name: str | None) -> str:
    r, g, b, a = (float(c) for c in mesh.base_color)
    kd = "1 1 1" if texture_name else f"{r:.6g} {g:.6g} {b:.6g}"
    lines = [
        "# avatarforge",
        f"newmtl {material}",
        "Ka 0 0 0",
        f"Kd {kd}",
        "Ks 0 0 0",
        f"d {1.0 if texture_name else a:.6g}",
        "illum 1",
    ]
    if texture_name:
        lines.append(f"map_Kd {texture_name}")
    return "\n".join(lines) + "\n"


def write_obj(
    mesh: RiggedMesh,
    directory: str | os.PathLike[str],
    stem: str = "avatar",
    *,
    apply_default_morphs: bool = True,
) -> list[Path]:
    """Write ``<stem>.obj``, ``<stem>.mtl`` and, with a texture, ``<stem>_texture.png``.

    Returns the paths written, OBJ first. Each file is written atomically (temporary name,
    then ``os.replace``), the texture and material before the OBJ that refers to them.
    Without a texture the material carries ``mesh.base_color`` as ``Kd``.
    """
    if mesh.texture is not None and mesh.uvs is None:
        raise ValueError("mesh.texture is set but mesh.uvs/uv_faces are None: cannot map it")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    material = f"{mesh.name}_skin"
    written: list[Path] = []

    texture_name = None
    if mesh.texture is not None:
        png = encode_png(mesh.texture)  # checks the image; shared with the GLB's encoding
        texture_name = f"{stem}_texture.png"
        atomic_write_bytes(out / texture_name, png)
        written.append(out / texture_name)
    mtl = _mtl_text(mesh, material, texture_name)
    for part in mesh.parts:  # further meshes (hair), each with its own material (and texture)
        r, g, b, a = (float(c) for c in part.base_color)
        if part.texture is not None:
            name = f"{stem}_{part.name}.png"
            atomic_write_bytes(out / name, encode_png(part.texture))
            written.append(out / name)
            mtl += (f"\nnewmtl {mesh.name}_{part.name}\nKa 0 0 0\nKd 1 1 1\nKs 0 0 0\nd 1\nillum 1\nmap_Kd {name}\n"
                    + (f"map_d -imfchan m {name}\n" if np.shape(part.texture)[-1] == 4 else ""))
            continue
        mtl += f"\nnewmtl {mesh.name}_{part.name}\nKa 0 0 0\nKd {r:.6g} {g:.6g} {b:.6g}\nKs 0 0 0\nd {a:.6g}\nillum 1\n"
    mtl_path = atomic_write_text(out / f"{stem}.mtl", mtl)

    positions = posed_vertices(mesh, apply_default_morphs)
    text = obj_text(positions, mesh.faces, mesh.uvs, mesh.uv_faces, name=mesh.name,
                    mtllib=mtl_path.name, material=material)
    offset = len(positions)
    t_offset = 0 if mesh.uvs is None else len(mesh.uvs)
    for part in mesh.parts:  # positions and normals share indices; a textured part has its own vt rows
        pv = np.asarray(part.vertices, np.float64)
        pf = np.asarray(part.faces, np.int64) + 1
        text += f"o {part.name}\n" + _rows("v", "%.9g", pv) + _rows("vn", "%.7g", vertex_normals(pv, pf - 1).astype(np.float64))
        if part.uvs is not None:
            text += _rows("vt", "%.9g", np.asarray(part.uvs, np.float64))
        text += f"usemtl {mesh.name}_{part.name}\ns 1\n"
        if part.uvs is not None:
            text += _face_rows(np.stack([pf + offset, pf + t_offset, pf + offset], axis=2).reshape(len(pf), 9), "%d/%d/%d")
            t_offset += len(pv)
        else:
            text += _face_rows(np.stack([pf + offset, pf + offset], axis=2).reshape(len(pf), 6), "%d//%d")
        offset += len(pv)
    obj_path = atomic_write_text(out / f"{stem}.obj", text)
    return [obj_path, mtl_path, *written]


def obj_text(
    positions: np.ndarray,
    faces: np.ndarray,
    uvs: np.ndarray | None = None,
    uv_faces: np.ndarray | None = None,
    name: str = "mesh",
    mtllib: str | None = None,
    material: str | None = None,
) -> str:
    """The text of an OBJ file: ``v``, ``vt`` (OBJ's v-up convention), smooth ``vn`` and
    ``f v/vt/vn`` rows (separate position and UV indices)."""
    faces = np.asarray(faces, dtype=np.int64) + 1  # OBJ indices are 1-based
    head = "# avatarforge\n" + (f"mtllib {mtllib}\n" if mtllib else "") + f"o {name}\n"
    parts = [head, _rows("v", "%.9g", np.asarray(positions, dtype=np.float64))]  # float32-exact
    if uvs is not None:
        parts.append(_rows("vt", "%.9g", np.asarray(uvs, dtype=np.float64)))
    parts.append(_rows("vn", "%.7g", vertex_normals(positions, faces - 1, FALLBACK_NORMAL).astype(np.float64)))
    parts.append((f"usemtl {material}\n" if material else "") + "s 1\n")
    if uvs is not None:
        uv_idx = np.asarray(uv_faces, dtype=np.int64) + 1
        corners = np.stack([faces, uv_idx, faces], axis=2).reshape(len(faces), 9)  # v/vt/vn
        parts.append(_face_rows(corners, "%d/%d/%d"))
    else:
        parts.append(_face_rows(np.stack([faces, faces], axis=2).reshape(len(faces), 6), "%d//%d"))
    return "".join(parts)


def _face_rows(corners: np.ndarray, corner_fmt: str) -> str:
    """``f`` lines: three corners per face, each formatted with ``corner_fmt``."""
    if len(corners) == 0:
        return ""
    line = "f " + " ".join([corner_fmt] * 3) + "\n"
    return (line * len(corners)) % tuple(corners.ravel().tolist())
