"""Photo parsing: the label map, its palette PNG, glasses/headwear detection, the head-silhouette IoU."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from avatarforge.errors import UserInputError
from avatarforge.perception import landmark_groups as fr
from avatarforge.perception.parsing import (
    Accessories,
    LABELS,
    PALETTE,
    ColourModel,
    PhotoParsing,
    _lab,
    head_silhouette_box,
    head_silhouette_iou,
    parse_photo,
)

ASTRONAUT = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"


def test_head_silhouette_box_is_the_issue_region():
    # Landmarks box x 100..200, y 100..220: w 100, h 120 -> x in [50, 250], y in [4, 220].
    pts = np.array([[100.0, 100.0], [200.0, 220.0], [150.0, 150.0]])
    r0, r1, c0, c1 = head_silhouette_box(pts, (400, 400))
    # Pixel centres (i + 0.5) inside: columns 50..249, rows 4..219.
    assert (r0, r1, c0, c1) == (4, 220, 50, 250)
    assert head_silhouette_box(pts, (100, 120)) == (4, 100, 50, 120)  # clipped to the image


def test_head_silhouette_iou_counts_only_inside_the_region():
    pts = np.array([[100.0, 100.0], [200.0, 220.0]])
    person = np.zeros((400, 400), np.float32)
    alpha = np.zeros((400, 400), np.uint8)
    person[50:220, 100:200] = 0.9                      # 170 x 100 inside the region
    alpha[100:220, 100:200] = 255                      # 120 x 100, a subset
    alpha[300:, :] = 255                               # below the region: ignored
    assert head_silhouette_iou(alpha, person, pts) == pytest.approx(120 / 170)
    assert head_silhouette_iou(alpha.astype(np.float32) / 255, person, pts) == pytest.approx(120 / 170)
    assert head_silhouette_iou(np.zeros_like(alpha), np.zeros_like(person), pts) == 1.0
    with pytest.raises(UserInputError):
        head_silhouette_iou(alpha[:10], person, pts)


def test_lab_matches_skimage():
    from skimage.color import rgb2lab

    rgb = np.random.default_rng(1).integers(0, 256, (40, 40, 3)).astype(np.uint8)
    np.testing.assert_allclose(_lab(rgb), rgb2lab(rgb), atol=0.02)


def test_colour_model_recovers_two_clusters():
    rng = np.random.default_rng(0)
    a = rng.normal([60, 10, 20], [4, 2, 2], (600, 3))
    b = rng.normal([25, 2, 5], [3, 1, 1], (300, 3))
    m = ColourModel(np.concatenate([a, b]), k=2)
    order = np.argsort(m.means[:, 0])
    np.testing.assert_allclose(m.means[order], [[25, 2, 5], [60, 10, 20]], atol=1.0)
    np.testing.assert_allclose(np.sort(m.weights), [1 / 3, 2 / 3], atol=0.03)
    assert m.distance(np.array([[60.0, 10, 20]]))[0] < 0.5
    assert m.distance(np.array([[60.0, 60, 60]]))[0] > 10
    assert m.score(np.array([[60.0, 10, 20]]))[0] > m.score(np.array([[90.0, -40, 50]]))[0]
    with pytest.raises(ValueError):
        ColourModel(np.zeros((3, 3)))


def test_palette_png_round_trip():
    labels = np.arange(len(LABELS), dtype=np.uint8).repeat(3).reshape(1, -1).repeat(2, 0)
    nothing = Accessories(glasses=False, glasses_score=0.0, sunglasses=False, headwear=False, headwear_score=0.0)
    p = PhotoParsing(labels, np.zeros(labels.shape, np.float32), nothing, np.zeros(3, np.float32), None)
    im = Image.open(io.BytesIO(p.to_png()))
    assert im.mode == "P" and im.size == (labels.shape[1], labels.shape[0])
    np.testing.assert_array_equal(np.asarray(im), labels)
    np.testing.assert_array_equal(np.asarray(im.convert("RGB"))[0, ::3], np.array(PALETTE, np.uint8))
    legend = p.legend
    assert list(legend) == list(LABELS) and all(v["pixels"] == 6 for v in legend.values())
    with pytest.raises(ValueError):
        p.mask("hat")


@pytest.fixture(scope="module")
def astronaut():
    from avatarforge.perception.face import face_landmarks
    from avatarforge.perception.image_io import load_image

    rgb = load_image(ASTRONAUT).rgb
    return rgb, face_landmarks(rgb).points


def _poly_mask(shape, pts):
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(pts[:, :2]).astype(np.int32)], 1)
    return m.astype(bool)


def test_astronaut_parsing(astronaut):
    rgb, pts = astronaut
    p = parse_photo(rgb, pts)
    assert p.labels.shape == rgb.shape[:2] and p.labels.dtype == np.uint8
    oval = _poly_mask(rgb.shape[:2], pts[fr.FACE_OVAL])
    # The face oval is mostly skin; the eyes/lips polygons carry their labels.
    assert p.mask("face_skin")[oval].mean() > 0.7
    assert p.mask("eyes")[_poly_mask(rgb.shape[:2], pts[fr.LEFT_EYE])].mean() > 0.9
    assert p.mask("lips")[_poly_mask(rgb.shape[:2], pts[fr.LIPS_OUTER])].mean() > 0.9
    # Her hair: the band just above the forehead, between the temples.
    x0, y0 = pts[:, :2].min(0)
    x1, y1 = pts[:, :2].max(0)
    band = np.zeros(rgb.shape[:2], bool)
    band[int(y0 - 0.25 * (y1 - y0)): int(y0 - 0.05 * (y1 - y0)), int(x0 + 0.2 * (x1 - x0)): int(x1 - 0.2 * (x1 - x0))] = True
    assert p.mask("hair")[band].mean() > 0.6
    # The top-left corner is background (the flag/wall behind her).
    assert (p.labels[:20, :20] == 0).all()
    assert not p.accessories.glasses and not p.accessories.headwear
    assert p.hair_lab is not None and p.hair_lab[0] < p.skin_lab[0]  # hair darker than her skin
    rep = p.report()
    assert rep["detected"]["glasses"] is False and rep["legend"]["hair"]["index"] == LABELS.index("hair")


def _glasses(rgb, pts, colour=(20, 20, 25)):
    from avatarforge.dev.face_synthetic import draw_glasses

    return draw_glasses(rgb, pts, colour)


def test_glasses_are_detected_and_labelled(astronaut):
    rgb, pts = astronaut
    img = _glasses(rgb, pts)
    p = parse_photo(img, pts)
    assert p.accessories.glasses and not p.accessories.sunglasses
    drawn = np.any(img != rgb, axis=-1)
    assert p.mask("glasses")[drawn].mean() > 0.5
    assert not p.mask("face_skin")[drawn].any() or p.mask("face_skin")[drawn].mean() < 0.1


def test_headwear_is_detected_and_kept_out_of_hair(astronaut):
    rgb, pts = astronaut
    from avatarforge.dev.face_synthetic import draw_hat

    img = draw_hat(rgb, pts, (40, 60, 200))
    hat = np.any(img != rgb, axis=-1)
    p = parse_photo(img, pts)
    assert p.accessories.headwear and p.accessories.headwear_score > 0.5
    person_hat = hat & (p.person > 0.5)
    assert p.mask("headwear")[person_hat].mean() > 0.7
    assert p.mask("hair")[hat].mean() < 0.05


@pytest.mark.wrong_types  # a grey image and 68 points: the validation itself is tested
def test_bad_inputs(astronaut):
    rgb, pts = astronaut
    with pytest.raises(UserInputError):
        parse_photo(rgb[..., 0], pts)
    with pytest.raises(UserInputError):
        parse_photo(rgb, pts[:68])


def test_sunglasses_are_detected(astronaut):
    rgb, pts = astronaut
    img = rgb.copy()
    eye_w = np.linalg.norm(pts[fr.RIGHT_EYE_OUTER, :2] - pts[fr.RIGHT_EYE_INNER, :2])
    for ids in (fr.RIGHT_EYE, fr.LEFT_EYE):
        c = pts[ids, :2].mean(0)
        cv2.ellipse(img, (int(c[0]), int(c[1])), (int(0.8 * eye_w), int(0.55 * eye_w)), 0, 0, 360, (15, 15, 18), -1)
    p = parse_photo(_glasses(img, pts), pts)
    assert p.accessories.glasses and p.accessories.sunglasses
