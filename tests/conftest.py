"""Shared fixtures. The real embedded body model is built once per session (the first build
on a new machine takes ~1-2 min and is cached under ~/.cache/avatarforge).

Every test that uses it -- through the ``body`` fixture, directly or via another fixture -- is
marked ``slow`` automatically, so ``pytest -m "not slow"`` is the fast loop; a test that builds
the real body model without being marked fails (see ``_real_body_only_in_slow_tests``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

import jaxtyping
import pytest

# Runtime checks of every jaxtyping / type annotation of avatarforge, with beartype (PEP 484
# numeric tower: an int is accepted where a float is annotated). The hook must be installed
# before avatarforge is imported, so it comes first. Every subpackage is listed except
# avatarforge.cli: typer declares options as argument defaults (`debug: bool =
# typer.Option(...)`), which a runtime checker reads as wrong-typed defaults. (Installed here
# rather than with `--jaxtyping-packages`: that option cannot take several packages together
# with a configured checker.)
CHECKED_PACKAGES = [f"avatarforge.{name}" for name in (
    "avatar", "errors", "outputs", "bodies", "util", "render", "perception", "fitting", "texture", "export",
    "pipeline", "portrait", "neural", "research", "studio", "implicit", "animate", "imavatar", "dev")]
assert not any(name in sys.modules for name in CHECKED_PACKAGES), "avatarforge was imported before the type checks"
jaxtyping.install_import_hook(CHECKED_PACKAGES, "beartype.beartype(conf=beartype.BeartypeConf(is_pep484_tower=True))")

from avatarforge.export.validate import GltfValidatorUnavailable, find_validator, validate_gltf  # noqa: E402


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


@pytest.fixture(autouse=True)
def _runtime_type_checks(request):
    """The jaxtyping/beartype hook (pyproject addopts) checks every call. A test marked
    ``wrong_types`` feeds arguments that break the annotations on purpose, to test the
    function's own user-facing validation of untrusted input; the runtime checks are off for it
    (they would raise before that validation runs)."""
    if request.node.get_closest_marker("wrong_types") is None:
        yield
        return
    import jaxtyping

    jaxtyping.config.update("jaxtyping_disable", True)
    try:
        yield
    finally:
        jaxtyping.config.update("jaxtyping_disable", False)


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
