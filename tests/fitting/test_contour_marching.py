"""Landmark marching of the iBUG-68 jaw on turned heads: an ellipsoid with a known silhouette,
and the body model's head turned away."""

from __future__ import annotations

import numpy as np
import torch

from avatarforge.fitting.ibug68 import JAW, contour_lines, far_side, march, marched_jaw


def _ellipsoid(a=0.07, b=0.11, c=0.09, n=120):
    """Vertices of an ellipsoid 'head' (x: half-width a, y: b, z: c), a dense grid."""
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 2 * n, endpoint=False), np.linspace(0.05, np.pi - 0.05, n))
    return np.column_stack([a * np.sin(v).ravel() * np.cos(u).ravel(), b * np.cos(v).ravel(),
                            c * np.sin(v).ravel() * np.sin(u).ravel()])


def _turn(points, yaw_deg):
    """Rotate about +Y (the face, +Z, turns towards +X) and project orthographically to an
    image with x right (= world +X at yaw 0) and y down."""
    t = np.radians(yaw_deg)
    r = np.array([[np.cos(t), 0, np.sin(t)], [0, 1, 0], [-np.sin(t), 0, np.cos(t)]])
    p = points @ r.T
    return np.column_stack([p[:, 0], -p[:, 1]]), -p[:, 2]  # uv, depth (camera at +Z looking down -Z)


def test_ellipsoid_far_side_slides_to_the_silhouette():
    a, b, c = 0.07, 0.11, 0.09
    v = _ellipsoid(a, b, c)
    ys = np.linspace(-0.06, 0.0, 5)
    # Contour points where the frontal outline is (x = +-r(y) a, z = 0), both sides.
    r = np.sqrt(1 - (ys / b) ** 2)
    anchors = np.concatenate([np.column_stack([-a * r, ys, 0 * ys]), np.column_stack([a * r, ys, 0 * ys])])
    front = np.flatnonzero(v[:, 2] > -0.02)
    lines = contour_lines(v, front, anchors)
    assert all(len(line) >= 3 for line in lines)
    for line, anchor in zip(lines, anchors):  # same side, same height, not behind the anchor
        assert np.all(np.sign(v[line, 0]) == np.sign(anchor[0]))
        assert np.all(np.abs(v[line, 1] - anchor[1]) < 0.0076)
    yaw = 40.0
    uv, depth = _turn(v, yaw)
    anchor_uv, anchor_depth = _turn(anchors, yaw)
    side = far_side(anchor_depth, anchors[:, 0])
    assert side == 1  # turning towards +X takes the +X side away from the camera
    t = np.radians(yaw)
    for k, (line, anchor) in enumerate(zip(lines, anchors)):
        if np.sign(anchor[0]) != side:
            continue
        pick = line[march(uv[line], np.array([side, 0.0]))]
        # The silhouette of a horizontal slice of radius factor r(y) at this yaw:
        # max over the slice of x cos t + z sin t = r sqrt(a^2 cos^2 t + c^2 sin^2 t); the
        # line's band spans heights |y| - 5 mm .. |y| + 5 mm.
        def silhouette(y):
            return np.sqrt(1 - (y / b) ** 2) * np.sqrt((a * np.cos(t)) ** 2 + (c * np.sin(t)) ** 2)

        lo, hi = silhouette(abs(anchor[1]) + 0.005), silhouette(max(abs(anchor[1]) - 0.005, 0.0))
        assert lo - 0.001 < uv[pick, 0] < hi + 0.0005
        assert uv[pick, 0] > anchor_uv[k, 0] + 0.01  # the anatomical point is well inside


def test_far_side_needs_a_turn():
    x = np.array([-0.06, -0.05, 0.05, 0.06])
    assert far_side(np.zeros(4), x) == 0
    small = np.array([-1, -1, 1, 1]) * 0.06 * np.sin(np.radians(3))  # 3 degrees: below the threshold
    assert far_side(small, x) == 0
    assert far_side(-small * 5, x) == -1


def test_body_head_turned_jaw_on_the_occluding_contour(body):
    """The body's head turned 40 degrees: each far-side jaw point is marched to a vertex whose
    surface is seen edge-on (normal perpendicular to the view ray), while the anatomical
    point there faces away; the near side and a frontal head keep their anatomical points."""
    from avatarforge.dev.build_embedding import face_camera
    from avatarforge.bodies.landmark_embedding import load_embedding
    from avatarforge.fitting.face_fit import jaw_lines
    from avatarforge.render.shading import vertex_normals

    lines, x_rest = jaw_lines(body)
    faces = body.faces.numpy()
    ibug = load_embedding("ibug68")
    front = body.forward_params({})
    cam = face_camera(front, body.joint_names, 512)
    for yaw, expected_side in ((0.0, 0), (40.0, 1), (-40.0, -1)):
        out = body.forward_params({"pose.head.y": yaw})
        v = out.vertices[0].numpy()
        proj = cam.project(v)
        ib = cam.project(ibug.points(torch.as_tensor(v), faces).numpy())
        marched, side = marched_jaw(ib[:, :2], ib[list(JAW), 2], x_rest, lines, proj[:, :2])
        assert side == expected_side
        far = [k for k in JAW if np.sign(x_rest[k]) == side and len(lines[k])] if side else []
        near = [k for k in range(68) if k not in far]
        np.testing.assert_array_equal(marched[near], ib[near, :2])
        if not side:
            continue
        normals = vertex_normals(torch.as_tensor(v), faces).numpy()
        centre = -cam.R.T @ cam.t  # camera position in the world
        for k in far:
            ids = lines[k]
            pick = ids[np.argmin(np.linalg.norm(proj[ids, :2] - marched[k], axis=1))]
            ray = v[pick] - centre
            cos_pick = normals[pick] @ ray / np.linalg.norm(ray)
            assert abs(cos_pick) < 0.3, (k, cos_pick)
        # The anatomical far-side points are turned away from the camera (back-facing) or
        # grazing, and the marched ones lie outward of them in the image.
        outward = side * (ib[16, :2] - ib[0, :2]) / np.linalg.norm(ib[16, :2] - ib[0, :2])
        gain = (marched[far] - ib[far, :2]) @ outward
        assert np.all(gain >= -1e-9) and gain.max() > 3.0
