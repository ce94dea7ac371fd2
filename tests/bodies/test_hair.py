"""The parametric hair shell: geometry, skinning, and its fit to a known silhouette."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

from avatarforge.bodies.hair import HAIR_STYLES, HairStyle, build_hair

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rest(body):
    return body.forward_params({})


def _eyes_y(out):
    names = list(out.joint_names)
    jw = out.joints_world[0].numpy()
    return np.mean([jw[names.index(n), 1, 3] for n in ("eye.L", "eye.R")])


def test_presets_and_bald(rest):
    assert HAIR_STYLES == ("bald", "short", "medium", "long")
    assert build_hair(rest, HairStyle.preset("bald")) is None
    with pytest.raises(ValueError):
        HairStyle.preset("mohawk")


def test_shell_covers_the_skull_and_faces_outwards(rest, body):
    from avatarforge.bodies.head_mesh import head_faces

    h = build_hair(rest, HairStyle.preset("short", volume=0.012))
    v, f = rest.vertices[0].numpy(), rest.faces.numpy()
    head = v[np.unique(f[head_faces(body, f)])]
    centre = np.array([head[:, 0].mean(), _eyes_y(rest) + 0.01, head[:, 2].mean()])
    # Crown: the hair's top is above the head's top by about the volume.
    assert 0.008 < h.vertices[:, 1].max() - head[:, 1].max() < 0.03
    # Outward winding: normals point away from the skull centre.
    a, b, c = (h.vertices[h.faces[:, i]] for i in range(3))
    n = np.cross(b - a, c - a)
    assert (np.einsum("fc,fc->f", n, (a + b + c) / 3 - centre) > 0).mean() > 0.97
    # Short hair ends above the ears' tops at the sides and at the nape behind.
    assert h.vertices[:, 1].min() > _eyes_y(rest) - 0.09
    # The face stays open: nothing of the shell in front of the eyes below the forehead.
    front = h.vertices[:, 2] > centre[2] + 0.06
    assert (h.vertices[front, 1] > _eyes_y(rest) + 0.03).all()


def test_length_and_volume_act_as_named(rest):
    eyes = _eyes_y(rest)
    low = {s: build_hair(rest, HairStyle.preset(s)).vertices[:, 1].min() for s in ("short", "medium", "long")}
    assert low["long"] < low["medium"] < low["short"]
    # (Lengths run along the head's own axis, tilted a little in the rest pose.)
    assert abs(low["long"] - (eyes - 0.26)) < 0.015 and abs(low["medium"] - (eyes - 0.12)) < 0.015
    thin, thick = (build_hair(rest, HairStyle.preset("short", volume=vol)).vertices for vol in (0.006, 0.02))
    # The crown rises by the volume exactly (the apex sits on the skull's top + 3 mm + volume; the highest point may be beside it);
    # the sides widen by less (the shell thins towards the hairline).
    top_rise = (thick @ _up(rest)).max() - (thin @ _up(rest)).max()
    assert top_rise == pytest.approx(0.014, abs=5e-4)
    assert 0.005 < np.ptp(thick[:, 0]) - np.ptp(thin[:, 0]) < 2 * 0.014 + 1e-3


def _up(out):
    names = list(out.joint_names)
    return out.joints_world[0].numpy()[names.index("head"), :3, 1].astype(np.float64)


def test_skinning_follows_the_head(body, rest):
    h = build_hair(rest, HairStyle.preset("medium"))
    np.testing.assert_allclose(h.skin_weights.sum(1), 1.0, atol=1e-5)
    head = list(rest.joint_names).index("head")
    n_shell = 1 + 64 * 14
    assert (h.skin_indices[:n_shell, 0] == head).all() and (h.skin_weights[:n_shell, 0] == 1).all()
    posed = body.forward_params({"pose.head.y": 30.0, "pose.head.x": 10.0})
    t = posed.skinning_transforms[0].numpy().astype(np.float64)  # (J, 4, 4): rest -> posed
    hv = np.concatenate([h.vertices, np.ones((len(h.vertices), 1))], 1)
    lbs = np.einsum("vk,vkab,vb->va", h.skin_weights, t[h.skin_indices], hv)[:, :3]  # v: vertex, k: influence
    rebuilt = build_hair(posed, HairStyle.preset("medium"))
    # The shell is rigid with the head: LBS of the rest shell = the shell built on the posed head.
    assert np.abs(lbs[:n_shell] - rebuilt.vertices[:n_shell]).max() < 0.006


def test_fit_recovers_a_known_hair_silhouette(body):
    from avatarforge.fitting.hair_fit import LENGTHS, fit_hair, hair_mask
    from avatarforge.pipeline.face import reconstruct_face
    from avatarforge.render.raster import rasterize

    rec = reconstruct_face(ROOT / "examples" / "astronaut.jpg", body=body)
    out = body.forward_params(rec.fit.values)
    cam = rec.fit.camera
    h, w = rec.rgb.shape[:2]
    body_m = rasterize(cam.project(out.vertices[0].numpy().astype(np.float64)), out.faces.numpy(), h, w).mask
    truth = HairStyle("long", 0.014, LENGTHS["long"], 0.0)
    hair_m, _ = hair_mask(build_hair(out, truth), cam, (h, w))
    labels = {"hair": hair_m & ~body_m, "headwear": np.zeros((h, w), bool)}
    parsing = types.SimpleNamespace(person=(body_m | hair_m).astype(np.float32), mask=lambda *n: labels[n[0]])
    fit = fit_hair(rec, parsing, body_m.astype(np.uint8) * 255, out)
    assert fit.style.style == "long" and fit.style.length == LENGTHS["long"] and fit.style.volume == 0.014
    assert fit.score > 0.97 and fit.scores["bald"] < fit.score - 0.05
    # No hair pixels at all: bald.
    labels["hair"] = np.zeros((h, w), bool)
    parsing.person = body_m.astype(np.float32)
    assert fit_hair(rec, parsing, body_m.astype(np.uint8) * 255, out).style.style == "bald"


def test_percentile_per_group_equals_numpy():
    from avatarforge.bodies.hair import percentile_per_group

    rng = np.random.default_rng(3)
    values = rng.normal(size=500)
    groups = [rng.choice(500, size=n, replace=False) for n in rng.integers(0, 30, size=300)] + [[], [7]]
    for q in (0.0, 37.5, 90.0, 100.0):
        got = percentile_per_group(values, groups, q, empty=-5.0)
        want = [np.percentile(values[g], q) if len(g) else -5.0 for g in groups]
        assert np.array_equal(got, want)
    assert np.array_equal(percentile_per_group(values, [[], []], 90.0, 1.5), [1.5, 1.5])
