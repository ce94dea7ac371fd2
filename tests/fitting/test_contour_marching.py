"""Landmark marching of the iBUG-68 jaw on turned heads: an ellipsoid with a known silhouette,
and the body model's head turned away."""

from __future__ import annotations

import numpy as np
import torch

from avatarforge.fitting.ibug68 import (JAW, NEAR_MIN_YAW_DEG, contour_lines, contour_lines_behind, far_side, march,
                                        marched_jaw, push_out)


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


# -- the near side: pushed out to the visible jaw line --------------------------------------


def test_push_out_moves_along_the_normal_only():
    # a U-shaped polyline (jaw-like): the bottom point pushed out by the furthest candidate
    # within half a spacing along the tangent; candidates outside that band or inside the
    # contour do not move it.
    u = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 2.0], [1.0, 3.0], [2.0, 3.0], [3.0, 2.0], [3.0, 1.0], [3.0, 0.0]])
    k = 1  # left side, tangent (0, 1), outward normal (-1, 0)
    cands = np.array([[-0.4, 1.2], [-0.7, 0.5], [-2.0, 2.1], [0.5, 1.0]])  # (-2, 2.1) is beyond the band
    np.testing.assert_allclose(push_out(u, k, cands), [-0.7, 1.0])
    np.testing.assert_allclose(push_out(u, k, np.array([[0.6, 1.0], [0.2, 0.9]])), u[k])  # inward only: stays
    np.testing.assert_allclose(push_out(u, k, np.array([[-3.0, 2.5]])), u[k])  # out of the band: stays
    # a diagonal stretch: the move is along the normal (1, -1)/sqrt 2 even for an off-normal candidate
    moved = push_out(u, 4, np.array([[2.5, 3.8]]))
    d = moved - u[4]
    assert abs(d @ (u[5] - u[3])) < 1e-12 and d @ np.array([0.0, 1.0]) > 0


def test_ellipsoid_near_side_pushed_to_the_visible_outline():
    a, b, c = 0.07, 0.11, 0.09
    v = _ellipsoid(a, b, c, n=240)
    ys = np.linspace(-0.06, 0.0, 7)
    r = np.sqrt(1 - (ys / b) ** 2)
    left = np.column_stack([a * r, ys, 0 * ys])[::-1]  # +X side, top (y = 0) to bottom
    right = np.column_stack([-a * r, ys, 0 * ys])  # -X side, bottom to top
    anchors = np.concatenate([right, left])
    behind = contour_lines_behind(v, np.arange(len(v)), anchors, depth=0.01)
    for line, anchor in zip(behind, anchors):  # same side and height, up to 1 cm behind
        assert len(line) >= 3
        assert np.all(np.sign(v[line, 0]) == np.sign(anchor[0]))
        assert np.all(np.abs(v[line, 1] - anchor[1]) < 0.0076)
        assert np.all((v[line, 2] >= anchor[2] - 0.01) & (v[line, 2] <= anchor[2] + 0.005))
    yaw = -40.0  # the +X side turns towards the camera: it is the near side
    t = np.radians(yaw)
    uv, depth = _turn(v, yaw)
    anchor_uv, _ = _turn(anchors, yaw)
    for k in range(len(left) + 1, len(anchors) - 1):  # the +X side, ends excluded
        pushed = push_out(anchor_uv, k, uv[behind[k]])
        # the outline reachable 1 cm behind the frontal point: x cos t + z sin t at z = -1 cm
        # on this slice (|z| <= 1 cm, so the maximum is at the deepest z for this turn)
        y = anchors[k, 1]
        z = -0.01
        expected = a * np.sqrt(1 - (y / b) ** 2 - (z / c) ** 2) * np.cos(t) + z * np.sin(t)
        gain = pushed[0] - anchor_uv[k, 0]
        assert gain > 0.004  # the frontal point is well inside the turned outline
        assert abs(pushed[0] - expected) < 0.002, (k, pushed[0], expected)


def test_body_head_turned_near_side_pushed_out(body):
    """The body's head turned 40 degrees each way: with the near lines, the near side's jaw
    points (but its end) move outward from the face, by up to a few pixels at 512 px; the far
    side, the end points and the features do not change. Turned 7 degrees (far side marched,
    below NEAR_MIN_YAW_DEG), nothing is pushed."""
    from avatarforge.bodies.landmark_embedding import load_embedding
    from avatarforge.dev.build_embedding import face_camera
    from avatarforge.fitting.face_fit import jaw_lines, near_jaw_lines

    lines, x_rest = jaw_lines(body)
    behind = near_jaw_lines(body)
    faces = body.faces.numpy()
    ibug = load_embedding("ibug68")
    cam = face_camera(body.forward_params({}), body.joint_names, 512)
    for yaw in (0.0, 7.0, 40.0, -40.0):
        v = body.forward_params({"pose.head.y": yaw}).vertices[0].numpy()
        proj = cam.project(v)
        ib = cam.project(ibug.points(torch.as_tensor(v), faces).numpy())
        far_only, side = marched_jaw(ib[:, :2], ib[list(JAW), 2], x_rest, lines, proj[:, :2])
        both, side2 = marched_jaw(ib[:, :2], ib[list(JAW), 2], x_rest, lines, proj[:, :2], near_lines=behind)
        assert side == side2 == (0 if yaw == 0 else int(np.sign(yaw)))
        pushed = abs(yaw) >= NEAR_MIN_YAW_DEG
        near = [k for k in JAW[1:-1] if np.sign(x_rest[k]) == -side] if pushed else []
        same = [k for k in range(68) if k not in near]
        np.testing.assert_array_equal(both[same], far_only[same])
        if not pushed:
            continue
        centre = far_only[list(JAW)].mean(0)
        gain = np.array([(both[k] - far_only[k]) @ (far_only[k] - centre) / np.linalg.norm(far_only[k] - centre)
                         for k in near])
        assert np.all(gain >= -1e-9) and gain.max() > 1.0, gain
        eye = np.linalg.norm(ib[36, :2] - ib[45, :2])
        assert gain.max() < 0.2 * eye  # a push to the nearby jaw line, not to the ear or the neck
