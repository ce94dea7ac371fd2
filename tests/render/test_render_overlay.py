"""render.overlay.draw_numbered_boxes: the faces.png picture, from arrays."""

import numpy as np

from avatarforge.render.overlay import BOX_COLOURS, draw_numbered_boxes


def test_numbered_boxes_are_drawn_where_and_in_the_colour_asked():
    rgb = np.full((200, 300, 3), 255, np.uint8)
    boxes = np.array([[40.0, 60.0, 120.0, 150.0], [180.0, 30.0, 260.0, 110.0]])
    img = draw_numbered_boxes(rgb, boxes, [0, 1])
    assert img.shape == rgb.shape and img.dtype == np.uint8
    assert (rgb == 255).all()  # the input is not drawn on
    for (x0, y0, x1, y1), label in zip(boxes.astype(int), (0, 1)):
        colour = np.array(BOX_COLOURS[label])
        left_edge = img[y0 + 10 : y1 - 10, x0].astype(int)
        assert (np.abs(left_edge - colour).sum(-1) < 30).all()
        inside = img[y0 + 10 : y1 - 10, x0 + 10 : x1 - 10]
        assert (inside == 255).all()  # only the outline
    # The tag above box 0 is filled with its colour (the label is written in white inside it).
    tag = img[35:58, 42:46].astype(int)
    assert (np.abs(tag - np.array(BOX_COLOURS[0])).sum(-1) < 30).mean() > 0.5


def test_large_photos_are_shrunk_with_their_boxes():
    rgb = np.zeros((1000, 4000, 3), np.uint8)
    img = draw_numbered_boxes(rgb, np.array([[1000.0, 400.0, 2000.0, 800.0]]), [2], max_side=1600)
    assert img.shape == (400, 1600, 3)
    colour = np.array(BOX_COLOURS[2])
    assert (np.abs(img[200, 400].astype(int) - colour).sum() < 30)  # left edge at x = 1000 * 0.4
    assert (img[200, 600] == 0).all()
