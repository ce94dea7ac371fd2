"""The studio's hair and outfit state (studio.look) and its meshes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avatarforge.bodies.garments import DEFAULT_COLOURS, build_outfit
from avatarforge.bodies.hair import HairStyle, build_hair
from avatarforge.errors import UserInputError
from avatarforge.studio import StudioState
from avatarforge.studio.look import SLOT_CHOICES, DressedParts, Look, look_from_folder


def test_slot_choices_cover_every_garment_once():
    from avatarforge.bodies.garments import GARMENT_TYPES

    offered = [n for names in SLOT_CHOICES.values() for n in names if n != "none"]
    assert sorted(offered) == sorted(GARMENT_TYPES)
    assert "dress" in SLOT_CHOICES["top"] and SLOT_CHOICES["feet"] == ("none", "shoes")


def test_hair_edits_start_from_the_preset_and_are_validated():
    look = Look(hair=HairStyle.parse("short+curly+part-left"))
    long = look.with_hair(style="long")
    assert long.hair.style == "long" and long.hair.length == HairStyle.preset("long").length
    assert long.hair.curl == 1.0 and long.hair.parting == "left"  # the modifiers stay
    assert long.with_hair(length=0.1, volume=0.02).hair.length == 0.1
    assert long.with_hair(colour=(200, 180, 20)).hair_srgb == (200, 180, 20)
    for bad in ({"style": "mohawk"}, {"length": 2.0}, {"volume": float("nan")}, {"length": "x"},
                {"colour": (300, 0, 0)}, {"colour": (1, 2)}):
        with pytest.raises(UserInputError):
            look.with_hair(**bad)


def test_garment_layers_share_slots_like_the_cli():
    look = Look().with_garment("top", "tshirt").with_garment("bottom", "trousers", (10, 20, 30))
    assert look.garments == (("tshirt", DEFAULT_COLOURS["tshirt"]), ("trousers", (10, 20, 30)))
    dress = look.with_garment("top", "dress")
    assert dress.garments == (("dress", DEFAULT_COLOURS["dress"]),)  # a dress takes the bottom too
    again = dress.with_garment("bottom", "skirt")
    assert again.garments == (("skirt", DEFAULT_COLOURS["skirt"]),)  # a bottom replaces the dress
    assert look.with_garment("top", colour=(1, 2, 3)).outfit["top"] == ("tshirt", (1, 2, 3))
    assert look.with_garment("top", "none").garments == (("trousers", (10, 20, 30)),)
    for slot, name in (("top", "trousers"), ("hat", "tshirt"), ("feet", "../x")):
        with pytest.raises(UserInputError):
            look.with_garment(slot, name)


def test_look_round_trips_and_reads_create_reports(tmp_path):
    look = Look(hair=HairStyle.parse("long+fringe"), hair_srgb=(90, 60, 30)).with_garment("top", "shirt", (1, 2, 3))
    assert Look.from_dict(json.loads(json.dumps(look.to_dict()))) == look
    # report.json as `create` writes it (fitting.hair_fit.HairFit.to_dict, GarmentChoice.to_dict).
    report = {"hair": {"style": "medium", "spec": "medium+curly", "tie": "none", "curl": 1.0, "parting": "none",
                       "length_m": 0.15, "volume_m": 0.03, "fringe": 0.0, "colour_srgb": [20, 20, 20]},
              "outfit": [{"type": "longsleeve", "colour_srgb": [200, 0, 0], "source": "photo"},
                         {"type": "shoes", "colour_srgb": [40, 40, 42], "source": "default"}]}
    (tmp_path / "report.json").write_text(json.dumps(report))
    got = look_from_folder(tmp_path)
    assert got.hair.style == "medium" and got.hair.length == 0.15 and got.hair.curl == 1.0
    assert got.hair_srgb == (20, 20, 20) and got.garments == (("longsleeve", (200, 0, 0)), ("shoes", (40, 40, 42)))
    assert look_from_folder(tmp_path, {"look": look.to_dict()}) == look  # a studio export's params.json wins
    assert look_from_folder(tmp_path / "nothing") == Look()
    with pytest.raises(UserInputError):
        Look.from_dict({"outfit": [{"type": "cape"}]})


def test_parts_match_the_builders_and_follow_the_body(body):
    out = body.forward_params(body.params.complete({}))
    look = Look(hair=HairStyle.parse("long")).with_garment("top", "tshirt").with_garment("bottom", "shorts")
    parts = DressedParts.build(out, look)
    assert [p.key for p in parts.parts] == ["hair", "top", "bottom"]
    hair = build_hair(out, look.hair)
    np.testing.assert_array_equal(parts.parts[0].vertices, hair.vertices)
    for p, g in zip(parts.parts[1:], build_outfit(out, ["tshirt", "shorts"])):
        np.testing.assert_array_equal(p.vertices, g.vertices)
        np.testing.assert_array_equal(p.faces, g.faces)
    # On the body they were built on, following changes nothing.
    for p in parts.parts:
        np.testing.assert_allclose(p.follow(parts.built_on), p.vertices, atol=1e-6)
    # A heavier body: followed parts stay close to the exact rebuild (the live approximation;
    # the rebuild may have a few vertices more or less, so: distance to its nearest vertex).
    from scipy.spatial import cKDTree

    heavy = body.forward_params(body.params.complete({"weight": 1.0}))
    hv = heavy.vertices[0].numpy()
    rebuilt = DressedParts.build(heavy, look)
    for p, q in zip(parts.parts, rebuilt.parts):
        tree = cKDTree(q.vertices)
        err, stale = tree.query(p.follow(hv))[0], tree.query(p.vertices)[0]
        assert np.median(err) < 0.3 * np.median(stale) and np.median(err) < 0.004, p.key


def test_a_colour_change_rebuilds_nothing(body):
    out = body.forward_params(body.params.complete({}))
    look = Look(hair=HairStyle.parse("short")).with_garment("top", "jacket")
    first = DressedParts.build(out, look)
    second = DressedParts.build(out, look.with_hair(colour=(1, 1, 1)).with_garment("top", colour=(9, 9, 9)), first)
    assert [p.faces is q.faces for p, q in zip(first.parts, second.parts)] == [True, True]
    assert second.parts[0].srgb == (1, 1, 1) and second.parts[1].srgb == (9, 9, 9)
    third = DressedParts.build(out, look.with_garment("top", "shirt"), first)
    assert third.parts[0].faces is first.parts[0].faces and third.parts[1].faces is not first.parts[1].faces


def test_bald_and_unclothed_has_no_parts(body):
    out = body.forward_params(body.params.complete({}))
    assert DressedParts.build(out, Look()).parts == []


def test_state_avatar_carries_hair_and_outfit(body):
    state = StudioState(body)
    state.look = Look(hair=HairStyle.parse("ponytail"), hair_srgb=(10, 20, 30)).with_garment("top", "dress")
    av = state.avatar()
    assert av.hair is not None and av.hair.style.tie == "ponytail" and av.hair_srgb == (10, 20, 30)
    assert av.outfit == (("dress", DEFAULT_COLOURS["dress"]),) and len(av.garments) == 1
    state.load({"weight": 0.3}, None, "x")
    assert state.look == Look()  # loading another avatar without a look: bald, unclothed
