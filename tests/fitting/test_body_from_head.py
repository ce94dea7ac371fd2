import numpy as np
import pytest

from avatarforge.fitting.body_from_head import age_param_from_years, infer_body, mass_kg, stature_m


@pytest.fixture(scope="module")
def head_values(body):
    vals = {"gender": 0.3, "age": 0.75, "weight": 0.6, "nose-hump-incr": 0.4, "chin-width-incr": -0.3,
            "jawOpen": 0.2, "pose.head.y": 10.0}
    return body.params.complete(vals)


def test_age_anchors():
    assert age_param_from_years(25) == pytest.approx(2 / 3)
    assert age_param_from_years(11) == pytest.approx(1 / 3)
    assert age_param_from_years(57.5) == pytest.approx(2 / 3 + 1 / 6)


def test_nothing_given_keeps_the_fitted_body(body, head_values):
    r = infer_body(body, head_values)
    assert r.given == [] and set(r.inferred) == set(body.phenotype_names)
    for n in body.phenotype_names:
        assert r.values[n] == pytest.approx(head_values[n], abs=1e-6)
    assert r.head_rms_mm < 1e-3


def test_given_phenotype_is_kept_and_the_head_stays(body, head_values):
    r = infer_body(body, head_values, given={"gender": 1.0, "muscle": 0.9})
    assert r.values["gender"] == 1.0 and r.values["muscle"] == 0.9
    assert "gender" in r.given and "gender" not in r.inferred
    # The head's shape is re-matched: much closer than simply changing the gender.
    naive = dict(head_values, gender=1.0, muscle=0.9)
    from avatarforge.fitting.body_from_head import head_vertex_ids

    ids = head_vertex_ids(body)

    def centred(vals):
        v = body.forward_params({k: x for k, x in vals.items() if not k.startswith("pose.")
                                 and k not in body.params.names("expression")}).rest_vertices[0].numpy()[ids]
        return v - v.mean(0)

    target = centred(head_values)
    rms = lambda v: float(np.sqrt(((v - target) ** 2).sum(1).mean()) * 1000)  # noqa: E731
    assert rms(centred(r.values)) < 0.6 * rms(centred(naive))


def test_stature_and_mass_targets(body, head_values):
    r = infer_body(body, head_values, height_m=1.85)
    assert r.stature_m == pytest.approx(1.85, abs=0.005) and "height" in r.given
    out = body.forward_params({k: v for k, v in r.values.items() if not k.startswith("pose.")})
    assert stature_m(out) == pytest.approx(r.stature_m, abs=1e-6)
    base = mass_kg(body.forward_params({k: v for k, v in head_values.items() if not k.startswith("pose.")}))
    r = infer_body(body, head_values, weight_kg=base + 3.0)
    assert r.mass_kg == pytest.approx(base + 3.0, abs=0.3)


def test_unreachable_target_warns(body, head_values):
    r = infer_body(body, head_values, height_m=3.5)
    assert any("outside what the model reaches" in w for w in r.warnings)
    assert r.stature_m < 3.0
