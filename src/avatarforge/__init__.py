"""avatarforge: one photo in, a personalised, textured, rigged 3D avatar out, on a CPU."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "build_avatar", "load_avatar_params", "load_body"]


def __getattr__(name: str):  # lazy: keep `import avatarforge` light
    if name in ("build_avatar", "load_avatar_params"):
        from avatarforge import avatar

        return getattr(avatar, name)
    if name == "load_body":
        from avatarforge.bodies import load_body

        return load_body
    raise AttributeError(name)
