"""params.json: every parameter needed to rebuild the exact mesh, and loading it back."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from avatarforge.errors import UserInputError

__all__ = ["ParamsFile", "FORMAT"]

FORMAT = "avatarforge.params/1"


@dataclass
class ParamsFile:
    """The content of params.json."""

    backend: str
    """Body model backend (``anny``)."""
    values: dict[str, float]
    """Every named parameter (shape, expression and pose), complete."""
    pose_preset: str = "a"
    """Rest pose the export was made in (its values are folded into ``values``)."""
    backend_config: dict[str, str] = field(default_factory=dict)
    """Backend construction options (e.g. Anny's local-change set)."""
    backend_version: str = ""
    extra: dict = field(default_factory=dict)
    """Stage-specific data (camera, fitting info, ...)."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "backend": self.backend,
                "backend_version": self.backend_version,
                "backend_config": self.backend_config,
                "pose_preset": self.pose_preset,
                "values": self.values,
                "extra": self.extra,
            },
            indent=1,
        )

    def write(self, path: str | os.PathLike) -> None:
        Path(path).write_text(self.to_json())

    @classmethod
    def read(cls, path: str | os.PathLike) -> "ParamsFile":
        path = Path(path)
        if path.is_dir():
            path = path / "params.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise UserInputError(f"no params file at {path}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserInputError(f"{path} is not valid JSON ({exc}): regenerate it") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise UserInputError(f"{path} is not an avatarforge params file (format {FORMAT})")
        values = data.get("values")
        if not isinstance(values, Mapping) or not all(
            isinstance(v, (int, float)) and math.isfinite(v) for v in values.values()
        ):
            raise UserInputError(f"{path}: 'values' must map names to finite numbers")
        return cls(
            backend=str(data.get("backend", "")),
            values={str(k): float(v) for k, v in values.items()},
            pose_preset=str(data.get("pose_preset", "a")),
            backend_config=dict(data.get("backend_config") or {}),
            backend_version=str(data.get("backend_version", "")),
            extra=dict(data.get("extra") or {}),
        )
