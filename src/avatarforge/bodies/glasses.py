"""Glasses as geometry: frame rims, a bridge and temples (lenses optional), placed on the head.

Built in the head's frame (origin between the eyes, the head joint's axes: +X the subject's
left, +Y up, +Z forward; the same frame as :mod:`.hair`) from the posed body output, so the
glasses fit any face shape and head pose:

* **rims**: two rounded-rectangle (superellipse) loops in a plane just in front of the eye
  region (the most forward head vertex behind each rim, the brows included, plus a
  clearance), centred on the eyes, sized from the distance between the eyes (a lens
  ~0.8 x 0.55 of it: ~50 x 35 mm for a 63 mm eye distance);
* **bridge**: an arc between the rims' inner edges, in front of the nose;
* **temples**: from the rims' outer edges back along the side of the head to the ears,
  kept outside the skull (each point pushed out past most head vertices at its height and
  depth: the ear's rim may stand out beyond it), ending in a short drop at the ear;
* **lenses** (optional, e.g. sunglasses): a flat fan inside each rim, their own part.

Every piece is a swept tube (:func:`tube`, a few millimetres thick). Everything is skinned to
the head joint alone (rigid, as real glasses), so it follows the head in any pose.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

from avatarforge.bodies.hair import _head_frame as head_frame  # one home for the head frame

__all__ = ["GlassesStyle", "GlassesMesh", "build_glasses", "tube"]


@dataclass(frozen=True)
class GlassesStyle:
    """Shape of the glasses (lengths in metres or in units of the eye distance)."""

    lens_width: float = 0.80
    """Lens width, in units of the distance between the eye centres."""
    lens_height: float = 0.55
    """Lens height, in units of the distance between the eye centres."""
    roundness: float = 3.0
    """Superellipse exponent of the rims: 2 = ellipse, larger = more rectangular."""
    wire: float = 0.0022
    """Radius of the frame's tubes."""
    clearance: float = 0.004
    """Gap between the lens plane and the most forward skin behind the rims."""
    lenses: bool = False
    """Add lens geometry (its own part; e.g. dark lenses for sunglasses)."""


@dataclass
class GlassesMesh:
    """The glasses' meshes, skinned to the body's joints (same joint order)."""

    vertices: Float[np.ndarray, "V 3"]
    """Frame (rims, bridge, temples), world metres, the body output's pose."""
    faces: Int[np.ndarray, "F 3"]
    skin_indices: Int[np.ndarray, "V 1"]
    """Every vertex on the head joint."""
    skin_weights: Float[np.ndarray, "V 1"]
    lens_vertices: Float[np.ndarray, "L 3"]
    """Lenses (empty without ``style.lenses``)."""
    lens_faces: Int[np.ndarray, "G 3"]
    style: GlassesStyle
    head_joint: int
    """Index of the joint everything is skinned to."""

    @property
    def lens_skin(self) -> tuple[np.ndarray, np.ndarray]:
        """(skin_indices, skin_weights) of the lens vertices (the head joint)."""
        n = len(self.lens_vertices)
        return np.full((n, 1), self.head_joint, np.int64), np.ones((n, 1), np.float32)


def tube(path: Float[np.ndarray, "N 3"], radius: float, closed: bool, reference: Float[np.ndarray, "3"],
         sides: int = 8) -> tuple[Float[np.ndarray, "M 3"], Int[np.ndarray, "F 3"]]:
    """A tube of ``radius`` swept along ``path`` (``closed``: a loop), with ``sides`` vertices
    per ring; rings are oriented by ``reference`` (a direction never parallel to the path).
    Open tubes get flat end caps. Faces are counter-clockwise seen from outside."""
    p = np.asarray(path, np.float64)
    n = len(p)
    if n < 2:
        raise ValueError("a tube needs at least 2 path points")
    nxt = np.roll(p, -1, 0) if closed else np.concatenate([p[1:], p[-1:] + (p[-1] - p[-2])])
    prv = np.roll(p, 1, 0) if closed else np.concatenate([p[:1] - (p[1] - p[0]), p[:-1]])
    t = nxt - prv
    t /= np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
    u = np.asarray(reference, np.float64)[None] - (t @ np.asarray(reference, np.float64))[:, None] * t
    u /= np.maximum(np.linalg.norm(u, axis=1, keepdims=True), 1e-12)
    w = np.cross(t, u)
    ang = 2 * np.pi * np.arange(sides) / sides
    rings = p[:, None] + radius * (np.cos(ang)[None, :, None] * u[:, None] + np.sin(ang)[None, :, None] * w[:, None])
    verts = rings.reshape(-1, 3)
    faces = []
    segs = n if closed else n - 1
    for i in range(segs):
        j = (i + 1) % n
        for k in range(sides):
            k1 = (k + 1) % sides
            a, b, c, d = i * sides + k, i * sides + k1, j * sides + k1, j * sides + k
            faces += [(a, b, c), (a, c, d)]
    if not closed:  # fans over each end, centred on the path's end points
        base = len(verts)
        verts = np.concatenate([verts, p[[0, -1]]])
        for k in range(sides):
            k1 = (k + 1) % sides
            faces.append((base, k1, k))
            faces.append((base + 1, (n - 1) * sides + k, (n - 1) * sides + k1))
    return verts, np.asarray(faces, np.int64)


def _superellipse(a: float, b: float, exponent: float, n: int = 40) -> np.ndarray:
    """(n, 2) points of ``|x/a|^e + |y/b|^e = 1``, counter-clockwise from +x."""
    t = 2 * np.pi * np.arange(n) / n
    c, s = np.cos(t), np.sin(t)
    e = 2.0 / exponent
    return np.stack([a * np.sign(c) * np.abs(c) ** e, b * np.sign(s) * np.abs(s) ** e], -1)


def build_glasses(out, style: GlassesStyle | None = None) -> GlassesMesh:
    """Glasses fitted to the posed body output ``out`` (a :class:`~avatarforge.bodies.BodyOutput`
    with ``head``, ``eye.L`` and ``eye.R`` joints).

    Raises:
        ValueError: the body has no head or eye joints.
    """
    style = style or GlassesStyle()
    names = list(out.joint_names)
    if not all(n in names for n in ("head", "eye.L", "eye.R")):
        raise ValueError("glasses need a body with head, eye.L and eye.R joints")
    origin, rot = head_frame(out)
    jw = out.joints_world[0].detach().numpy().astype(np.float64)
    eyes = np.stack([(jw[names.index(n), :3, 3] - origin) @ rot for n in ("eye.R", "eye.L")])
    v = out.vertices[0].detach().numpy().astype(np.float64)
    si, sw = out.skin_indices.numpy(), out.skin_weights.numpy()
    dominant = si[np.arange(len(si)), sw.argmax(1)]
    head_ids = [names.index(n) for n in ("head", "eye.L", "eye.R")]
    local = (v[np.isin(dominant, head_ids)] - origin) @ rot  # head vertices in the head frame
    ipd = float(np.linalg.norm(eyes[1] - eyes[0]))
    a, b = style.lens_width * ipd / 2, style.lens_height * ipd / 2
    outline = _superellipse(a, b, style.roundness)
    centres = eyes[:, :2] + np.array([0.0, -0.08 * b])
    # The lens plane: in front of every head vertex behind either rim (brows, lids, cheeks).
    behind = np.zeros(len(local), bool)
    for c in centres:
        q = (local[:, :2] - c) / np.array([a, b])
        behind |= (np.abs(q[:, 0]) ** style.roundness + np.abs(q[:, 1]) ** style.roundness) <= 1.0
    z_lens = float(local[behind, 2].max() if behind.any() else eyes[:, 2].max() + 0.015) + style.clearance + style.wire
    pieces: list[tuple[np.ndarray, np.ndarray]] = []
    zaxis = np.array([0.0, 0.0, 1.0])
    rims = []
    for c in centres:
        rim = np.column_stack([c + outline, np.full(len(outline), z_lens)])
        rims.append(rim)
        pieces.append(tube(rim, style.wire, True, zaxis))
    # Bridge: between the rims' inner edges (the right eye is at -x), over the nose.
    inner_r = rims[0][np.argmax(rims[0][:, 0] + 0.3 * rims[0][:, 1])]
    inner_l = rims[1][np.argmin(rims[1][:, 0] - 0.3 * rims[1][:, 1])]
    nose = local[(np.abs(local[:, 0]) < 0.006) & (np.abs(local[:, 1] - inner_r[1]) < 0.008)]
    z_bridge = max(z_lens, float(nose[:, 2].max()) + style.clearance + style.wire) if len(nose) else z_lens
    s = np.linspace(0.0, 1.0, 9)
    bridge = (1 - s)[:, None] * inner_r + s[:, None] * inner_l
    bridge[:, 1] += 0.08 * b * np.sin(np.pi * s)
    bridge[:, 2] = z_lens + (z_bridge - z_lens) * np.sin(np.pi * s)
    pieces.append(tube(bridge, style.wire, False, zaxis))
    # Temples: from each rim's outer edge (upper third) back to the ear, outside the skin.
    # The ears: the most outward head vertices at eye height, 5-12 cm behind the lens plane.
    band = local[(np.abs(local[:, 1] - eyes[:, 1].mean()) < 0.02) & (local[:, 2] < z_lens - 0.05)
                 & (local[:, 2] > z_lens - 0.12)]
    z_ear = float(band[np.argmax(np.abs(band[:, 0])), 2]) if len(band) else z_lens - 0.09
    yaxis = np.array([0.0, 1.0, 0.0])
    for rim, side in ((rims[0], -1.0), (rims[1], 1.0)):
        hinge = rim[np.argmax(side * rim[:, 0] + 0.25 * rim[:, 1])]
        zs = np.linspace(hinge[2], z_ear - 0.004, 14)
        path = np.column_stack([np.full(len(zs), hinge[0]), np.linspace(hinge[1], hinge[1] + 0.004, len(zs)), zs])
        for k, p in enumerate(path):
            near = local[(np.abs(local[:, 1] - p[1]) < 0.012) & (np.abs(local[:, 2] - p[2]) < 0.012)]
            # In front of the ear the skin's outermost point; at the ear the skull's side, not
            # the ear's rim (the temple rests where the ear meets the head), never narrowing.
            at_ear = p[2] < z_ear + 0.025
            skin_x = (float(np.percentile(side * near[:, 0], 60) if at_ear else np.max(side * near[:, 0]))
                      if len(near) else 0.0)
            prev = side * path[k - 1, 0] if k else 0.0
            path[k, 0] = side * max(side * p[0], skin_x + style.wire + 0.002, prev)
        # Smooth the pushed-out path a little, then the drop behind the ear.
        path[1:-1, 0] = (path[:-2, 0] + path[1:-1, 0] + path[2:, 0]) / 3
        drop = path[-1] + np.array([[0.0, -0.008, -0.006], [0.0, -0.018, -0.009]])
        pieces.append(tube(np.concatenate([path, drop]), style.wire, False, yaxis))
    verts_l, faces = [], []
    offset = 0
    for pv, pf in pieces:
        verts_l.append(pv)
        faces.append(pf + offset)
        offset += len(pv)
    frame_v = np.concatenate(verts_l) @ rot.T + origin
    frame_f = np.concatenate(faces)
    lens_v = np.zeros((0, 3))
    lens_f = np.zeros((0, 3), np.int64)
    if style.lenses:
        lv, lf = [], []
        for rim in rims:
            centre = rim.mean(0)
            base = sum(len(x) for x in lv)
            pts = np.concatenate([centre[None], rim - np.array([0.0, 0.0, 0.3 * style.wire])])
            m = len(rim)
            lv.append(pts)
            lf.append(np.array([(base, base + 1 + k, base + 1 + (k + 1) % m) for k in range(m)], np.int64))
        lens_v = np.concatenate(lv) @ rot.T + origin
        lens_f = np.concatenate(lf)
    head = names.index("head")
    return GlassesMesh(frame_v.astype(np.float64), frame_f, np.full((len(frame_v), 1), head, np.int64),
                       np.ones((len(frame_v), 1), np.float32), lens_v.astype(np.float64), lens_f, style, head)
