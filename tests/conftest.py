"""Shared fixtures. The real embedded body model is built once per session (the first build
on a new machine takes ~1-2 min and is cached under ~/.cache/avatarforge)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from avatarforge.export.validate import GltfValidatorUnavailable, find_validator, validate_gltf


@pytest.fixture(scope="session")
def body():
    from avatarforge.bodies import load_body

    return load_body()


@pytest.fixture(scope="session")
def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture(scope="session")
def gltf_validator() -> Callable[..., dict]:
    """`validate_gltf`, or a skip when node / the npm validator is missing.

    On CI (``CI=true``) a missing validator is a failure, never a skip: install it with
    ``npm ci --prefix tools``.
    """
    try:
        find_validator()
    except GltfValidatorUnavailable as err:
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"CI=true but the glTF validator is unavailable: {err}")
        pytest.skip(f"glTF validator unavailable: {err}")
    return validate_gltf
