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

Variants (fields of :class:`HairStyle`, written ``--hair long+curly+fringe`` on the command
line, see :meth:`HairStyle.parse`):

* **tied** (``tie``): ``ponytail`` is a tapered tube from the back of the head that falls
  behind the neck to ``length`` below the eyes; ``bun`` an ellipsoid at the back of the crown;
  both over a close-lying shell without a curtain;
* **curly** (``curl`` 0..1): more volume, a lumpy surface (smooth pseudo-random noise over
  the shell and curtain) and a curtain that spreads outwards going down;
* **parting** (``left``/``centre``/``right``): a groove in the shell from the front hairline
  towards the crown, 4 cm beside the middle for a side parting;
* **fringe** (``fringe`` 0..1): the front hairline lowered towards the brows.

Texture coordinates (:attr:`HairMesh.uvs`, for a texture taken from the photo, see
:mod:`avatarforge.texture.hair`): an azimuth x height map of the shell and curtain (u from the
grid column: the front at u = 0.4, the seam at the back; v from the height in the head's
frame, the crown at the top) in u 0.01..0.79, the ponytail or bun in u 0.81..0.99 (u around
the tube, v along it); strands run along v everywhere. :attr:`HairMesh.tip` marks the free
edges (the curtain's and ponytail's ends, the hairline where no curtain hangs) that a texture
thins out with alpha. Vertices on the seam are duplicated (same position, u 0 and 1).

Skinning: the shell (and a bun) follows the head bone alone; each curtain (and ponytail)
vertex takes the skin weights of the nearest head/neck/torso vertex of the body (so it follows
the neck and upper back), blended with the head near the top.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

__all__ = ["HairStyle", "HairMesh", "build_hair", "UV_MAIN", "UV_TIED", "HAIR_STYLES", "HAIR_MODIFIERS", "TIES", "PARTINGS", "PROFILE_ANGLES",
           "skull_frame", "percentile_per_group", "DEFAULT_HAIR_SRGB", "default_hair_srgb"]

DEFAULT_HAIR_SRGB = (60, 45, 35)
"""sRGB of hair the photo does not show: a dark brown."""


def default_hair_srgb(photo: np.ndarray | None = None) -> tuple[int, int, int]:
    """:data:`DEFAULT_HAIR_SRGB`, or on a black-and-white ``photo`` (uint8 RGB whose channels
    differ by at most 3 levels at 99 % of its pixels) the grey of the same luma (brown hair
    on a grey avatar looks painted on)."""
    if photo is not None:
        px = np.asarray(photo).reshape(-1, np.asarray(photo).shape[-1])[:, :3].astype(np.int16)
        if len(px) and np.percentile(px.max(1) - px.min(1), 99) <= 3:
            g = int(round(0.299 * DEFAULT_HAIR_SRGB[0] + 0.587 * DEFAULT_HAIR_SRGB[1] + 0.114 * DEFAULT_HAIR_SRGB[2]))
            return (g, g, g)
    return DEFAULT_HAIR_SRGB

HAIR_STYLES = ("bald", "buzz", "short", "medium", "long", "ponytail", "bun")
"""Named presets of :class:`HairStyle` (``length`` in metres below the eyes; 0 = no curtain)."""

HAIR_MODIFIERS = ("straight", "curly", "fringe", "part-left", "part-centre", "part-right")
"""What may follow a preset name with ``+`` (:meth:`HairStyle.parse`)."""

PROFILE_ANGLES = tuple(float(a) for a in np.arange(-180.0, 180.0, 15.0))
"""Roll angles (degrees) of :attr:`HairStyle.profile`."""

TIES = ("none", "ponytail", "bun")
PARTINGS = ("none", "left", "centre", "right")

_PRESET_LENGTH = {"bald": 0.0, "buzz": 0.0, "short": 0.0, "medium": 0.12, "long": 0.26, "ponytail": 0.24, "bun": 0.0}
_PRESET_VOLUME = {"buzz": 0.004, "ponytail": 0.008, "bun": 0.008}


@dataclass(frozen=True)
class HairStyle:
    """Parameters of the hair shell."""

    style: str = "short"
    """bald, buzz, short, medium (to the chin), long (shoulders and beyond), ponytail or bun."""
    volume: float = 0.012
    """Thickness over the skull (metres)."""
    length: float = 0.0
    """How far below the eyes the hair at the sides and back ends (metres); 0: at the hairline.
    For a ponytail: where its tip ends."""
    fringe: float = 0.0
    """0: the front hairline at the forehead's top; 1: down to the brows."""
    tie: str = "none"
    """none, ponytail or bun (:data:`TIES`)."""
    curl: float = 0.0
    """0: straight; 1: curly (more volume, a lumpy surface, a spreading curtain)."""
    parting: str = "none"
    """none, left, centre or right (:data:`PARTINGS`): a groove from the front hairline."""
    profile: tuple[float, ...] = ()
    """Extra thickness (metres, may be negative) of the outline seen from the front, at the
    roll angles :data:`PROFILE_ANGLES` around the skull centre in the head's frontal plane
    (0 = up, 90 = the person's left); empty: none. Fitted to the photo's silhouette."""

    def __post_init__(self) -> None:
        if self.tie not in TIES:
            raise ValueError(f"unknown hair tie {self.tie!r}: choose one of {', '.join(TIES)}")
        if self.parting not in PARTINGS:
            raise ValueError(f"unknown hair parting {self.parting!r}: choose one of {', '.join(PARTINGS)}")
        if self.profile and len(self.profile) != len(PROFILE_ANGLES):
            raise ValueError(f"hair profile needs {len(PROFILE_ANGLES)} values, got {len(self.profile)}")
        if not (0.0 <= self.curl <= 1.0 and 0.0 <= self.fringe <= 1.0 and self.volume >= 0.0 and self.length >= 0.0):
            raise ValueError("hair curl and fringe must lie in 0..1, volume and length >= 0")

    @classmethod
    def preset(cls, style: str, volume: float = 0.012, fringe: float = 0.0) -> "HairStyle":
        if style not in HAIR_STYLES:
            raise ValueError(f"unknown hair style {style!r}: choose one of {', '.join(HAIR_STYLES)}")
        tie = style if style in TIES else "none"
        return cls(style, _PRESET_VOLUME.get(style, volume), _PRESET_LENGTH[style], fringe, tie)

    @classmethod
    def parse(cls, spec: str, volume: float = 0.012) -> "HairStyle":
        """A preset with modifiers: ``NAME[+MOD...]``, NAME in :data:`HAIR_STYLES`, MOD in
        :data:`HAIR_MODIFIERS` (e.g. ``long+curly+fringe``, ``ponytail+part-left``)."""
        name, *mods = [t.strip().lower() for t in str(spec).split("+")]
        bad = [m for m in mods if m not in HAIR_MODIFIERS]
        if name not in HAIR_STYLES or bad:
            raise ValueError(f"unknown hair {spec!r}: a style ({', '.join(HAIR_STYLES)}) optionally followed by "
                             f"+modifiers ({', '.join(HAIR_MODIFIERS)})")
        return cls.preset(name, volume).with_modifiers(mods)

    def with_modifiers(self, mods) -> "HairStyle":
        """This style with :data:`HAIR_MODIFIERS` applied (``curly`` also thickens the shell)."""
        from dataclasses import replace

        st = self
        for m in mods:
            if m == "curly":
                st = replace(st, curl=1.0, volume=max(st.volume, 0.03))
            elif m == "straight":
                st = replace(st, curl=0.0)
            elif m == "fringe":
                st = replace(st, fringe=1.0)
            elif m.startswith("part-"):
                st = replace(st, parting=m[5:])
        return st

    @property
    def spec(self) -> str:
        """The ``--hair`` text that names this style (preset and modifiers; volume/length aside)."""
        mods = (["curly"] if self.curl >= 0.5 else []) + (["fringe"] if self.fringe >= 0.5 else []) + (
            [f"part-{self.parting}"] if self.parting != "none" else [])
        return "+".join([self.style] + mods)


@dataclass
class HairMesh:
    """The hair's own mesh, skinned to the body's joints (same joint order)."""

    vertices: Float[np.ndarray, "V 3"]
    faces: Int[np.ndarray, "F 3"]
    skin_indices: Int[np.ndarray, "V K"]
    skin_weights: Float[np.ndarray, "V K"]
    style: HairStyle
    uvs: Float[np.ndarray, "V 2"] | None = None
    """Texture coordinates (OBJ convention: v up), see the module docstring."""
    tip: Float[np.ndarray, " V"] | None = None
    """0 in the hair's body .. 1 at a free edge (tips, the hairline without a curtain)."""


_N_AZ = 64
UV_MAIN = (0.01, 0.79)
"""u range of the shell and curtain in the texture."""
UV_TIED = (0.81, 0.99)
"""u range of the ponytail or bun in the texture."""
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


def skull_frame(out) -> tuple[np.ndarray, np.ndarray]:
    """``(centre, rotation)``: the skull centre the hair is built around (world, metres) and the
    head frame (3x3, columns: the head's x = the person's left, y = up, z = forward, in world)
    of the posed body ``out``; :attr:`HairStyle.profile` is measured around this centre."""
    p = _prepare(out)
    return p["origin"] + p["rot"] @ p["centre"], p["rot"].copy()


def build_hair(out, style: HairStyle, body_skin=None) -> HairMesh | None:
    """The hair mesh of ``style`` on the posed body ``out`` (a BodyOutput); None when bald.

    ``body_skin``: ``(skin_indices, skin_weights)`` of the body (default: ``out``'s)."""
    if style.style == "bald":
        return None
    p = _prepare(out, body_skin)
    theta, phis, r_grid, centre = p["theta"], p["phis"], p["r_grid"], p["centre"]
    sw = p["sw"]
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
    if style.curl > 0:  # lumps of about a curl's size, deeper on thick hair
        thick = thick + style.curl * 0.4 * style.volume * _lumps(theta[:, None], phi) * taper
    shell = centre + (r + thick)[..., None] * d  # (AZ, ROWS, 3)
    if style.parting != "none":
        shell = _part(shell, centre, r, d, style)
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

    hang = [np.zeros(n_shell)]  # per vertex: 0 rigid with the head .. 1 follows the body below
    # Texture parameters per vertex: periodic u (0..1, before the seam split), tip.
    col_u = (np.arange(_N_AZ) / _N_AZ + 0.5) % 1.0  # the front (column 0) at 0.5, the seam at the back
    has_curtain = style.length > 0 and style.tie == "none"
    free = np.ones(_N_AZ, bool)  # columns whose hairline is a free edge
    row_tip = np.clip((u - 0.7) / 0.3, 0.0, 1.0)
    if has_curtain:
        free[np.abs(np.angle(np.exp(1j * theta))) >= np.radians(60.0)] = False
    su = [np.array([0.5]), np.repeat(col_u, _N_ROWS)]
    tips = [np.zeros(1), (free[:, None] * row_tip[None, :]).ravel()]
    if has_curtain:
        curtain = _curtain(p, shell, theta, style)
        verts.append(curtain.reshape(-1, 3))
        nc, nd = curtain.shape[:2]
        for j in range(nc - 1):
            for k in range(_N_DROP):
                a0, a1 = n_shell + j * nd + k, n_shell + (j + 1) * nd + k
                faces.append((a0, a1 + 1, a1))
                faces.append((a0, a0 + 1, a1 + 1))
        hang.append(np.linspace(0, 1, nd)[None, :].repeat(nc, 0).ravel())
        cols = _curtain_columns(theta)
        su.append(np.repeat(col_u[cols], nd))
        tips.append(np.tile(np.clip((np.linspace(0, 1, nd) - 0.7) / 0.3, 0.0, 1.0), nc))
    n_main = sum(len(x) for x in verts)
    if style.profile:
        verts = [_apply_profile(x, centre, style.profile, curtain=i == 2) for i, x in enumerate(verts)]
    faces = _outward(np.concatenate(verts), np.asarray(faces, np.int64), centre, n_shell)
    if style.tie != "none":  # tied parts are built wound outwards
        tv, tf, th, tuv = (_ponytail if style.tie == "ponytail" else _bun)(p, style)
        verts.append(tv)
        faces = np.concatenate([faces, tf + n_main])
        hang.append(th)
        su.append(tuv[:, 0])
        tips.append(tuv[:, 2])

    hair_local = np.concatenate(verts)
    s_per, tip = np.concatenate(su), np.concatenate(tips)
    tied = np.arange(len(hair_local)) >= n_main
    y = hair_local[:, 1]
    y_lo, y_hi = y[~tied].min(), y[~tied].max()
    v_coord = np.where(tied, 0.0, 0.01 + 0.98 * (y - y_lo) / max(y_hi - y_lo, 1e-9))
    if tied.any():
        v_coord[tied] = tuv[:, 1]
    blocks = [0, n_shell, n_main, len(hair_local)]
    order, faces, wrapped = _split_seam(faces, s_per, blocks)
    s_per = s_per[order] + wrapped
    tied, v_coord, tip, hair_local = tied[order], v_coord[order], tip[order], hair_local[order]
    lo, hi = np.where(tied, UV_TIED[0], UV_MAIN[0]), np.where(tied, UV_TIED[1], UV_MAIN[1])
    uvs = np.stack([lo + (hi - lo) * s_per, v_coord], 1)
    world = hair_local @ p["rot"].T + p["origin"]
    s_idx, s_w = _hanging_skin(p, world, np.concatenate(hang)[order], sw.shape[1])
    return HairMesh(world.astype(np.float32), faces, s_idx, s_w, style, uvs.astype(np.float32), tip.astype(np.float32))


def _split_seam(faces: np.ndarray, s: np.ndarray, blocks: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut a periodic texture coordinate ``s`` (0..1) open: every face spanning more than half
    the period (it crosses the seam) gets copies of its vertices with ``s`` < 0.5, which take
    ``s + 1``. Returns ``(order, faces, wrapped)``: the new vertices as indices of the old ones
    (each block ``blocks[k]..blocks[k + 1]`` followed by its copies, so that later blocks keep
    their order), the faces on the new vertices, and 1 on the copies (0 elsewhere)."""
    fs = s[faces]
    low = ((fs.max(1) - fs.min(1)) > 0.5)[:, None] & (fs < 0.5)
    dup = np.unique(faces[low])
    order, wrapped = [], []
    for b0, b1 in zip(blocks[:-1], blocks[1:]):
        d = dup[(dup >= b0) & (dup < b1)]
        order += [np.arange(b0, b1), d]
        wrapped += [np.zeros(b1 - b0), np.ones(len(d))]
    order, wrapped = np.concatenate(order).astype(np.int64), np.concatenate(wrapped)
    new_of = np.empty(len(s), np.int64)
    new_of[order[wrapped == 0]] = np.flatnonzero(wrapped == 0)
    copy_of = np.full(len(s), -1, np.int64)
    copy_of[order[wrapped == 1]] = np.flatnonzero(wrapped == 1)
    out = new_of[faces]
    out[low] = copy_of[faces[low]]
    return order, out, wrapped


def _curtain_columns(theta: np.ndarray) -> np.ndarray:
    """Shell columns the curtain hangs from (|theta| >= 60 deg), in order around the back."""
    cols = np.flatnonzero(np.abs(np.angle(np.exp(1j * theta))) >= np.radians(60.0))
    return np.roll(cols, -int(np.argmax(np.diff(cols) > 1)) - 1) if np.any(np.diff(cols) > 1) else cols


def _apply_profile(pts: np.ndarray, centre: np.ndarray, profile, curtain: bool) -> np.ndarray:
    """``pts`` (head frame) moved by the front-view outline offsets ``profile``: each point at
    roll angle psi = atan2(x, y) around the centre moves by profile(psi) along its direction in
    the frontal (x, y) plane, weighted by how much it faces sideways (|(x, y)| / |(x, y, z)|),
    so the outline moves by about profile(psi) and points facing the camera barely move.
    Below the centre (and on the curtain) the move is horizontal (along x), by profile(psi)
    |sin psi| (which moves a vertical outline by profile(psi) along the ray), and only outwards
    (inwards would put the curtain into the neck, and the shell's lower edge, which the
    curtain hangs from, must move with it)."""
    rel = pts - centre
    psi = np.degrees(np.arctan2(rel[:, 0], rel[:, 1]))
    ang = np.asarray(PROFILE_ANGLES + (180.0,))
    e = np.interp(psi, ang, np.append(profile, profile[0]))
    planar = np.hypot(rel[:, 0], rel[:, 1])
    lateral = planar / np.maximum(np.linalg.norm(rel, axis=1), 1e-9)
    out = pts.copy()
    horiz = curtain | (rel[:, 1] < 0)
    e = np.where(horiz, np.maximum(e, 0.0), e)  # shell edge and curtain top move alike
    upper = ~horiz
    out[upper, :2] += (e * lateral / np.maximum(planar, 1e-9))[upper, None] * rel[upper, :2]
    out[horiz, 0] += (e * lateral * np.abs(np.sin(np.radians(psi))) * np.sign(rel[:, 0]))[horiz]
    return out


def _lumps(theta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Smooth pseudo-random bumps in -1..1 over the head's directions (curls): a fixed sum of
    sines, the same on every run."""
    return (np.sin(7 * theta + 5 * phi + 0.3) * np.cos(5 * theta - 9 * phi + 1.1)
            + 0.5 * np.sin(11 * theta + 13 * phi + 2.0)) / 1.5


def _part(shell: np.ndarray, centre: np.ndarray, r: np.ndarray, d: np.ndarray, style: HairStyle) -> np.ndarray:
    """The shell with a parting groove: on the upper front, points within ~1 cm of the line
    x = x0 (0 centre, +-4 cm beside it; +x is the person's left) sink to 3 mm over the skull."""
    x0 = {"left": 0.04, "centre": 0.0, "right": -0.04}[style.parting]
    rel = shell - centre
    front = np.clip(rel[..., 2] / 0.03, 0.0, 1.0) * (d[..., 1] > 0.15)  # forward of the crown, above the temples
    g = front * np.exp(-(((rel[..., 0] - x0) / 0.01) ** 2))
    thick = np.linalg.norm(rel, axis=-1) - r
    thick = thick - g * np.maximum(thick - 0.003, 0.0) * 0.85
    return centre + (r + thick)[..., None] * d


def _curtain(p: dict, shell: np.ndarray, theta: np.ndarray, style: HairStyle) -> np.ndarray:
    """(C, DROP + 1, 3) head-frame points of the hanging curtain: the columns at the sides and
    back (|theta| >= 60 deg) fall from the shell's lower edge to ``style.length`` below the
    eyes, pushed out where the neck, shoulders or back would poke through."""
    centre = p["centre"]
    cols = _curtain_columns(theta)
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
        if style.curl > 0 and k:  # curly hair spreads going down, in uneven locks
            rad_k = rad_k + style.curl * t * (0.035 + 0.012 * _lumps(ang, np.full_like(ang, 2.0 * t)))
        rows.append(np.stack([centre[0] + rad_k * np.sin(ang), y, centre[2] + rad_k * np.cos(ang)], -1))
    # A hanging curtain never tucks back in: the radius only grows going down.
    for k in range(1, len(rows)):
        rk, rp = rows[k][:, [0, 2]] - centre[[0, 2]], rows[k - 1][:, [0, 2]] - centre[[0, 2]]
        grow = np.maximum(np.linalg.norm(rk, axis=1), np.linalg.norm(rp, axis=1)) / np.maximum(np.linalg.norm(rk, axis=1), 1e-9)
        rows[k][:, [0, 2]] = centre[[0, 2]] + rk * grow[:, None]
    return np.stack(rows, 1)


def _skull_point(p: dict, theta: float, phi: float, lift: float) -> np.ndarray:
    """Head-frame point ``lift`` metres over the skull in the direction (azimuth, elevation)."""
    a = int(round(theta / (2 * np.pi) * _N_AZ)) % _N_AZ
    r = float(np.interp(-phi, -p["phis"], p["r_grid"][a]))
    d = np.array([np.cos(phi) * np.sin(theta), np.sin(phi), np.cos(phi) * np.cos(theta)])
    return p["centre"] + (r + lift) * d


def _tube(path: np.ndarray, radii: np.ndarray, n_ring: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A closed tube around ``path`` (N, 3) with ``radii`` (N,), capped at both ends, wound
    counter-clockwise seen from outside: ``(vertices, faces)``."""
    t = np.gradient(path, axis=0)
    t /= np.linalg.norm(t, axis=1, keepdims=True)
    ref = np.array([1.0, 0.0, 0.0])
    n1 = np.cross(t, ref)
    n1 /= np.maximum(np.linalg.norm(n1, axis=1, keepdims=True), 1e-9)
    n2 = np.cross(t, n1)
    ang = np.linspace(0, 2 * np.pi, n_ring, endpoint=False)
    ring = path[:, None] + radii[:, None, None] * (np.cos(ang)[None, :, None] * n1[:, None] + np.sin(ang)[None, :, None] * n2[:, None])
    v = np.concatenate([ring.reshape(-1, 3), path[[0, -1]]])
    f = _ring_faces(len(path), n_ring)
    # Orient by the sign of the tube's volume (the ring's handedness depends on the frame).
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    if np.einsum("fc,fc->f", a, np.cross(b, c)).sum() < 0:  # f: face, c: xyz
        f = f[:, [0, 2, 1]]
    return v, f


def _ring_faces(n: int, n_ring: int) -> np.ndarray:
    """Triangles joining ``n`` rings of ``n_ring`` vertices (ring-major) into a tube, plus fans to
    two cap vertices appended after them (indices ``n * n_ring`` and ``n * n_ring + 1``)."""
    f = []
    for i in range(n - 1):
        for j in range(n_ring):
            a, b = i * n_ring + j, i * n_ring + (j + 1) % n_ring
            f += [(a, b, b + n_ring), (a, b + n_ring, a + n_ring)]
    c0, c1 = n * n_ring, n * n_ring + 1
    for j in range(n_ring):
        f += [(c0, (j + 1) % n_ring, j), (c1, (n - 1) * n_ring + j, (n - 1) * n_ring + (j + 1) % n_ring)]
    return np.asarray(f, np.int64)


def _ponytail(p: dict, style: HairStyle) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(head-frame vertices, faces, hang share, (u around, v along, tip) per vertex) of a ponytail: a tapered tube tied at the back of
    the head at eye height, arching back and falling behind the neck to ``style.length`` below
    the eyes (at least 8 cm below its root), kept clear of the neck and back."""
    root = _skull_point(p, np.pi, np.radians(8.0), 0.0)
    tip_y = min(-float(style.length), root[1] - 0.08) if style.length > 0 else root[1] - 0.2
    s = np.linspace(0.0, 1.0, 16)
    p0, p1, p2 = root, root + np.array([0.0, -0.01, -0.07]), np.array([root[0], tip_y, root[2] - 0.06])
    path = ((1 - s) ** 2)[:, None] * p0 + (2 * s * (1 - s))[:, None] * p1 + (s ** 2)[:, None] * p2  # quadratic Bezier
    radii = (0.016 + 0.016 * np.sin(np.pi * np.clip(s * 1.6, 0, 1))) * (1 - 0.75 * s ** 2) * (1 + 0.5 * style.curl)
    # Behind the back: each point stays radius + 5 mm behind the body near the middle at its height.
    tl = p["torso_local"]
    for i in range(2, len(path)):
        near = tl[(np.abs(tl[:, 1] - path[i, 1]) < 0.02) & (np.abs(tl[:, 0] - path[i, 0]) < 0.05)]
        if len(near):
            path[i, 2] = min(path[i, 2], near[:, 2].min() - radii[i] - 0.005)
    v, f = _tube(path, radii)
    share = np.concatenate([np.repeat(np.clip(s * 1.5, 0, 1), 12), [0.0, 1.0]])
    tex = np.stack([np.concatenate([np.tile(np.arange(12) / 12, len(s)), [0.5, 0.5]]),
                    np.concatenate([np.repeat(0.99 - 0.98 * s, 12), [0.99, 0.01]]),
                    np.concatenate([np.repeat(np.clip((s - 0.75) / 0.25, 0, 1), 12), [0.0, 1.0]])], 1)
    return v, f, share, tex


def _bun(p: dict, style: HairStyle) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(head-frame vertices, faces, hang share = 0, (u around, v up, tip = 0)) of a bun: an ellipsoid (5 x 4.5 x 4 cm
    half-axes, more with curls) sitting on the back of the crown."""
    c = _skull_point(p, np.pi, np.radians(40.0), 0.028)
    k = 1.0 + 0.3 * style.curl
    lat, lon = np.radians(np.linspace(-80, 80, 9)), np.linspace(0, 2 * np.pi, 16, endpoint=False)
    ring = np.stack([np.cos(lat)[:, None] * np.cos(lon)[None], np.sin(lat)[:, None].repeat(16, 1),
                     np.cos(lat)[:, None] * np.sin(lon)[None]], -1)
    poles = np.array([[0.0, -0.04, 0.0], [0.0, 0.04, 0.0]]) * k
    v = np.concatenate([(ring * np.array([0.05, 0.04, 0.045]) * k).reshape(-1, 3), poles]) + c
    f = _ring_faces(len(lat), len(lon))
    f = _wind_out(v, f, c)
    tex = np.stack([np.concatenate([np.tile(np.arange(16) / 16, len(lat)), [0.5, 0.5]]),
                    np.concatenate([np.repeat(0.5 + 0.49 * lat / lat.max(), 16), [0.01, 0.99]]), np.zeros(len(v))], 1)
    return v, f, np.zeros(len(v)), tex


def _wind_out(v: np.ndarray, faces: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """Faces of a star-shaped closed mesh wound counter-clockwise seen from outside (from ``centre``)."""
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    flip = np.einsum("fc,fc->f", np.cross(b - a, c - a), (a + b + c) / 3 - centre) < 0  # f: face, c: xyz
    faces = faces.copy()
    faces[flip] = faces[flip][:, [0, 2, 1]]
    return faces


def _hanging_skin(p: dict, world: np.ndarray, hang: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Skin weights: vertices with ``hang`` 0 follow the head bone alone; the others take the
    weights of the nearest head/neck/torso vertex of the body, with the head's share falling
    from 1 at ``hang`` 0 to 0 from ``hang`` 0.3 on."""
    head_bone, sidx, sw = p["head_bone"], p["si"], p["sw"]
    s_idx = np.zeros((len(world), k), np.int64)
    s_w = np.zeros((len(world), k), np.float32)
    s_idx[:, 0] = head_bone
    s_w[:, 0] = 1.0
    rows_ = np.flatnonzero(hang > 0)
    if len(rows_):
        _, nn = p["body_tree"].query(world[rows_])
        src = p["body_ok"][nn]
        s_idx[rows_] = sidx[src]
        s_w[rows_] = sw[src]
        top_share = np.clip(1.0 - hang[rows_] / 0.3, 0.0, 1.0)
        s_w[rows_] *= (1.0 - top_share)[:, None]
        # Put the head share in a free slot (the smallest weight's slot).
        has_head = s_idx[rows_] == head_bone
        slot = np.where(has_head.any(1), has_head.argmax(1), s_w[rows_].argmin(1))
        s_idx[rows_, slot] = head_bone
        s_w[rows_, slot] += top_share
        s_w[rows_] /= s_w[rows_].sum(1, keepdims=True)
    return s_idx, s_w


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
