import math

import torch

from avatarforge.bodies.anny_body import forward_kinematics
from avatarforge.bodies.poses import rotation_between
from avatarforge.bodies.rotation import euler_xyz_to_matrix, matrix_to_euler_xyz, rigid


def test_euler_single_axes_match_textbook_matrices():
    r = euler_xyz_to_matrix(torch.tensor([0.0, 0.0, 90.0], dtype=torch.float64))
    # 90 degrees about +Z takes +X to +Y.
    assert torch.allclose(r @ torch.tensor([1.0, 0, 0], dtype=torch.float64), torch.tensor([0.0, 1, 0], dtype=torch.float64), atol=1e-12)
    r = euler_xyz_to_matrix(torch.tensor([90.0, 0.0, 0.0], dtype=torch.float64))
    assert torch.allclose(r @ torch.tensor([0.0, 1, 0], dtype=torch.float64), torch.tensor([0.0, 0, 1], dtype=torch.float64), atol=1e-12)


def test_euler_round_trip():
    g = torch.Generator().manual_seed(0)
    angles = (torch.rand(200, 3, generator=g, dtype=torch.float64) - 0.5) * torch.tensor([340.0, 170.0, 340.0], dtype=torch.float64)
    m = euler_xyz_to_matrix(angles)
    assert torch.allclose(m @ m.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(200, 3, 3), atol=1e-12)
    assert torch.allclose(matrix_to_euler_xyz(m), angles, atol=1e-8)


def test_rotation_between_maps_directions():
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        a, b = torch.randn(3, generator=g, dtype=torch.float64), torch.randn(3, generator=g, dtype=torch.float64)
        r = rotation_between(a, b)
        assert torch.allclose(r @ (a / a.norm()), b / b.norm(), atol=1e-10)
        assert abs(torch.linalg.det(r).item() - 1) < 1e-10
    a = torch.tensor([1.0, 0, 0], dtype=torch.float64)
    assert torch.allclose(rotation_between(a, -a) @ a, -a, atol=1e-12)


def _chain_rest():
    # Three joints on a line along +X at x = 0, 1, 2, rest rotations arbitrary (not identity).
    rot = euler_xyz_to_matrix(torch.tensor([[10.0, 20.0, 30.0], [0.0, 45.0, 0.0], [-30.0, 0.0, 60.0]], dtype=torch.float64))
    heads = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0]], dtype=torch.float64)
    return rigid(rot, heads)[None]


def test_forward_kinematics_identity_is_rest():
    rest = _chain_rest()
    eye = torch.eye(3, dtype=torch.float64).expand(1, 3, 3, 3)
    assert torch.allclose(forward_kinematics(rest, eye, [-1, 0, 1]), rest, atol=1e-12)


def test_forward_kinematics_rotations_are_in_world_axes_about_joint_heads():
    rest = _chain_rest()
    rots = torch.eye(3, dtype=torch.float64).repeat(1, 3, 1, 1)
    rots[0, 1] = euler_xyz_to_matrix(torch.tensor([0.0, 0.0, 90.0], dtype=torch.float64))
    posed = forward_kinematics(rest, rots, [-1, 0, 1])
    heads = posed[0, :, :3, 3]
    # Joint 1 turns +90 deg about world +Z at its head (1, 0, 0): joint 2 goes to (1, 1, 0).
    assert torch.allclose(heads, torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [1.0, 1.0, 0]], dtype=torch.float64), atol=1e-12)
    # Its orientation is the rest orientation turned by the same world rotation.
    assert torch.allclose(posed[0, 2, :3, :3], rots[0, 1] @ rest[0, 2, :3, :3], atol=1e-12)
    # The root rotation turns everything about the root head.
    rots2 = torch.eye(3, dtype=torch.float64).repeat(1, 3, 1, 1)
    rots2[0, 0] = euler_xyz_to_matrix(torch.tensor([0.0, 90.0, 0.0], dtype=torch.float64))
    heads2 = forward_kinematics(rest, rots2, [-1, 0, 1])[0, :, :3, 3]
    assert torch.allclose(heads2[2], torch.tensor([0.0, 0.0, -2.0], dtype=torch.float64), atol=1e-12)
    assert math.isclose(float(heads2[1, 2]), -1.0, abs_tol=1e-12)
