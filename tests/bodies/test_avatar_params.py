"""params.json records the configuration the body was actually loaded with."""

from __future__ import annotations

import types

from avatarforge.avatar import Avatar, build_avatar
from avatarforge.bodies import ParamsFile


def _params_file(body) -> ParamsFile:
    """Avatar.params_file on ``body``: a stand-in body is no BodyModel, so the Avatar dataclass
    (type-checked at run time in the tests) is not built; params_file reads only these fields."""
    return Avatar.params_file(types.SimpleNamespace(body=body, values={"age": 0.5}, pose_preset="a"))


def test_params_file_writes_the_loaded_configuration(tmp_path):
    # A body loaded with a non-default configuration (a stand-in: building Anny in another
    # configuration takes minutes and 1 GB of cache).
    body = types.SimpleNamespace(name="anny", config={"local_changes": "none", "facial_actions": "none"})
    _params_file(body).write(tmp_path / "params.json")
    assert ParamsFile.read(tmp_path / "params.json").backend_config == {"local_changes": "none", "facial_actions": "none"}


def test_params_file_of_a_body_without_configuration_is_empty():
    assert _params_file(types.SimpleNamespace(name="smplx")).backend_config == {}


def test_real_body_reports_its_configuration(body):
    assert body.config == {"local_changes": "default", "facial_actions": "all"}
    assert build_avatar({"age": 0.5}, body=body).params_file().backend_config == body.config
