"""Errors a user can act on.

Library code raises these; the CLI turns them into one line on stderr and an exit code
(2 for bad user input), with the traceback only under ``--debug``.
"""

from __future__ import annotations

__all__ = ["AvatarforgeError", "UserInputError", "MissingDependencyError"]


class AvatarforgeError(Exception):
    """Base class of every error avatarforge raises on purpose."""

    exit_code = 1


class UserInputError(AvatarforgeError, ValueError):
    """The input (a file, a flag, a parameter) is wrong; the message says how to fix it."""

    exit_code = 2


class MissingDependencyError(AvatarforgeError, ImportError):
    """An optional extra is not installed; the message names the ``pip install`` to run."""

    exit_code = 2


def require(module: str, extra: str):
    """Import an optional module or raise a MissingDependencyError naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError(
            f"{module} is not installed: run `pip install 'avatarforge[{extra}]'`"
        ) from exc
