"""Shared fixtures. The real embedded body model is built once per session (the first build
on a new machine takes ~1-2 min and is cached under ~/.cache/avatarforge)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def body():
    from avatarforge.bodies import load_body

    return load_body()


@pytest.fixture(scope="session")
def on_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
