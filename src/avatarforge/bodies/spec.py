"""Parameters declared as data: one spec drives CLI flags, GUI sliders and validation."""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from avatarforge.errors import UserInputError

__all__ = ["ParamSpec", "ParamSet"]


@dataclass(frozen=True)
class ParamSpec:
    """One named scalar parameter of a body model."""

    name: str
    """Unique name, e.g. ``age``, ``nose-hump-incr``, ``jawOpen``, ``pose.neck01.x``."""
    group: str
    """``phenotype``, ``local``, ``expression`` or ``pose``."""
    low: float
    """Smallest accepted value."""
    high: float
    """Largest accepted value."""
    default: float
    """Value when not given."""
    doc: str = ""
    """One line for help texts and tooltips."""
    region: str = ""
    """Body region for grouping in the GUI (head, face, torso, arms, legs, ...)."""
    unit: str = ""
    """Unit of the value (``deg`` for pose angles; empty when unitless)."""

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "group": self.group,
            "low": self.low,
            "high": self.high,
            "default": self.default,
            "doc": self.doc,
            "region": self.region,
            "unit": self.unit,
        }


class ParamSet:
    """An ordered collection of specs with by-name lookup and validation."""

    def __init__(self, specs: Iterable[ParamSpec]):
        self.specs: tuple[ParamSpec, ...] = tuple(specs)
        self._by_name = {s.name: s for s in self.specs}
        if len(self._by_name) != len(self.specs):
            raise ValueError("duplicate parameter names in spec")

    def __len__(self) -> int:
        return len(self.specs)

    def __iter__(self):
        return iter(self.specs)

    def __contains__(self, name: str) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> ParamSpec:
        return self._by_name[name]

    def names(self, group: str | None = None) -> list[str]:
        return [s.name for s in self.specs if group is None or s.group == group]

    def groups(self) -> list[str]:
        return list(dict.fromkeys(s.group for s in self.specs))

    def defaults(self) -> dict[str, float]:
        return {s.name: s.default for s in self.specs}

    def unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, self._by_name, n=3, cutoff=0.6)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        groups = ", ".join(f"{g} ({len(self.names(g))})" for g in self.groups())
        return (
            f"unknown parameter {name!r}{hint} Valid groups: {groups}; "
            "run `avatarforge params` for the full list"
        )

    def validate(self, values: Mapping[str, float | str]) -> dict[str, float]:
        """Check names and ranges; return the values as floats (unchanged otherwise). Values may
        be strings (``--set NAME=VALUE``, params.json): anything ``float()`` reads.

        Raises UserInputError naming the valid choices for an unknown name and the range
        for an out-of-range or non-finite value.
        """
        out: dict[str, float] = {}
        for name, value in values.items():
            if name not in self._by_name:
                raise UserInputError(self.unknown_message(name))
            spec = self._by_name[name]
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise UserInputError(f"parameter {name} needs a number, got {value!r}") from None
            if not math.isfinite(v) or not (spec.low <= v <= spec.high):
                raise UserInputError(
                    f"parameter {name}={value} is out of range: valid is "
                    f"[{spec.low:g}, {spec.high:g}]{' ' + spec.unit if spec.unit else ''}"
                )
            out[name] = v
        return out

    def complete(self, values: Mapping[str, float | str]) -> dict[str, float]:
        """Validated values with every missing parameter at its default, in spec order."""
        given = self.validate(values)
        return {s.name: given.get(s.name, s.default) for s in self.specs}

    @staticmethod
    def parse_assignments(items: Iterable[str]) -> dict[str, str]:
        """Parse ``NAME=VALUE`` strings (as given to ``--set``)."""
        out: dict[str, str] = {}
        for item in items:
            name, sep, value = item.partition("=")
            if not sep or not name.strip() or not value.strip():
                raise UserInputError(f"--set expects NAME=VALUE, got {item!r}")
            out[name.strip()] = value.strip()
        return out
