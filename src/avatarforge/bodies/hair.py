"""Hair as geometry: a parametric hair *shell* over the skull plus a hanging *curtain*.

Why shells (and not cards): a photo shows the hair's silhouette and colour, not its strands;
a shell reproduces the silhouette (what issue 14's head-silhouette IoU measures) with a few
thousand triangles that export to any viewer with one opaque material, and it needs no alpha
sorting. Cards (strips with strand textures and alpha) look better up close and are the next
step for long, loose hair; the shell's parameters (volume, length, fringe) carry over.

Construction, in the head's frame (origin between the eyes, +Y up, +Z the face's forward,
taken from the head joint's rotation and the eye joints), from the posed body output:

* the **skull radius** along each direction from a skull centre (the farthest head vertex
  within a small cone around the direction);
* the **shell**: a grid over azimuth (0 = front) x elevation, from the crown down to a
  hairline whose height above the eyes falls from the forehead (front) over the ears (sides)
  to the nape (back); each point at skull radius + ``volume`` (thinning to 3 mm at the
  hairline so the edge hugs the skin); ``fringe`` lowers the front hairline to the brows;
* the **curtain** (``length`` > 0): from the shell's lower edge at the sides and back, hair
  falls straight down to ``length`` metres below the eyes, pushed out where the neck,
  shoulders or back would poke through.

Skinning: the shell follows the head bone alone; each curtain vertex takes the skin weights
of the nearest head/neck/torso vertex of the body (so it follows the neck and upper back).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

__all__ = ["HairStyle", "HairMesh", "build_hair", "HAIR_STYLES", "percentile_per_group"]

HAIR_STYLES = ("bald", "short", "medium", "long")
"""Named presets of :class:`HairStyle` (``length`` in metres below the eyes; 0 = no curtain)."""

_PRESET_LENGTH = {"bald": 0.0, "short": 0.0, "medium": 0.12, "long": 0.26}


@dataclass(frozen=True)
class HairStyle:
    """Parameters of the hair shell."""

    style: str = "short"
    """bald, short, medium (to the chin) or long (shoulders and beyond)."""
    volume: float = 0.012
    """Thickness over the skull (metres)."""
    length: float = 0.0
    """How far below the eyes the hair at the sides and back ends (metres); 0: at the hairline."""
    fringe: float = 0.0
    """0: the front hairline at the forehead's top; 1: down to the brows."""

    @classmethod
    def preset(cls, style: str, volume: float = 0.012, fringe: float = 0.0) -> "HairStyle":
        if style not in HAIR_STYLES:
            raise ValueError(f"unknown hair style {style!r}: choose one of {', '.join(HAIR_STYLES)}")
        return cls(style, volume, _PRESET_LENGTH[style], fringe)


@dataclass
class HairMesh:
    """The hair's own mesh, skinned to the body's joints (same joint order)."""

    vertices: Float[np.ndarray, "V 3"]
    faces: Int[np.ndarray, "F 3"]
    skin_indices: Int[np.ndarray, "V K"]
    skin_weights: Float[np.ndarray, "V K"]
    style: HairStyle


_N_AZ = 64
_N_ROWS = 14
_N_DROP = 10


def _head_frame(out) -> tuple[np.ndarray, np.ndarray]:
    """(origin between the eyes, 3x3 rotation whose columns are the head's x, y, z) in world."""
    names = list(out.joint_names)
    jw = out.joints_world[0].detach().numpy() if hasattr(out.joints_world, "detach") else np.asarray(out.joints_world[0])
    eyes = [jw[names.index(n), :3, 3] for n in ("eye.L", "eye.R") if n in names]
    head = jw[names.index("head")]
    origin = np.mean(eyes, 0) if eyes else head[:3, 3]
    return origin.astype(np.float64), head[:3, :3].astype(np.float64)


def _hairline(theta: np.ndarray, fringe: float) -> np.ndarray:
    """Height (metres, above the eyes) of the hairline at azimuth ``theta`` (0 = front):
    6.5 cm at the front (3.5 cm with a full fringe: the brows), 2.5 cm over the ears (above
    their tops), -7 cm at the nape; ``a + b cos(theta) + c cos(2 theta)`` through the three."""
    front = 0.065 - 0.03 * float(np.clip(fringe, 0.0, 1.0))
    side, back = 0.025, -0.07
    b = (front - back) / 2
    a = ((front + back) / 2 + side) / 2
    c = a - side
    return a + b * np.cos(theta) + c * np.cos(2 * theta)


_PREP: dict = {}


def percentile_per_group(values: Float[np.ndarray, " N"], groups, q: float, empty: float) -> Float[np.ndarray, " G"]:
    """``np.percentile(values[g], q)`` (linear method) for each index list ``g`` of
    ``groups``, ``empty`` for an empty one: one sort instead of a Python loop (the hair shell
    asks for ~9,000 of them)."""
    sizes = np.fromiter((len(g) for g in groups), np.int64, len(groups))
    out = np.full(len(groups), float(empty))
    if sizes.sum() == 0:
        return out
    owner = np.repeat(np.arange(len(groups)), sizes)
    vals = np.asarray(values, np.float64)[np.concatenate([np.asarray(g, np.int64) for g in groups if len(g)])]
    order = np.lexsort((vals, owner))  # by group, then by value
    vals = vals[order]
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    ok = sizes > 0
    pos = q / 100.0 * (sizes[ok] - 1)
    lo = np.floor(pos).astype(np.int64)
    t = pos - lo
    a = vals[start[ok] + lo]
    b = vals[start[ok] + np.minimum(lo + 1, sizes[ok] - 1)]
    # numpy's lerp, both halves, so that the result is bit-identical to np.percentile
    out[ok] = np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)
    return out


def _prepare(out, body_skin=None) -> dict:
    """Everything about the body the hair needs, independent of the style (cached for the
    last few outputs: fitting tries many styles on one body)."""
    from scipy.spatial import cKDTree

    key = id(out)
    if key in _PREP and _PREP[key]["out"] is out:
        return _PREP[key]
    v = out.vertices[0].detach().numpy().astype(np.float64) if hasattr(out.vertices, "detach") else np.asarray(out.vertices[0])
    names = list(out.joint_names)
    si, sw = (out.skin_indices, out.skin_weights) if body_skin is None else body_skin
    si = si.numpy() if hasattr(si, "numpy") else np.asarray(si)
    sw = sw.numpy() if hasattr(sw, "numpy") else np.asarray(sw)
    dominant = si[np.arange(len(si)), sw.argmax(1)]
    head_ids = [names.index(n) for n in ("head", "eye.L", "eye.R") if n in names]
    limb_ids = [i for i, n in enumerate(names) if any(k in n for k in ("arm", "hand", "wrist", "metacarpal", "finger", "thumb", "index",
                                                                         "middle", "ring", "pinky"))]
    origin, rot = _head_frame(out)
    local = (v - origin) @ rot  # rows: vertices in the head frame
    hv = local[np.isin(dominant, head_ids)]
    upper = hv[hv[:, 1] > -0.02]
    centre = np.array([0.0, 0.01, (upper[:, 2].min() + upper[:, 2].max()) / 2 - 0.01])
    d_head = hv - centre
    r_head = np.linalg.norm(d_head, axis=1)
    tree = cKDTree(d_head / np.maximum(r_head[:, None], 1e-9))
    theta = np.linspace(0, 2 * np.pi, _N_AZ, endpoint=False)
    phis = np.radians(np.linspace(88.0, -70.0, 80))
    grid_d = np.stack([np.cos(phis)[None, :] * np.sin(theta)[:, None], np.broadcast_to(np.sin(phis)[None, :], (_N_AZ, 80)),
                       np.cos(phis)[None, :] * np.cos(theta)[:, None]], -1)
    idx = tree.query_ball_point(grid_d.reshape(-1, 3), r=np.radians(7.0))
    med = float(np.median(r_head))
    # A high percentile, not the maximum: ears and the nose do not blow the shell up.
    r_grid = percentile_per_group(r_head, idx, 90.0, med).reshape(_N_AZ, 80)
    top_idx = tree.query_ball_point(np.array([0.0, 1.0, 0.0]), r=np.radians(7.0))
    torso = ~np.isin(dominant, limb_ids)
    body_ok = np.flatnonzero(torso)
    prep = {"out": out, "v": v, "names": names, "si": si, "sw": sw, "origin": origin, "rot": rot, "local": local,
            "centre": centre, "theta": theta, "phis": phis, "r_grid": r_grid,
            "r_top": float(np.percentile(r_head[top_idx], 90)) if len(top_idx) else med,
            "torso_local": local[torso], "body_ok": body_ok, "body_tree": cKDTree(v[body_ok]),
            "head_bone": names.index("head")}
    _PREP.clear()  # one body at a time
    _PREP[key] = prep
    return prep


def build_hair(out, style: HairStyle, body_skin=None) -> HairMesh | None:
    """The hair mesh of ``style`` on the posed body ``out`` (a BodyOutput); None when bald.

    ``body_skin``: ``(skin_indices, skin_weights)`` of the body (default: ``out``'s)."""
    if style.style == "bald":
        return None
    p = _prepare(out, body_skin)
    theta, phis, r_grid, centre = p["theta"], p["phis"], p["r_grid"], p["centre"]
    head_bone, sidx, sw = p["head_bone"], p["si"], p["sw"]
    hl = _hairline(theta, style.fringe)
    # Lowest elevation of each column: where the skull surface reaches the hairline height
    # (smoothed over azimuth: no notches).
    y_grid = centre[1] + r_grid * np.sin(phis)[None, :]
    below = y_grid < hl[:, None]
    last = np.where(below.any(1), below.argmax(1) - 1, 79).clip(1, 79)
    phi_min = phis[last]
    ext = np.concatenate([phi_min[-4:], phi_min, phi_min[:4]])
    phi_min = np.maximum(np.median(np.stack([ext[i: i + _N_AZ] for i in range(9)]), 0), np.radians(-50.0))

    def skull_radius_at(phi: np.ndarray) -> np.ndarray:  # (AZ, R) elevations -> radii, per column
        return np.stack([np.interp(-phi[a], -phis, r_grid[a]) for a in range(_N_AZ)])

    # Shell grid: rows from near the crown (u = 0) to the hairline (u = 1).
    u = np.linspace(0.0, 1.0, _N_ROWS)
    phi = np.radians(88.0) + u[None, :] * (phi_min[:, None] - np.radians(88.0))
    d = np.stack([np.cos(phi) * np.sin(theta)[:, None], np.sin(phi), np.cos(phi) * np.cos(theta)[:, None]], -1)
    r = skull_radius_at(phi)
    taper = np.clip((1.0 - u) / 0.45, 0.0, 1.0)[None, :]
    taper = taper * taper * (3 - 2 * taper)
    thick = 0.003 + (style.volume * (0.75 + 0.25 * np.sin(phi).clip(0, 1))) * taper
    shell = centre + (r + thick)[..., None] * d  # (AZ, ROWS, 3)
    apex = centre + np.array([0.0, p["r_top"] + 0.003 + style.volume, 0.0])

    verts = [apex[None], shell.reshape(-1, 3)]
    faces = []
    vid = lambda a, i: 1 + (a % _N_AZ) * _N_ROWS + i  # noqa: E731
    for a in range(_N_AZ):  # fan at the crown, quads below (counter-clockwise seen from outside)
        faces.append((0, vid(a + 1, 0), vid(a, 0)))
        for i in range(_N_ROWS - 1):
            faces.append((vid(a, i), vid(a + 1, i), vid(a + 1, i + 1)))
            faces.append((vid(a, i), vid(a + 1, i + 1), vid(a, i + 1)))
    n_shell = 1 + _N_AZ * _N_ROWS

    curtain_w = np.zeros(0)
    if style.length > 0:
        # Columns at the sides and back (|theta| >= 60 deg) hang from the shell's lower edge.
        cols = np.flatnonzero(np.abs(np.angle(np.exp(1j * theta))) >= np.radians(60.0))
        cols = np.roll(cols, -int(np.argmax(np.diff(cols) > 1)) - 1) if np.any(np.diff(cols) > 1) else cols
        top = shell[cols, -1]  # hairline points
        bottom_y = -float(style.length)
        tl = p["torso_local"]
        others = tl[(tl[:, 1] < 0.02) & (tl[:, 1] > bottom_y - 0.05)]
        oh = others[:, [0, 2]] - centre[[0, 2]]
        o_ang, o_rad = np.arctan2(oh[:, 0], oh[:, 1]), np.linalg.norm(oh, axis=1)
        horiz = top[:, [0, 2]] - centre[[0, 2]]
        rad = np.linalg.norm(horiz, axis=1)
        ang = np.arctan2(horiz[:, 0], horiz[:, 1])
        same_dir = np.abs(np.angle(np.exp(1j * (o_ang[None, :] - ang[:, None])))) < 0.12  # (C, O)
        rows = []
        for k in range(_N_DROP + 1):
            t = k / _N_DROP
            y = top[:, 1] + t * (bottom_y - top[:, 1])
            # Push out where the body is (neck, shoulders, back) at this height and azimuth.
            near = same_dir & (np.abs(others[None, :, 1] - y[:, None]) < 0.015)
            need = np.where(near.any(1), np.where(near, o_rad[None], 0.0).max(1) + 0.004 + 0.5 * style.volume, 0.0)
            rad_k = np.maximum(rad, need) if k else rad
            rows.append(np.stack([centre[0] + rad_k * np.sin(ang), y, centre[2] + rad_k * np.cos(ang)], -1))
        # A hanging curtain never tucks back in: the radius only grows going down.
        for k in range(1, len(rows)):
            rk, rp = rows[k][:, [0, 2]] - centre[[0, 2]], rows[k - 1][:, [0, 2]] - centre[[0, 2]]
            grow = np.maximum(np.linalg.norm(rk, axis=1), np.linalg.norm(rp, axis=1)) / np.maximum(np.linalg.norm(rk, axis=1), 1e-9)
            rows[k][:, [0, 2]] = centre[[0, 2]] + rk * grow[:, None]
        curtain = np.stack(rows, 1)  # (C, DROP + 1, 3)
        base = n_shell
        verts.append(curtain.reshape(-1, 3))
        nd = _N_DROP + 1
        for j in range(len(cols) - 1):
            for k in range(_N_DROP):
                a0, a1 = base + j * nd + k, base + (j + 1) * nd + k
                faces.append((a0, a1 + 1, a1))
                faces.append((a0, a0 + 1, a1 + 1))
        curtain_w = np.linspace(0, 1, nd)[None, :].repeat(len(cols), 0).ravel()

    hair_local = np.concatenate(verts)
    faces = _outward(hair_local, np.asarray(faces, np.int64), centre, n_shell)
    world = hair_local @ p["rot"].T + p["origin"]
    k = sw.shape[1]
    s_idx = np.zeros((len(world), k), np.int64)
    s_w = np.zeros((len(world), k), np.float32)
    s_idx[:n_shell, 0] = head_bone
    s_w[:n_shell, 0] = 1.0
    if len(curtain_w):
        _, nn = p["body_tree"].query(world[n_shell:])
        src = p["body_ok"][nn]
        # Near the head the curtain follows the head; lower down the body under it.
        s_idx[n_shell:] = sidx[src]
        s_w[n_shell:] = sw[src]
        top_share = np.clip(1.0 - curtain_w / 0.3, 0.0, 1.0)
        s_w[n_shell:] *= (1.0 - top_share)[:, None]
        # Put the head share in a free slot (the smallest weight's slot).
        has_head = s_idx[n_shell:] == head_bone
        slot = np.where(has_head.any(1), has_head.argmax(1), s_w[n_shell:].argmin(1))
        rows_ = np.arange(n_shell, len(world))
        s_idx[rows_, slot] = head_bone
        s_w[rows_, slot] += top_share
        s_w[n_shell:] /= s_w[n_shell:].sum(1, keepdims=True)
    return HairMesh(world.astype(np.float32), faces, s_idx, s_w, style)


def _outward(v: np.ndarray, faces: np.ndarray, centre: np.ndarray, n_shell: int) -> np.ndarray:
    """Faces wound counter-clockwise seen from outside: away from the skull centre on the
    shell, away from the vertical axis through it on the curtain."""
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    n = np.cross(b - a, c - a)
    out = (a + b + c) / 3 - centre
    curtain = faces.min(1) >= n_shell
    out[curtain, 1] = 0.0
    flip = np.einsum("fc,fc->f", n, out) < 0  # f: face, c: xyz
    faces = faces.copy()
    faces[flip] = faces[flip][:, [0, 2, 1]]
    return faces
