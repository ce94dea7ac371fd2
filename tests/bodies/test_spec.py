import math

import pytest

from avatarforge.bodies.param_regions import region_of
from avatarforge.bodies.spec import ParamSet, ParamSpec
from avatarforge.errors import UserInputError

SPECS = ParamSet([
    ParamSpec("age", "phenotype", 0.0, 1.0, 0.5),
    ParamSpec("gender", "phenotype", 0.0, 1.0, 0.5),
    ParamSpec("jawOpen", "expression", 0.0, 1.0, 0.0),
    ParamSpec("pose.head.x", "pose", -180, 180, 0.0, unit="deg"),
])


def test_complete_fills_defaults_in_spec_order():
    full = SPECS.complete({"jawOpen": "0.25"})
    assert list(full) == ["age", "gender", "jawOpen", "pose.head.x"]
    assert full == {"age": 0.5, "gender": 0.5, "jawOpen": 0.25, "pose.head.x": 0.0}


def test_unknown_name_lists_groups_and_suggests():
    with pytest.raises(UserInputError) as err:
        SPECS.validate({"agee": 0.3})
    msg = str(err.value)
    assert "'agee'" in msg and "did you mean age" in msg
    assert "phenotype (2)" in msg and "expression (1)" in msg and "avatarforge params" in msg
    assert "\n" not in msg


@pytest.mark.parametrize("value", [1.5, -0.01, math.nan, math.inf])
def test_out_of_range_names_the_range(value):
    with pytest.raises(UserInputError, match=r"valid is \[0, 1\]"):
        SPECS.validate({"age": value})


def test_range_bounds_are_inclusive_and_units_shown():
    assert SPECS.validate({"age": 0, "gender": 1}) == {"age": 0.0, "gender": 1.0}
    with pytest.raises(UserInputError, match=r"\[-180, 180\] deg"):
        SPECS.validate({"pose.head.x": 200})


def test_non_number_refused():
    with pytest.raises(UserInputError, match="needs a number"):
        SPECS.validate({"age": "old"})


def test_parse_assignments():
    assert ParamSet.parse_assignments(["age=0.3", " jawOpen = 1 "]) == {"age": "0.3", "jawOpen": "1"}
    for bad in ["age", "=3", "age="]:
        with pytest.raises(UserInputError, match="NAME=VALUE"):
            ParamSet.parse_assignments([bad])


def test_duplicate_names_rejected():
    with pytest.raises(ValueError):
        ParamSet([ParamSpec("a", "g", 0, 1, 0), ParamSpec("a", "g", 0, 1, 0)])


@pytest.mark.parametrize("name,region", [
    ("nose-hump-incr", "face"), ("l-ear-lobe-incr", "face"), ("head-fat-incr", "head"),
    ("measure-neck-circ-incr", "neck"), ("r-lowerarm-fat-incr", "arms"), ("l-hand-scale-incr", "hands"),
    ("measure-thigh-circ-incr", "legs"), ("l-foot-trans-up", "feet"), ("hip-scale-vert-incr", "hips"),
    ("stomach-pregnant-incr", "torso"), ("measure-wrist-circ-incr", "hands"), ("chin-cleft-incr", "face"),
])
def test_region_of(name, region):
    assert region_of(name) == region
