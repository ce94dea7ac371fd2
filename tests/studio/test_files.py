"""Expressions on disk and upload checks: names, types, sizes, paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avatarforge.errors import UserInputError
from avatarforge.studio.expressions import load_expressions, safe_name, save_expression
from avatarforge.studio.uploads import sniff_image, store_params, store_photo

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "astronaut.jpg"
ACTIONS = ["jawOpen", "mouthSmileLeft", "eyeBlinkLeft"]


def test_expression_round_trip_keeps_non_zero_weights(tmp_path):
    path = save_expression(tmp_path, "Big grin!", {"mouthSmileLeft": 0.75, "jawOpen": 0.0}, ACTIONS)
    assert path == tmp_path / "expressions" / "Big-grin.json"
    assert json.loads(path.read_text())["weights"] == {"mouthSmileLeft": 0.75}
    assert load_expressions(tmp_path, ACTIONS) == {"Big-grin": {"mouthSmileLeft": 0.75}}


@pytest.mark.parametrize("name", ["../../etc/passwd", "/abs/path", "..\\x", "a/b"])
def test_expression_names_cannot_leave_the_folder(tmp_path, name):
    path = save_expression(tmp_path, name, {"jawOpen": 0.5}, ACTIONS)
    assert path.parent == tmp_path / "expressions" and "/" not in path.name and ".." not in path.name


def test_bad_expression_names_and_actions(tmp_path):
    with pytest.raises(UserInputError):
        safe_name("../..")
    with pytest.raises(UserInputError):
        save_expression(tmp_path, "x", {"notAnAction": 1.0}, ACTIONS)


def test_invalid_expression_files_are_skipped(tmp_path):
    folder = tmp_path / "expressions"
    folder.mkdir()
    (folder / "junk.json").write_text("{not json")
    (folder / "range.json").write_text(json.dumps({"format": "avatarforge.expression/1", "weights": {"jawOpen": 3}}))
    save_expression(tmp_path, "ok", {"jawOpen": 0.5}, ACTIONS)
    assert list(load_expressions(tmp_path, ACTIONS)) == ["ok"]


def test_sniff_image_types():
    assert sniff_image(EXAMPLE.read_bytes()) == ".jpg"
    assert sniff_image(b"\x89PNG\r\n\x1a\n" + b"\0" * 10) == ".png"
    assert sniff_image(b"RIFF\0\0\0\0WEBPVP8 ") == ".webp"
    for bad in (b"<svg xmlns=...>", b"GIF89a....", b"%PDF-1.4", b"RIFF\0\0\0\0WAVE"):
        with pytest.raises(UserInputError):
            sniff_image(bad)


def test_store_photo_accepts_a_real_photo_under_a_random_name(tmp_path):
    path = store_photo(tmp_path, EXAMPLE.read_bytes())
    assert path.parent == tmp_path / "uploads" and path.suffix == ".jpg"
    assert path.read_bytes() == EXAMPLE.read_bytes()


def test_store_photo_refuses_large_wrong_and_corrupt_files(tmp_path):
    data = EXAMPLE.read_bytes()
    with pytest.raises(UserInputError, match="limit"):
        store_photo(tmp_path, data, limit=len(data) - 1)
    with pytest.raises(UserInputError, match="not a JPEG"):
        store_photo(tmp_path, b"#!/bin/sh\nrm -rf /\n")
    with pytest.raises(UserInputError, match="empty"):
        store_photo(tmp_path, b"")
    with pytest.raises(UserInputError, match="cannot be used"):
        store_photo(tmp_path, data[: len(data) // 3])  # truncated JPEG
    assert not any((tmp_path / "uploads").glob("*"))  # nothing refused is kept


def test_store_params(tmp_path, body):
    from avatarforge.avatar import build_avatar

    good = build_avatar({"weight": 0.3}, body=body).params_file().to_json().encode()
    assert store_params(tmp_path, good).read_bytes() == good
    for bad in (b"{", b"[]", json.dumps({"format": "avatarforge.params/1", "values": {"a": "x"}}).encode()):
        with pytest.raises(UserInputError):
            store_params(tmp_path, bad)
