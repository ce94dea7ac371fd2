"""Shared fixtures. The real embedded body model is built once per session (the first build
on a new machine takes ~1-2 min and is cached under ~/.cache/avatarforge).

Every test that uses it -- through the ``body`` fixture, directly or via another fixture -- is
marked ``slow`` automatically, so ``pytest -m "not slow"`` is the fast loop; a test that builds
the real body model without being marked fails (see ``_real_body_only_in_slow_tests``)."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from avatarforge.export.validate import GltfValidatorUnavailable, find_validator, validate_gltf


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "body" in getattr(item, "fixturenames", ()):  # the whole fixture closure
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _real_body_only_in_slow_tests(request, monkeypatch):
    """Building the real body model in a test not marked slow is an error, so that the fast
    loop stays fast (request the ``body`` fixture, which marks the test)."""
    if request.node.get_closest_marker("slow") is None:
        import avatarforge.bodies.anny_body as anny_body

        def refuse(*args, **kwargs):
            raise AssertionError(f"{request.node.nodeid} builds the real body model: request the `body` fixture "
                                 "(or mark the test slow)")

        monkeypatch.setattr(anny_body, "load_anny", refuse)


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
