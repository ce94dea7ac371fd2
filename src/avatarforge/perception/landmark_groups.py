"""Named groups of the 478-point mediapipe face mesh's landmarks, as data: the one home of
every landmark index list (regions, contours, the fitting losses' lid/lip pairs and irises).

Sides are the SUBJECT's: ``LEFT_*`` is the person's left eye/brow/iris, which appears on the
IMAGE's RIGHT in an ordinary (unmirrored) photo. This is mediapipe's own naming
(``FACEMESH_LEFT_EYE`` etc.) and was checked on matplotlib's Grace Hopper portrait, whose
name tag text reads correctly (so it is not mirrored) and whose ribbons (worn on the left
breast) are on the image's right: ``LEFT_EYE`` lies there too (tests/perception).

Every ordered list is derived at import time from mediapipe's connection sets
(``mp.solutions.face_mesh_connections``), which are unordered edge sets. Ordering them needs
a few anchors -- documented mediapipe landmark ids (eye and mouth corners, forehead top) --
and a sense of "up" and "inward", taken from hop distances on the mesh's own tessellation
graph (an upper lid is fewer hops from the brow than the lower lid is). Conventions:

* eye contours start at the outer corner and run along the upper lid first;
* ``*_UPPER`` / ``*_LOWER`` lid and lip paths run corner to corner (eyes: outer -> inner;
  lips: subject's right corner -> left corner), both ends included, so position ``i`` of an
  upper path faces position ``i`` of its lower path;
* lip contours start at the subject's right corner and run along the upper lip first;
* the face oval starts at the forehead top and runs toward the subject's left (clockwise on
  screen for an upright face);
* brow lines run from the inner end (by the nose) to the outer end.
"""

from __future__ import annotations

from collections import deque

from avatarforge.perception._mediapipe import face_mesh_connections as _fmc

__all__ = [
    "N_LANDMARKS", "NOSE_TIP", "FOREHEAD_TOP", "CHIN",
    "RIGHT_EYE_OUTER", "RIGHT_EYE_INNER", "LEFT_EYE_INNER", "LEFT_EYE_OUTER",
    "MOUTH_RIGHT", "MOUTH_LEFT", "INNER_MOUTH_RIGHT", "INNER_MOUTH_LEFT",
    "RIGHT_EYE", "RIGHT_EYE_UPPER", "RIGHT_EYE_LOWER", "LEFT_EYE", "LEFT_EYE_UPPER", "LEFT_EYE_LOWER",
    "RIGHT_IRIS", "LEFT_IRIS", "RIGHT_IRIS_CENTER", "LEFT_IRIS_CENTER",
    "RIGHT_EYEBROW_UPPER", "RIGHT_EYEBROW_LOWER", "LEFT_EYEBROW_UPPER", "LEFT_EYEBROW_LOWER",
    "LIPS_OUTER", "LIPS_OUTER_UPPER", "LIPS_OUTER_LOWER",
    "LIPS_INNER", "LIPS_INNER_UPPER", "LIPS_INNER_LOWER",
    "FACE_OVAL", "NOSE",
    "OVAL", "EYE_PAIRS", "LIP_PAIRS", "IRIS_RIGHT", "IRIS_LEFT", "IRIS", "FEATURES",
]

N_LANDMARKS = 478
"""468 mesh points + 10 iris points (``refine_landmarks=True``)."""

# Anchors: documented mediapipe canonical-mesh ids (checked against the connection sets below).
NOSE_TIP = 1
FOREHEAD_TOP = 10
CHIN = 152
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133
LEFT_EYE_INNER, LEFT_EYE_OUTER = 362, 263
MOUTH_RIGHT, MOUTH_LEFT = 61, 291
INNER_MOUTH_RIGHT, INNER_MOUTH_LEFT = 78, 308

Edges = frozenset[tuple[int, int]]


def _adjacency(edges: Edges) -> dict[int, list[int]]:
    adj: dict[int, list[int]] = {}
    for a, b in edges:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    return adj


_HOPS_GRAPH = _adjacency(_fmc.FACEMESH_TESSELATION)


def _hops(sources: set[int]) -> dict[int, int]:
    """Hop distance from ``sources`` to every vertex of the tessellation (breadth first)."""
    dist = {s: 0 for s in sources}
    queue = deque(sources)
    while queue:
        v = queue.popleft()
        for w in _HOPS_GRAPH[v]:
            if w not in dist:
                dist[w] = dist[v] + 1
                queue.append(w)
    return dist


def _mean_hops(path: list[int], dist: dict[int, int]) -> float:
    return sum(dist[v] for v in path) / len(path)


def _vertices(edges: Edges) -> set[int]:
    return {v for e in edges for v in e}


def _components(edges: Edges) -> list[set[int]]:
    adj, seen, comps = _adjacency(edges), set(), []
    for start in sorted(adj):
        if start in seen:
            continue
        comp, stack = set(), [start]
        while stack:
            v = stack.pop()
            if v not in comp:
                comp.add(v)
                stack.extend(adj[v])
        seen |= comp
        comps.append(comp)
    return comps


def _walk(adj: dict[int, list[int]], start: int, first: int) -> list[int]:
    """The chain or cycle through ``start`` then ``first``, until it closes or ends."""
    path = [start, first]
    while True:
        nxt = [w for w in adj[path[-1]] if w != path[-2]]
        if not nxt or nxt[0] == start:
            return path
        path.append(nxt[0])


def _split_cycle(edges: Edges, a: int, b: int, up: dict[int, int]) -> tuple[list[int], list[int], list[int]]:
    """A closed contour through corners ``a`` and ``b``: (cycle from ``a`` along the upper
    side, upper path a..b, lower path a..b); "upper" = fewer hops by ``up``."""
    adj = _adjacency(edges)
    sides = []
    for first in adj[a]:
        cycle = _walk(adj, a, first)
        sides.append((cycle, cycle[: cycle.index(b) + 1]))
    (cycle, upper), (_, lower) = sorted(sides, key=lambda s: _mean_hops(s[1][1:-1], up))
    assert _mean_hops(upper[1:-1], up) < _mean_hops(lower[1:-1], up), "ambiguous upper side"
    return cycle, upper, lower


def _brow_lines(edges: Edges, inward: dict[int, int], upward: dict[int, int]) -> tuple[list[int], list[int]]:
    """(upper, lower) brow polylines, each from its inner end to its outer end."""
    adj, lines = _adjacency(edges), []
    for comp in _components(edges):
        ends = sorted((v for v in comp if len(adj[v]) == 1), key=lambda v: inward[v])
        lines.append(_walk(adj, ends[0], adj[ends[0]][0]))
    upper, lower = sorted(lines, key=lambda line: _mean_hops(line, upward))
    assert _mean_hops(upper, upward) < _mean_hops(lower, upward), "ambiguous upper brow line"
    return upper, lower


def _cycle_from_min(edges: Edges) -> list[int]:
    adj = _adjacency(edges)
    start = min(adj)
    return _walk(adj, start, min(adj[start]))


_to_forehead = _hops({FOREHEAD_TOP})
_to_nose = _hops(_vertices(_fmc.FACEMESH_NOSE))

RIGHT_EYE, RIGHT_EYE_UPPER, RIGHT_EYE_LOWER = _split_cycle(
    _fmc.FACEMESH_RIGHT_EYE, RIGHT_EYE_OUTER, RIGHT_EYE_INNER, _hops(_vertices(_fmc.FACEMESH_RIGHT_EYEBROW))
)
LEFT_EYE, LEFT_EYE_UPPER, LEFT_EYE_LOWER = _split_cycle(
    _fmc.FACEMESH_LEFT_EYE, LEFT_EYE_OUTER, LEFT_EYE_INNER, _hops(_vertices(_fmc.FACEMESH_LEFT_EYEBROW))
)

_lip_rings = _components(_fmc.FACEMESH_LIPS)
_outer_ring = next(c for c in _lip_rings if MOUTH_RIGHT in c)
_inner_ring = next(c for c in _lip_rings if INNER_MOUTH_RIGHT in c)
LIPS_OUTER, LIPS_OUTER_UPPER, LIPS_OUTER_LOWER = _split_cycle(
    frozenset(e for e in _fmc.FACEMESH_LIPS if e[0] in _outer_ring), MOUTH_RIGHT, MOUTH_LEFT, _to_nose
)
LIPS_INNER, LIPS_INNER_UPPER, LIPS_INNER_LOWER = _split_cycle(
    frozenset(e for e in _fmc.FACEMESH_LIPS if e[0] in _inner_ring),
    INNER_MOUTH_RIGHT,
    INNER_MOUTH_LEFT,
    _to_nose,
)

RIGHT_EYEBROW_UPPER, RIGHT_EYEBROW_LOWER = _brow_lines(_fmc.FACEMESH_RIGHT_EYEBROW, _to_nose, _to_forehead)
LEFT_EYEBROW_UPPER, LEFT_EYEBROW_LOWER = _brow_lines(_fmc.FACEMESH_LEFT_EYEBROW, _to_nose, _to_forehead)

_oval_adj = _adjacency(_fmc.FACEMESH_FACE_OVAL)
_to_left_eye = _hops(_vertices(_fmc.FACEMESH_LEFT_EYE))
# Of the two ways round from the forehead, the one whose first quarter is nearer the left eye.
FACE_OVAL = min(
    (_walk(_oval_adj, FOREHEAD_TOP, first) for first in _oval_adj[FOREHEAD_TOP]),
    key=lambda cycle: _mean_hops(cycle[1 : len(cycle) // 4], _to_left_eye),
)

NOSE = sorted(_vertices(_fmc.FACEMESH_NOSE))
"""The nose's landmarks (mediapipe's nose lines, unordered: they form a tree, not a contour)."""

RIGHT_IRIS = _cycle_from_min(_fmc.FACEMESH_RIGHT_IRIS)
LEFT_IRIS = _cycle_from_min(_fmc.FACEMESH_LEFT_IRIS)
# The refined model adds 10 points: two 4-point iris rings and, just before each, its centre.
RIGHT_IRIS_CENTER = min(RIGHT_IRIS) - 1
LEFT_IRIS_CENTER = min(LEFT_IRIS) - 1


# Groups used by the face-fitting losses (subject's right eye first, then left).
OVAL = tuple(sorted(FACE_OVAL))
"""The face-oval (outline) landmarks, sorted by index."""
EYE_PAIRS = ((160, 144), (159, 145), (158, 153), (385, 380), (386, 374), (387, 373))
"""Upper-lid / lower-lid landmark pairs (subject's right eye, then left eye)."""
LIP_PAIRS = ((82, 87), (13, 14), (312, 317))
"""Upper / lower inner-lip pairs (mouth opening)."""
IRIS_RIGHT = (RIGHT_IRIS_CENTER, *sorted(RIGHT_IRIS))
"""Iris centre + 4 ring points of the subject's right eye (image left): 468-472."""
IRIS_LEFT = (LEFT_IRIS_CENTER, *sorted(LEFT_IRIS))
"""Iris centre + 4 ring points of the subject's left eye: 473-477."""
IRIS = IRIS_RIGHT + IRIS_LEFT
FEATURES = tuple(sorted(set(RIGHT_EYE) | set(LEFT_EYE) | set(RIGHT_EYEBROW_UPPER) | set(RIGHT_EYEBROW_LOWER)
                        | set(LEFT_EYEBROW_UPPER) | set(LEFT_EYEBROW_LOWER) | set(LIPS_OUTER) | set(LIPS_INNER)
                        | set(NOSE)))
"""The points on visible facial features (eye and lip contours, brow lines, nose lines), sorted:
what a photo shows directly (an edge or a corner). Most other mesh points lie on smooth skin,
where the detector places them from its shape prior rather than from the image."""


def _check() -> None:
    refined = set(range(468, N_LANDMARKS))
    assert refined - set(RIGHT_IRIS) - set(LEFT_IRIS) == {RIGHT_IRIS_CENTER, LEFT_IRIS_CENTER}
    assert len(FACE_OVAL) == len(_vertices(_fmc.FACEMESH_FACE_OVAL)) and CHIN in FACE_OVAL
    for upper, lower in ((RIGHT_EYE_UPPER, RIGHT_EYE_LOWER), (LEFT_EYE_UPPER, LEFT_EYE_LOWER),
                         (LIPS_OUTER_UPPER, LIPS_OUTER_LOWER), (LIPS_INNER_UPPER, LIPS_INNER_LOWER)):
        assert len(upper) == len(lower) and upper[0] == lower[0] and upper[-1] == lower[-1]


_check()
