"""load_image: formats, EXIF orientation, pixel-mode conversions, bad files; detection_view."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, ImageFile

from avatarforge.errors import UserInputError
from avatarforge.perception import (
    DEFAULT_MAX_PIXELS,
    detection_view,
    load_image,
    original_to_view,
    view_to_original,
)


def _save(arr_or_img, path, **kw):
    img = arr_or_img if isinstance(arr_or_img, Image.Image) else Image.fromarray(arr_or_img)
    img.save(path, **kw)
    return path


def _user_error(path, **kw) -> str:
    with pytest.raises(UserInputError) as info:
        load_image(path, **kw)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg
    return msg


# --- formats -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ext, lossless", [("png", True), ("bmp", True), ("tif", True), ("jpg", False), ("webp", False)]
)
def test_formats_load_as_rgb8(tmp_path, grace, ext, lossless):
    path = _save(grace, tmp_path / f"photo.{ext}")
    img = load_image(path)
    assert img.rgb.dtype == np.uint8 and img.rgb.shape == grace.shape and img.rgb.flags.c_contiguous
    assert img.size == img.original_size == (512, 600)
    assert not img.exif_rotated and img.notes == []
    err = np.abs(img.rgb.astype(int) - grace).mean()
    assert err == 0 if lossless else err < 4


def test_unsupported_format_is_named(tmp_path, astronaut):
    path = _save(astronaut, tmp_path / "anim.gif")
    assert "GIF image, which is not supported" in _user_error(path)


def test_multiframe_tiff_uses_first_frame(tmp_path, astronaut):
    path = tmp_path / "pages.tif"
    Image.fromarray(astronaut).save(path, save_all=True, append_images=[Image.fromarray(255 - astronaut)])
    img = load_image(path)
    assert np.array_equal(img.rgb, astronaut) and "used the first of 2 frames" in img.notes


# --- EXIF orientation -----------------------------------------------------------------------

# Orientation tag value -> how the camera stored an upright picture (the inverse of the
# transform a viewer applies): 6 = "rotate 90 clockwise to view", so stored 90 counter-clockwise.
STORED = {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_90, 8: Image.Transpose.ROTATE_270}


@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_exif_orientation_is_applied(tmp_path, grace, orientation):
    from avatarforge.perception import face_landmarks

    stored = Image.fromarray(grace).transpose(STORED[orientation])
    exif = stored.getexif()
    exif[0x0112] = orientation
    path = _save(stored, tmp_path / "rotated.jpg", exif=exif, quality=95)

    img = load_image(path)
    assert img.exif_rotated and any(f"EXIF orientation {orientation}" in n for n in img.notes)
    assert img.original_size == stored.size and img.rgb.shape == grace.shape  # upright again
    assert np.abs(img.rgb.astype(int) - grace).mean() < 3
    # The face is found where it is on the upright photo, not on the sideways one.
    upright, loaded = face_landmarks(grace), face_landmarks(img)
    assert np.median(np.linalg.norm(loaded.xy - upright.xy, axis=1)) < 2.0


def test_no_exif_means_not_rotated(tmp_path, grace):
    img = load_image(_save(grace, tmp_path / "plain.jpg"))
    assert not img.exif_rotated and img.rgb.shape == grace.shape


# --- pixel modes ----------------------------------------------------------------------------


def test_greyscale_and_1bit(tmp_path, astronaut):
    grey = np.asarray(Image.fromarray(astronaut).convert("L"))
    img = load_image(_save(grey, tmp_path / "grey.png"))
    assert img.rgb.shape == (512, 512, 3) and "converted greyscale to RGB" in img.notes
    assert all(np.array_equal(img.rgb[..., c], grey) for c in range(3))
    bits = Image.fromarray(grey).convert("1")
    img = load_image(_save(bits, tmp_path / "bits.png"))
    assert set(np.unique(img.rgb)) <= {0, 255} and "converted 1-bit to RGB" in img.notes


def test_palette(tmp_path, astronaut):
    pal = Image.fromarray(astronaut).quantize(64)
    img = load_image(_save(pal, tmp_path / "pal.png"))
    assert np.array_equal(img.rgb, np.asarray(pal.convert("RGB")))
    assert "expanded the palette to RGB" in img.notes
    assert len(np.unique(img.rgb.reshape(-1, 3), axis=0)) <= 64


def test_palette_with_transparency_goes_over_white(tmp_path):
    pal = Image.new("P", (4, 1))
    pal.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    pal.putdata([0, 1, 0, 1])
    img = load_image(_save(pal, tmp_path / "tpal.png", transparency=0))
    assert img.rgb[0, 0].tolist() == [255, 255, 255] and img.rgb[0, 1].tolist() == [200, 100, 50]
    assert "composited the alpha channel over white" in img.notes


def _rgba(color=(0, 100, 200)) -> np.ndarray:
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = color
    rgba[0, :, 3] = [0, 128, 255]
    rgba[1, :, 3] = 255
    return rgba


def test_rgba_composited_over_white(tmp_path):
    img = load_image(_save(_rgba(), tmp_path / "cutout.png"))
    assert img.rgb[0, 0].tolist() == [255, 255, 255]  # transparent -> white
    assert img.rgb[0, 2].tolist() == [0, 100, 200]  # opaque -> unchanged
    half = img.rgb[0, 1].astype(int)  # ~half way to white, not clipped or ignored
    assert np.all(np.abs(half - [127, 177, 227]) <= 1)
    assert img.notes == ["composited the alpha channel over white"]


def test_rgba_alpha_dropped_on_request(tmp_path):
    img = load_image(_save(_rgba(), tmp_path / "cutout.png"), alpha="drop")
    assert np.all(img.rgb == [0, 100, 200]) and "dropped the alpha channel" in img.notes[0]


def test_opaque_alpha_and_la(tmp_path, astronaut):
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    img = load_image(_save(rgba, tmp_path / "opaque.png"))
    assert np.array_equal(img.rgb, astronaut) and img.notes == ["dropped a fully opaque alpha channel"]
    la = Image.fromarray(np.array([[[50, 0], [50, 255]]], np.uint8), "LA")
    img = load_image(_save(la, tmp_path / "la.png"))
    assert img.rgb[0].tolist() == [[255, 255, 255], [50, 50, 50]]


@pytest.mark.parametrize("ext", ["jpg", "tif"])
def test_cmyk(tmp_path, astronaut, ext):
    cmyk = Image.fromarray(astronaut).convert("CMYK")
    img = load_image(_save(cmyk, tmp_path / f"print.{ext}"))
    assert "converted CMYK to RGB" in img.notes
    err = np.abs(img.rgb.astype(int) - astronaut).mean()
    assert err == 0 if ext == "tif" else err < 6


GREY16 = np.array([[0, 1000, 32896, 65535, 128, 129, 257 * 200, 300]], dtype=np.uint16)
GREY16_AS_8 = [0, 4, 128, 255, 0, 1, 200, 1]  # round(v / 257), by hand


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_16bit_grey_is_scaled_not_clipped(tmp_path, ext):
    img = load_image(_save(GREY16, tmp_path / f"g16.{ext}"))
    assert img.rgb[0, :, 0].tolist() == GREY16_AS_8 and "scaled 16-bit greyscale to 8-bit" in img.notes
    ramp = (np.arange(256, dtype=np.uint16) * 257)[None]  # a full-range gradient
    img = load_image(_save(ramp, tmp_path / f"ramp.{ext}"))
    assert img.rgb[0, :, 1].tolist() == list(range(256))


def test_16bit_colour_png(tmp_path):
    ramp = np.arange(0, 65536, 257, dtype=np.uint16)
    rgb16 = np.stack([ramp, ramp[::-1], np.full_like(ramp, 40000)], axis=-1)[None]
    path = tmp_path / "c16.png"
    cv2.imwrite(str(path), rgb16[..., ::-1])  # OpenCV writes BGR
    img = load_image(path)
    expected = np.round(rgb16 / 257.0)
    assert np.abs(img.rgb.astype(int) - expected).max() <= 1
    assert img.rgb[..., 0].max() == 255 and len(np.unique(img.rgb[..., 0])) == 256  # not clipped


def test_32bit_int_and_float(tmp_path):
    as16 = Image.fromarray(GREY16.astype(np.int32))
    assert as16.mode == "I"
    img = load_image(_save(as16, tmp_path / "i32.tif"))
    assert img.rgb[0, :, 0].tolist() == GREY16_AS_8

    signed = Image.fromarray(np.array([[-100, 0, 300]], np.int32))
    img = load_image(_save(signed, tmp_path / "signed.tif"))
    assert img.rgb[0, :, 0].tolist() == [0, 64, 255] and "stretched" in img.notes[0]

    unit = Image.fromarray(np.array([[0.0, 0.25, 1.0]], np.float32))
    img = load_image(_save(unit, tmp_path / "f.tif"))
    assert img.rgb[0, :, 0].tolist() == [0, 64, 255] and "0..1 float" in img.notes[0]


# --- bad files ------------------------------------------------------------------------------


def _png_header_only(path, width, height):
    """A PNG whose header claims ``width x height`` but holds one tiny junk IDAT chunk."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b""))
    return path


def test_decompression_bomb_default_limit(tmp_path):
    assert DEFAULT_MAX_PIXELS == 100_000_000
    # Above twice the limit Pillow's own DecompressionBombError fires, inside Image.open.
    msg = _user_error(_png_header_only(tmp_path / "bomb.png", 30000, 30000))
    assert "too large" in msg and "raise max_pixels" in msg
    # Between 1x and 2x the limit our own header check fires, before any decoding.
    msg = _user_error(_png_header_only(tmp_path / "big.png", 12000, 12000))
    assert "12000x12000 = 144 MP" in msg and "limit is 100 MP" in msg


def test_pixel_limit_is_configurable(tmp_path, astronaut):
    path = _save(astronaut, tmp_path / "a.png")
    assert "too large" in _user_error(path, max_pixels=100_000)
    assert load_image(path, max_pixels=512 * 512).rgb.shape == (512, 512, 3)
    # Raising the limit above Pillow's own default (~179 MP) works too: this 225 MP header now
    # passes the size checks and fails later, on its junk pixel data.
    huge = _png_header_only(tmp_path / "huge.png", 15000, 15000)
    assert "truncated or corrupt" in _user_error(huge, max_pixels=300_000_000)
    assert Image.MAX_IMAGE_PIXELS != 300_000_000  # Pillow's global is restored


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_truncated_file_is_an_error(tmp_path, astronaut, ext, monkeypatch):
    whole = _save(astronaut, tmp_path / f"whole.{ext}").read_bytes()
    path = tmp_path / f"cut.{ext}"
    path.write_bytes(whole[: int(len(whole) * 0.6)])
    assert "is not a readable image (truncated or corrupt)" in _user_error(path)
    # Even when someone made Pillow lenient process-wide, a cut file is not grey-padded.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert "truncated" in _user_error(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True


def test_empty_text_directory_missing(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    assert "is empty (0 bytes)" in _user_error(empty)
    text = tmp_path / "notes.jpg"
    text.write_text("this is not a photo\n")
    assert "is not a readable image (unknown format)" in _user_error(text)
    assert "is a directory, not an image" in _user_error(tmp_path)
    assert "does not exist" in _user_error(tmp_path / "nope.png")
    heic = tmp_path / "phone.heic"
    heic.write_bytes(b"\0\0\0\x18ftypheic" + b"\0" * 64)
    assert "HEIC file" in _user_error(heic)


# --- detection view -------------------------------------------------------------------------


def test_detection_view_small_image_is_untouched(astronaut):
    view, scale = detection_view(astronaut, max_side=1280)
    assert view is astronaut and scale == 1.0


def test_detection_view_maps_points_back():
    big = np.zeros((3000, 4000, 3), np.uint8)
    cv2.circle(big, (3111, 777), 12, (255, 255, 255), -1)  # a dot centred on pixel (3111, 777)
    view, scale = detection_view(big, max_side=1000)
    assert view.shape == (750, 1000, 3) and scale == pytest.approx(0.25)
    ys, xs = np.nonzero(view[..., 0])
    w = view[ys, xs, 0].astype(float)
    centre_view = np.array([(xs * w).sum(), (ys * w).sum()]) / w.sum() + 0.5  # pixel centres
    centre = view_to_original(centre_view, scale)
    assert np.allclose(centre, [3111.5, 777.5], atol=1.0)
    assert np.allclose(original_to_view(centre, scale), centre_view)
