"""Hair joints: chains of extra joints hanging from the head bone through the hair, the
vertices of the hanging hair skinned to them, and the body colliders they must not enter.

They let an engine sway the hair (VRM's ``VRMC_springBone`` simulates each chain); without
a simulation they follow the head. Nothing here depends on how the hair mesh was built
(`bodies.hair` styles, or any other mesh of hair skinned to the body), only on where its
vertices are:

* **Chains** hang at fixed azimuths around the head (`CHAIN_AZIMUTHS_DEG`: the sides and the
  back; 0 = the face's forward, the head joint's +Z, +90 = the body's left, its +X). A chain
  runs down through the hair in its sector from the *root level* (the head joint's height:
  above it hair hugs the skull, below it hangs free) to the sector's lowest hair vertex, with
  ``n_joints`` joints evenly spaced in height (root first), each at the mean horizontal
  position of the hair vertices near its height in a narrow sector. A sector whose hair
  ends less than `MIN_CHAIN_LENGTH` below the root level gets no chain (short hair is stiff).
* **Weights**: along a chain, linear between the two joints around a vertex's height and
  the head bone above the root level; across chains, linear in azimuth between the two
  nearest chains (a partition of unity); beyond the outermost chains the chain weights fade
  out over one chain spacing into the hair's own skin weights, which are kept elsewhere.
* **Colliders**: a sphere on the head, a capsule along the neck and one across the shoulders
  (on the upper chest), sized from the body vertices each joint dominates and shrunk where
  needed so that no hair joint starts inside one (no jolt on the first frame).

Joint frames are world-aligned (rotation-free), as VRM 1.0 wants its nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, Int

__all__ = ["HairJoints", "HairCollider", "hair_joints", "hair_colliders", "CHAIN_AZIMUTHS_DEG", "MIN_CHAIN_LENGTH",
           "JOINTS_PER_CHAIN"]

#: Azimuths of the chains around the head (degrees; 0 = face forward, +90 = the body's left).
CHAIN_AZIMUTHS_DEG = (90.0, 135.0, 180.0, -135.0, -90.0)
_CHAIN_NAMES = ("side{k}.L", "back{k}.L", "back{k}", "back{k}.R", "side{k}.R")
#: Joints per chain (root, ..., tip).
JOINTS_PER_CHAIN = 4
#: A sector's hair must hang at least this far (metres) below the root level for a chain.
MIN_CHAIN_LENGTH = 0.05
#: Half-width (degrees) of the sector whose vertices place a chain's joints.
_PLACE_HALF_WIDTH_DEG = 12.0


@dataclass
class HairJoints:
    """Extra joints for the hair, appended after the body's ``n_body`` joints."""

    names: list[str]
    """(H,) joint names (``hair_back0`` ... root 0 to tip)."""
    parents: Int[np.ndarray, " H"]
    """Parent of each joint as an index into body joints + these joints (roots: the head)."""
    world: Float[np.ndarray, "H 4 4"]
    """Rest world transforms (translation only: world-aligned frames)."""
    chains: list[tuple[int, ...]]
    """Joint indices (into body + hair joints) of each chain, root first."""
    skin_indices: Int[np.ndarray, "V K"]
    """The hair vertices' new skin (indices into body + hair joints, any K; rows sum to 1)."""
    skin_weights: Float[np.ndarray, "V K"]


@dataclass
class HairCollider:
    """A sphere (``tail`` None) or capsule on a body joint, in world coordinates (bind pose)."""

    joint: int
    centre: Float[np.ndarray, " 3"]
    radius: float
    tail: Float[np.ndarray, " 3"] | None = None


def _azimuth(points: np.ndarray, head_world: np.ndarray) -> np.ndarray:
    """Azimuth (radians) of each point around the head joint: 0 along its +Z, +pi/2 along +X."""
    d = points - head_world[:3, 3]
    return np.arctan2(d @ head_world[:3, 0], d @ head_world[:3, 2])


def _wrap(a: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * a))


def hair_joints(
    vertices: Float[np.ndarray, "V 3"],
    skin_indices: Int[np.ndarray, "V K"],
    skin_weights: Float[np.ndarray, "V K"],
    head_world: Float[np.ndarray, "4 4"],
    head: int,
    n_body: int,
    *,
    azimuths_deg: tuple[float, ...] = CHAIN_AZIMUTHS_DEG,
    n_joints: int = JOINTS_PER_CHAIN,
) -> HairJoints | None:
    """Chains of joints through the hair ``vertices`` (world, +Y up), hanging from joint
    ``head`` (world transform ``head_world``) of a body with ``n_body`` joints; the hair's
    own skin (``skin_indices``/``skin_weights``) is kept where no chain reaches. None when
    no sector hangs `MIN_CHAIN_LENGTH` below the root level (short hair, no hair)."""
    v = np.asarray(vertices, np.float64)
    if len(v) == 0 or n_joints < 2:
        return None
    theta = _azimuth(v, head_world)
    root_y = float(head_world[1, 3])
    half = np.radians(_PLACE_HALF_WIDTH_DEG)
    names, parents, positions, chains, chain_az, tips = [], [], [], [], [], []
    patterns = _CHAIN_NAMES if len(azimuths_deg) == len(_CHAIN_NAMES) else [f"{c}_{{k}}" for c in range(len(azimuths_deg))]
    for az, pattern in zip(np.radians(azimuths_deg), patterns):
        sector = v[np.abs(_wrap(theta - az)) < half]
        if len(sector) == 0 or root_y - sector[:, 1].min() < MIN_CHAIN_LENGTH:
            continue
        tip_y = float(sector[:, 1].min())
        ys = root_y + (tip_y - root_y) * np.linspace(0.0, 1.0, n_joints)
        band = max((root_y - tip_y) / (2 * (n_joints - 1)), 0.01)
        first = n_body + len(names)
        for k, y in enumerate(ys):
            near = sector[np.abs(sector[:, 1] - y) < band]
            if len(near) == 0:  # a gap in the hair at this height: the nearest rows
                near = sector[np.argsort(np.abs(sector[:, 1] - y))[:8]]
            positions.append((near[:, 0].mean(), y, near[:, 2].mean()))
            names.append("hair_" + pattern.format(k=k))
            parents.append(head if k == 0 else first + k - 1)
        chains.append(tuple(range(first, first + n_joints)))
        chain_az.append(az)
        tips.append(tip_y)
    if not chains:
        return None
    world = np.tile(np.eye(4), (len(names), 1, 1))
    world[:, :3, 3] = positions

    # Chain weights: (V, C, 3) joints and weights per chain (head above the root level).
    n_v, n_c = len(v), len(chains)
    az = np.asarray(chain_az)
    spacing = np.radians(45.0) if n_c == 1 else float(np.min(np.abs(_wrap(np.diff(np.sort(az)))))) or np.radians(45.0)
    across = np.clip(1.0 - np.abs(_wrap(theta[:, None] - az[None, :])) / spacing, 0.0, 1.0)  # (V, C)
    coverage = np.minimum(across.sum(1), 1.0)
    across = across / np.maximum(across.sum(1, keepdims=True), 1e-12)
    s = (root_y - v[:, 1:2]) / (root_y - np.asarray(tips)[None, :])  # (V, C): 0 root level .. 1 tip
    f = np.clip(s, 0.0, 1.0) * (n_joints - 1)
    k = np.minimum(np.floor(f).astype(np.int64), n_joints - 2)
    t = f - k
    base = np.asarray([c[0] for c in chains])[None, :]
    upper_j, lower_j = base + k, base + k + 1
    above = s <= 0.0
    upper_j = np.where(above, head, upper_j)
    upper_w = np.where(above, 1.0, 1.0 - t) * across
    lower_w = np.where(above, 0.0, t) * across
    new_idx = np.concatenate([upper_j, lower_j], 1)  # (V, 2C)
    new_w = np.concatenate([upper_w, lower_w], 1) * coverage[:, None]
    old_idx = np.asarray(skin_indices, np.int64)
    old_w = np.asarray(skin_weights, np.float64) * (1.0 - coverage)[:, None]
    idx = np.concatenate([new_idx, old_idx], 1)
    w = np.concatenate([new_w, old_w], 1)
    # Keep the 4 largest per vertex (a vertex sits between at most 2 chains x 2 joints).
    order = np.argsort(-w, axis=1, kind="stable")[:, :4]
    idx = np.take_along_axis(idx, order, 1)
    w = np.take_along_axis(w, order, 1)
    w /= w.sum(1, keepdims=True)
    return HairJoints(names, np.asarray(parents, np.int64), world, chains, idx, w.reshape(n_v, -1))


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    t = np.clip((p - a) @ ab / max(float(ab @ ab), 1e-12), 0.0, 1.0)
    return np.linalg.norm(p - (a + t[:, None] * ab), axis=1)


def hair_colliders(
    body_vertices: Float[np.ndarray, "N 3"],
    dominant_joint: Int[np.ndarray, " N"],
    joint_names: list[str],
    joint_world: Float[np.ndarray, "J 4 4"],
    hair_world: Float[np.ndarray, "H 4 4"],
    hit_radius: float,
) -> list[HairCollider]:
    """Head sphere, neck capsule and shoulder capsule (those whose joints exist) that keep
    the moving hair joints (``hair_world``: every joint but the chains' roots, which only
    turn) off the body. ``dominant_joint``: the joint with the
    largest skin weight of each body vertex. Each radius is a robust fit to the body
    vertices of the collider's joints (the head: half the cranium's width), shrunk to leave
    every hair joint ``hit_radius`` + 2 mm outside."""
    idx = {n: i for i, n in enumerate(joint_names)}
    pos = np.asarray(joint_world, np.float64)[:, :3, 3]
    v = np.asarray(body_vertices, np.float64)
    dom = np.asarray(dominant_joint)
    hair = np.asarray(hair_world, np.float64)[:, :3, 3]
    out: list[HairCollider] = []

    def add(joint: str, owners: tuple[str, ...], a: np.ndarray, b: np.ndarray | None, pct: float,
            cap: float = np.inf) -> None:
        ids = [idx[n] for n in owners if n in idx]
        pts = v[np.isin(dom, ids)]
        if len(pts) < 10:
            return
        far = np.linalg.norm(pts - a, axis=1) if b is None else _segment_distance(pts, a, b)
        radius = min(float(np.percentile(far, pct)), cap)
        gap = np.linalg.norm(hair - a, axis=1) if b is None else _segment_distance(hair, a, b)
        radius = min(radius, float(gap.min()) - hit_radius - 0.002)
        if radius > 0.01:
            out.append(HairCollider(idx[joint], a, radius, b))

    if "head" in idx:  # the cranium (above the head joint): radius half its width, centre that far below its top
        skull = v[(dom == idx["head"]) & (v[:, 1] > pos[idx["head"], 1])]
        if len(skull) >= 10:
            lo, hi = np.percentile(skull, 2, axis=0), np.percentile(skull, 98, axis=0)
            r = float(hi[0] - lo[0]) / 2
            centre = np.array([(lo[0] + hi[0]) / 2, hi[1] - r, (lo[2] + hi[2]) / 2])
            add("head", ("head",), centre, None, 100, cap=r)
    if "neck01" in idx and "head" in idx:
        add("neck01", ("neck01", "neck02", "neck03"), pos[idx["neck01"]], pos[idx["head"]], 50)
    if all(n in idx for n in ("spine01", "upperarm01.L", "upperarm01.R")):
        add("spine01", ("spine01", "clavicle.L", "clavicle.R", "shoulder01.L", "shoulder01.R"),
            pos[idx["upperarm01.L"]], pos[idx["upperarm01.R"]], 50)
    return out
