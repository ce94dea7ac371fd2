"""The parametric hair shell: geometry, skinning, and its fit to a known silhouette."""

from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest

from avatarforge.bodies.hair import HAIR_STYLES, PROFILE_ANGLES, HairStyle, build_hair, skull_frame

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def rest(body):
    return body.forward_params({})


def _eyes_y(out):
    names = list(out.joint_names)
    jw = out.joints_world[0].numpy()
    return np.mean([jw[names.index(n), 1, 3] for n in ("eye.L", "eye.R")])


def test_presets_and_bald(rest):
    assert HAIR_STYLES == ("bald", "buzz", "short", "medium", "long", "ponytail", "bun")
    assert build_hair(rest, HairStyle.preset("bald")) is None
    with pytest.raises(ValueError):
        HairStyle.preset("mohawk")


def test_parse_names_and_modifiers():
    st = HairStyle.parse("long+curly+fringe+part-left")
    assert (st.style, st.length, st.curl, st.fringe, st.parting, st.tie) == ("long", 0.26, 1.0, 1.0, "left", "none")
    assert st.volume >= 0.03 and st.spec == "long+curly+fringe+part-left"
    assert HairStyle.parse(" Ponytail ").tie == "ponytail" and HairStyle.parse("bun").tie == "bun"
    assert HairStyle.parse("short").spec == "short" and HairStyle.parse("buzz").volume < 0.006
    for bad in ("mohawk", "long+wild", "", "long+"):
        with pytest.raises(ValueError):
            HairStyle.parse(bad)
    with pytest.raises(ValueError):
        HairStyle("short", tie="braid")
    with pytest.raises(ValueError):
        HairStyle("short", profile=(0.01, 0.02))


def _frame(rest):
    centre, rot = skull_frame(rest)
    return centre, rot


def _local(rest, v):
    centre, rot = _frame(rest)
    return (np.asarray(v, np.float64) - centre) @ rot  # rows: head-frame x (left), y (up), z (forward)


def test_ponytail_hangs_behind_the_head_and_neck(rest, body):
    short = build_hair(rest, HairStyle.preset("short", volume=0.008))
    pony = build_hair(rest, HairStyle.parse("ponytail"))
    extra = _local(rest, pony.vertices[len(short.vertices):])
    sl = _local(rest, short.vertices)
    assert len(extra) > 100
    # Behind the skull's back and the back of the neck, reaching 24 cm below the eyes.
    assert (extra[:, 2] < sl[:, 2].min() + 0.03).all()
    assert extra[:, 1].min() < -0.2 + 0.03
    names = list(rest.joint_names)
    jw = rest.joints_world[0].numpy()
    neck = _local(rest, jw[names.index("neck01") if "neck01" in names else names.index("head"), :3, 3][None])[0]
    low = extra[extra[:, 1] < neck[1]]
    assert len(low) and (low[:, 2] < neck[2] - 0.03).all()
    # Closed tube wound outwards: positive volume.
    v, f = pony.vertices.astype(np.float64), pony.faces[len(short.faces):]
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    assert np.einsum("fc,fc->f", a, np.cross(b, c)).sum() / 6 > 1e-5
    # Skinned: weights sum to 1, the tip follows the body below the head.
    np.testing.assert_allclose(pony.skin_weights.sum(1), 1.0, atol=1e-5)
    head = names.index("head")
    tip = np.argmin(pony.vertices[:, 1])
    assert pony.skin_weights[tip][pony.skin_indices[tip] == head].sum() < 0.5


def test_bun_sits_above_and_behind(rest):
    short = build_hair(rest, HairStyle.preset("short", volume=0.008))
    bun = build_hair(rest, HairStyle.parse("bun"))
    extra = _local(rest, bun.vertices[len(short.vertices):])
    c = extra.mean(0)
    assert c[1] > 0.05 and c[2] < -0.06  # above the eyes' height, behind the skull centre
    assert 0.07 < np.ptp(extra[:, 0]) < 0.12
    head = list(rest.joint_names).index("head")
    assert (bun.skin_indices[:, 0] == head).all() and (bun.skin_weights[:, 0] == 1).all()


def test_long_reaches_the_shoulders(rest):
    names = list(rest.joint_names)
    jw = rest.joints_world[0].numpy()
    shoulders = [jw[i, 1, 3] for i, n in enumerate(names) if "clavicle" in n or "shoulder" in n]
    assert shoulders
    long_ = build_hair(rest, HairStyle.preset("long"))
    assert long_.vertices[:, 1].min() < max(shoulders)
    assert build_hair(rest, HairStyle.preset("medium")).vertices[:, 1].min() > max(shoulders)


def test_curly_is_fuller_and_lumpier(rest):
    straight = build_hair(rest, HairStyle("medium", 0.03, 0.12))
    curly = build_hair(rest, HairStyle("medium", 0.03, 0.12, curl=1.0))
    assert len(curly.vertices) == len(straight.vertices)
    sl, cl = _local(rest, straight.vertices), _local(rest, curly.vertices)
    assert np.ptp(cl[:, 0]) > np.ptp(sl[:, 0]) + 0.02  # the curtain spreads going down
    # Lumps: around one shell row the curly surface rises and falls against the straight one by
    # several millimetres (0.4 x volume at most).
    ring = slice(1 + 4, 1 + 64 * 14, 14)
    bump = np.linalg.norm(cl[ring], axis=1) - np.linalg.norm(sl[ring], axis=1)
    assert np.std(bump) > 0.003 and np.abs(bump).max() < 0.4 * 0.03 + 1e-3


def test_parting_is_a_groove_on_the_chosen_side(rest):
    plain = _local(rest, build_hair(rest, HairStyle("short", 0.02)).vertices)
    for side, x0 in (("left", 0.04), ("right", -0.04), ("centre", 0.0)):
        parted = _local(rest, build_hair(rest, HairStyle("short", 0.02, parting=side)).vertices)
        sink = np.linalg.norm(plain, axis=1) - np.linalg.norm(parted, axis=1)
        front = (plain[:, 2] > 0.03) & (plain[:, 1] > 0.03)
        on = front & (np.abs(plain[:, 0] - x0) < 0.006)
        off = front & (np.abs(plain[:, 0] - x0) > 0.03)
        assert on.any() and sink[on].mean() > 0.008 and np.abs(sink[off]).max() < 0.002


def test_profile_moves_the_outline_at_its_angle(rest):
    base = HairStyle("medium", 0.02, 0.12)
    prof = np.zeros(len(PROFILE_ANGLES))
    prof[PROFILE_ANGLES.index(90.0)] = 0.03  # the person's left side
    a = _local(rest, build_hair(rest, base).vertices)
    b = _local(rest, build_hair(rest, HairStyle("medium", 0.02, 0.12, profile=tuple(prof))).vertices)
    assert b[:, 0].max() - a[:, 0].max() == pytest.approx(0.03, abs=0.006)
    assert abs(b[:, 0].min() - a[:, 0].min()) < 1e-6 and abs(b[:, 1].max() - a[:, 1].max()) < 1e-6


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


@pytest.fixture(scope="module")
def astronaut(body):
    """The astronaut's face fit, the fitted body and its mask through the fitted camera."""
    from avatarforge.pipeline.face import reconstruct_face
    from avatarforge.render.raster import rasterize

    rec = reconstruct_face(ROOT / "examples" / "astronaut.jpg", body=body)
    out = body.forward_params(rec.fit.values)
    cam = rec.fit.camera
    h, w = rec.rgb.shape[:2]
    body_m = rasterize(cam.project(out.vertices[0].numpy().astype(np.float64)), out.faces.numpy(), h, w).mask
    return rec, out, cam, (h, w), body_m


def test_fit_recovers_a_known_hair_silhouette(astronaut):
    from avatarforge.fitting.hair_fit import LENGTHS, fit_hair, hair_mask

    rec, out, cam, (h, w), body_m = astronaut
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


def test_fit_recovers_an_outline_and_obeys_a_forced_style(astronaut):
    from avatarforge.fitting.hair_fit import fit_hair, hair_mask

    rec, out, cam, (h, w), body_m = astronaut
    prof = np.zeros(len(PROFILE_ANGLES))
    for a, e in ((90.0, 0.035), (75.0, 0.03), (105.0, 0.03), (-90.0, 0.035), (-75.0, 0.03), (-105.0, 0.03)):
        prof[PROFILE_ANGLES.index(a)] = e  # a bob: wide at both sides, flat on top
    truth = HairStyle("medium", 0.014, 0.12, 0.0, profile=tuple(prof))
    hair_m, _ = hair_mask(build_hair(out, truth), cam, (h, w))
    labels = {"hair": hair_m & ~body_m, "headwear": np.zeros((h, w), bool)}
    parsing = types.SimpleNamespace(person=(body_m | hair_m).astype(np.float32), mask=lambda *n: labels[n[0]])
    fit = fit_hair(rec, parsing, body_m.astype(np.uint8) * 255, out)
    got = np.asarray(fit.style.profile)
    assert fit.score > 0.96 and fit.scores["profile"] > max(v for k, v in fit.scores.items() if "/" in k) + 0.01
    # The sides widen by about the truth's 3.5 cm (less the volume the grid search already added).
    side = [PROFILE_ANGLES.index(a) for a in (90.0, -90.0)]
    assert (got[side] > 0.015).all() and abs(got[PROFILE_ANGLES.index(0.0)]) < 0.012
    # Forced styles: modifiers apply, tied styles are built as named.
    forced = fit_hair(rec, parsing, body_m.astype(np.uint8) * 255, out, style="medium+curly+part-left")
    assert (forced.style.style, forced.style.curl, forced.style.parting) == ("medium", 1.0, "left")
    pony = fit_hair(rec, parsing, body_m.astype(np.uint8) * 255, out, style="ponytail")
    assert pony.style.tie == "ponytail" and pony.mesh is not None and not pony.style.profile


def test_hair_colour_is_the_linear_mean_around_the_face():
    from avatarforge.fitting.hair_fit import hair_colour
    from avatarforge.util.colour import linear_to_srgb, srgb_to_linear

    h, w = 200, 200
    pts = np.stack(np.meshgrid(np.linspace(80, 120, 20), np.linspace(90, 140, 20)), -1).reshape(-1, 2)
    rgb = np.zeros((h, w, 3), np.uint8)
    hair = np.zeros((h, w), bool)
    hair[40:90, 60:140] = True  # above the face, inside the head region
    rgb[40:90, 60:100] = (200, 150, 100)
    rgb[40:90, 100:140] = (20, 10, 0)
    hair[180:200, 0:60] = True  # far below the chin: someone else's hair
    rgb[180:200, 0:60] = (255, 255, 0)
    want = linear_to_srgb((srgb_to_linear(np.array([200, 150, 100]) / 255) + srgb_to_linear(np.array([20, 10, 0]) / 255)) / 2) * 255
    got = np.array(hair_colour(rgb, hair, pts))
    assert np.abs(got - want).max() <= 2  # (the 1-pixel border left out is symmetric)
    assert hair_colour(rgb, np.zeros((h, w), bool), pts) == (60, 45, 35)


def test_head_top_in_photo_is_the_share_of_the_band_above_the_face():
    from avatarforge.fitting.hair_fit import head_top_in_photo

    pts = np.array([[10.0, 40.0], [50.0, 80.0]])  # box 40 x 40: band y 20..40
    assert head_top_in_photo(pts, (100, 100)) == 1.0
    assert head_top_in_photo(pts - [0.0, 30.0], (100, 100)) == pytest.approx(0.5)  # band -10..10
    assert head_top_in_photo(pts - [0.0, 40.0], (100, 100)) == 0.0
    assert head_top_in_photo(pts + [70.0, 0.0], (100, 100)) == pytest.approx(0.5)  # x 80..120


def test_no_hair_seen_is_not_bald_when_the_head_top_is_cut_off(astronaut):
    """tom_hanks.png: the photo ends at the forehead, so no hair shows around the face; that
    is no evidence of baldness: short hair (a warning says it is a guess), not a bald head."""
    from avatarforge.fitting.hair_fit import MIN_HEAD_TOP_IN_PHOTO, fit_hair, head_top_in_photo

    rec, out, cam, (h, w), body_m = astronaut
    pts = np.asarray(rec.landmarks.points)
    none = {"hair": np.zeros((h, w), bool), "headwear": np.zeros((h, w), bool)}
    parsing = types.SimpleNamespace(person=body_m.astype(np.float32), mask=lambda *n: none[n[0]])
    whole = fit_hair(rec, parsing, body_m.astype(np.uint8) * 255, out)
    assert whole.style.style == "bald" and not whole.warnings
    # The same face with the photo cut just above the brows (the landmarks moved up by the crop).
    dy = pts[:, 1].min() + 2.0
    cut = types.SimpleNamespace(**{**vars(rec), "landmarks": types.SimpleNamespace(points=pts - [0.0, dy, 0.0][: pts.shape[1]])})
    assert head_top_in_photo(cut.landmarks.points, (h, w)) < MIN_HEAD_TOP_IN_PHOTO
    fit = fit_hair(cut, parsing, body_m.astype(np.uint8) * 255, out)
    assert fit.style.style == "short" and fit.mesh is not None and "outside the photo" in fit.warnings[0]
    # A forced style still wins.
    assert fit_hair(cut, parsing, body_m.astype(np.uint8) * 255, out, style="bald").style.style == "bald"


def test_default_hair_colour_is_grey_on_a_black_and_white_photo():
    from avatarforge.bodies.hair import DEFAULT_HAIR_SRGB, default_hair_srgb

    grey = np.repeat(np.random.default_rng(0).integers(0, 255, (20, 20, 1), dtype=np.uint8), 3, -1)
    assert default_hair_srgb(grey) == (48, 48, 48)  # the luma of (60, 45, 35)
    colour = grey.copy()
    colour[..., 0] //= 2
    assert default_hair_srgb(colour) == DEFAULT_HAIR_SRGB == default_hair_srgb()


def test_auto_makes_curly_hair_curly_keeping_its_volume(astronaut):
    """Curls in the photo's hair (curl score above CURL_THRESHOLD) make the auto style curly,
    short hair too, with the fitted volume kept; straight strands do not."""
    import cv2

    from avatarforge.fitting.hair_fit import CURL_THRESHOLD, LENGTHS, fit_hair, hair_mask

    rec, out, cam, (h, w), body_m = astronaut
    truth = HairStyle("short", 0.014, LENGTHS["short"], 0.0)
    hair_m = hair_mask(build_hair(out, truth), cam, (h, w))[0] & ~body_m
    labels = {"hair": hair_m, "headwear": np.zeros((h, w), bool)}
    parsing = types.SimpleNamespace(person=(body_m | hair_m).astype(np.float32), mask=lambda *n: labels[n[0]])
    rng = np.random.default_rng(0)
    curls = np.zeros((h, w), np.float32)
    for x, y in rng.uniform(0, max(h, w), (6000, 2)):  # rings of ~a tenth of the face width
        cv2.circle(curls, (int(x), int(y)), int(rng.integers(3, 6)), 1.0, 1)
    straight = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigmaX=0.7, sigmaY=12.0)
    fits, recs = {}, {}
    for name, tex in (("curls", curls), ("straight", straight)):
        grey = np.clip(60 + 40 * (tex - tex.mean()) / (tex.std() + 1e-6), 0, 255).astype(np.uint8)
        rgb = np.array(rec.rgb)
        rgb[hair_m] = grey[hair_m][:, None]
        recs[name] = types.SimpleNamespace(**{**vars(rec), "rgb": rgb})
        fits[name] = fit_hair(recs[name], parsing, body_m.astype(np.uint8) * 255, out)
    assert fits["curls"].scores["curl"] > CURL_THRESHOLD > fits["straight"].scores["curl"]
    assert fits["curls"].style.curl == 1.0 and fits["straight"].style.curl == 0.0
    assert fits["curls"].style.style == "short" and fits["curls"].style.volume < 0.03  # not thickened to 3 cm
    # auto+straight overrides what the photo shows.
    assert fit_hair(recs["curls"], parsing, body_m.astype(np.uint8) * 255, out, style="auto+straight").style.curl == 0.0
