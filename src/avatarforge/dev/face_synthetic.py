"""Synthetic faces with known ground truth, for evaluating the face fit (benchmarks, tests).

Random identities, expressions and head poses of the body model, rendered with plain
shading (the bundled face mesh detects landmarks on such renders), and the error measures
used to compare a fit with the truth.
"""

from __future__ import annotations

import numpy as np

__all__ = ["similarity_error", "face_region", "random_sample", "render_sample", "draw_glasses", "draw_hat"]


def similarity_error(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-point distance after the best similarity transform taking a onto b (Umeyama)."""
    from avatarforge.util.geometry import umeyama

    r, t, scale = umeyama(a, b)
    return np.linalg.norm(scale * np.asarray(a) @ r.T + t - b, axis=1)


def face_region(body) -> tuple[np.ndarray, np.ndarray]:
    """Vertex ids of the face region (inside the landmark face outline, front of the head)
    and of the whole head, on the reference body."""
    from matplotlib.path import Path as Polygon

    from avatarforge.bodies.head_mesh import head_faces
    from avatarforge.bodies.landmark_embedding import load_embedding
    from avatarforge.perception.landmark_groups import OVAL

    out = body.forward_params({})
    v, f = out.vertices[0].numpy(), out.faces.numpy()
    head = np.unique(f[head_faces(body, f)])
    lm = load_embedding().points(out.vertices, f)[0].numpy()
    ring = lm[list(OVAL)]
    centre = ring[:, :2].mean(0)
    order = np.argsort(np.arctan2(ring[:, 1] - centre[1], ring[:, 0] - centre[0]))
    inside = Polygon(ring[order, :2]).contains_points(v[head, :2])
    front = v[head, 2] > np.median(ring[:, 2]) - 0.01
    return head[inside & front], head


def random_sample(body, rng: np.random.Generator) -> dict[str, float]:
    values = {
        "gender": rng.uniform(0, 1), "age": rng.uniform(0.45, 1.0), "weight": rng.uniform(0.2, 0.8),
        "muscle": rng.uniform(0.2, 0.8), "proportions": rng.uniform(0, 1), "height": rng.uniform(0, 1),
    }
    for s in body.params:
        if s.group == "local" and s.region in ("face", "head"):
            values[s.name] = float(np.clip(rng.normal(0, 0.3), -1, 1))
    for name in rng.choice(body.params.names("expression"), size=4, replace=False):
        values[str(name)] = float(rng.uniform(0, 0.6))
    values["pose.head.y"] = float(rng.uniform(-30, 30))
    values["pose.head.x"] = float(rng.uniform(-15, 15))
    values["pose.head.z"] = float(rng.uniform(-8, 8))
    return values


def render_sample(body, values, rng):
    from avatarforge.render import Camera, render_mesh

    out = body.forward_params(values)
    j = out.joints[0].numpy()
    eyes = (j[body.joint_names.index("eye.L")] + j[body.joint_names.index("eye.R")]) / 2
    size = 640
    fov = rng.uniform(20, 45)
    dist = 0.13 / np.tan(np.radians(fov) / 2)  # face fills ~ the same part of the frame
    target = eyes + np.array([rng.uniform(-0.02, 0.02), -0.03, 0.0])
    cam = Camera.look_at(target + np.array([0.0, 0.0, dist]), target, width=size, height=size, fov_y_deg=fov)
    skin = np.clip(np.array([0.95, 0.74, 0.62]) * rng.uniform(0.4, 1.0), 0, 1)
    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.1, 0.6), 1.0])
    res = render_mesh(out.vertices[0].numpy(), out.faces.numpy(), cam, base_color=tuple(skin),
                      light_dir=light / np.linalg.norm(light), background=(*rng.integers(0, 120, 3).tolist(), 255))
    return out, cam, res.rgba[..., :3].copy()


def draw_glasses(rgb: np.ndarray, points: np.ndarray, colour: tuple[int, int, int] = (20, 20, 25)) -> np.ndarray:
    """A copy of ``rgb`` with glasses drawn over the face of the 478 landmarks ``points``
    (pixels): an elliptic rim round each eye and a bar between them."""
    import cv2

    from avatarforge.perception import landmark_groups as fr

    img = rgb.copy()
    eye_w = np.linalg.norm(points[fr.RIGHT_EYE_OUTER, :2] - points[fr.RIGHT_EYE_INNER, :2])
    t = max(2, int(0.08 * eye_w))
    cs = [points[ids, :2].mean(0) for ids in (fr.RIGHT_EYE, fr.LEFT_EYE)]
    for c in cs:
        cv2.ellipse(img, (int(c[0]), int(c[1])), (int(0.8 * eye_w), int(0.55 * eye_w)), 0, 0, 360, colour, t)
    cv2.line(img, (int(cs[0][0] + 0.8 * eye_w), int(cs[0][1])), (int(cs[1][0] - 0.8 * eye_w), int(cs[1][1])), colour, t)
    return img


def draw_hat(rgb: np.ndarray, points: np.ndarray, colour: tuple[int, int, int] = (40, 60, 200)) -> np.ndarray:
    """A copy of ``rgb`` with a cap (a filled half ellipse) over the forehead of the face of
    the 478 landmarks ``points`` (pixels)."""
    import cv2

    img = rgb.copy()
    x0, y0 = points[:, :2].min(0)
    x1, y1 = points[:, :2].max(0)
    cv2.ellipse(img, (int((x0 + x1) / 2), int(y0 + 0.05 * (y1 - y0))), (int(0.75 * (x1 - x0)), int(0.75 * (y1 - y0))),
                0, 180, 360, colour, -1)
    return img
