"""StudioState: validation, undo/redo, presets, mesh — the studio without a browser."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avatarforge.bodies import pose_preset
from avatarforge.errors import UserInputError
from avatarforge.studio import EXPRESSION_PRESETS, StudioState
from avatarforge.studio import state as state_mod


@pytest.fixture()
def state(body):
    return StudioState(body)


def test_starts_complete_at_defaults(state, body):
    assert state.values == body.params.defaults()
    assert state.base == state.values


@pytest.mark.parametrize("bad", [{"weight": 1.5}, {"weight": float("nan")}, {"weight": "abc"},
                                 {"no-such-param": 0.1}, {"pose.head.x": 400.0}])
def test_bad_values_are_refused_and_change_nothing(state, bad):
    before = dict(state.values)
    with pytest.raises(UserInputError):
        state.set(bad)
    assert state.values == before
    assert not state.undo()


def test_set_returns_only_real_changes(state):
    assert state.set({"weight": 0.8, "age": 0.5}) == {"weight": 0.8}
    assert state.set({"weight": 0.8}) == {}


def test_undo_redo_and_drag_coalescing(state, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(state_mod.time, "monotonic", lambda: clock[0])
    for v in (0.6, 0.7, 0.8):  # one drag of one slider = one undo step
        state.set({"weight": v}, key="weight")
        clock[0] += 0.1
    state.set({"age": 0.2}, key="age")
    clock[0] += 5.0
    state.set({"age": 0.3}, key="age")  # same control, later: a new step
    assert state.undo() and state.values["age"] == 0.2
    assert state.undo() and state.values["age"] == 0.5 and state.values["weight"] == 0.8
    assert state.undo() and state.values["weight"] == 0.5
    assert not state.undo()
    assert state.redo() and state.values["weight"] == 0.8
    state.set({"muscle": 0.9})
    assert not state.redo()  # a new edit clears the redo branch


def test_reset_goes_back_to_the_loaded_avatar_and_is_undoable(state, body):
    loaded = {**body.params.defaults(), "gender": 1.0, "jawOpen": 0.3}
    state.load(loaded, None, "test")
    state.set({"gender": 0.0, "age": 0.9})
    state.reset()
    assert state.values["gender"] == 1.0 and state.values["jawOpen"] == 0.3 and state.values["age"] == 0.5
    assert state.undo() and state.values["gender"] == 0.0


def test_pose_presets_match_the_library_and_back(state, body):
    state.set({"weight": 0.9})
    state.apply_pose_preset("t")
    expected = pose_preset(body, "t", state.values)
    assert expected and all(math.isclose(state.values[k], v, abs_tol=1e-9) for k, v in expected.items())
    assert state.pose_name == "t"
    # T-pose: the left upper arm points along +X.
    j = state.mesh().joints
    idx = body.joint_names.index
    d = j[idx("lowerarm01.L")] - j[idx("upperarm01.L")]
    assert d[0] / np.linalg.norm(d) > 0.999
    state.apply_pose_preset("a")
    assert all(state.values[k] == 0.0 for k in expected)
    with pytest.raises(UserInputError):
        state.apply_pose_preset("x")


def test_expression_presets_replace_the_expression(state, body):
    state.set({"jawOpen": 0.7})
    state.apply_expression(EXPRESSION_PRESETS["smile"])
    expr = state.group_values("expression")
    assert expr["jawOpen"] == 0.0 and expr["mouthSmileLeft"] == 0.85 == expr["mouthSmileRight"]
    assert sum(v > 0 for v in expr.values()) == len(EXPRESSION_PRESETS["smile"])
    for preset in EXPRESSION_PRESETS.values():
        assert set(preset) <= set(body.params.names("expression"))
    with pytest.raises(UserInputError):
        state.apply_expression({"smile": 1.0})


def test_mesh_moves_where_the_parameter_acts(state, body):
    rest = state.mesh()
    state.set({"jawOpen": 1.0})
    jaw = state.mesh()
    moved = np.linalg.norm(jaw.vertices - rest.vertices, axis=1)
    assert moved.max() > 0.005  # the jaw opens by millimetres to centimetres
    head_y = rest.joints[body.joint_names.index("neck01")][1]
    assert np.all(moved[rest.vertices[:, 1] < head_y - 0.05] < 1e-6)  # nothing below the neck moves
    state.set({"weight": 1.0})
    assert np.abs(state.mesh().vertices - jaw.vertices).max() > 0.01
    assert jaw.vertices.dtype == np.float32 and jaw.joints.shape == (len(body.joint_names), 3)


def test_avatar_for_export_carries_values_and_texture(state):
    tex = np.zeros((8, 8, 3), np.uint8)
    state.load({"weight": 0.2}, tex, "x", "relaxed")
    av = state.avatar()
    assert av.values["weight"] == 0.2 and av.texture is tex and av.pose_preset == "relaxed"
