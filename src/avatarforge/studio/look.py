"""The hair and clothes of a studio avatar: what the Hair and Outfit folders edit.

A :class:`Look` is plain data (a hair style, its colour, one garment per outfit slot). The
meshes come from the same builders as ``create`` (`bodies.hair.build_hair`,
`bodies.garments.build_outfit`) on the current body. Building them takes ~30-150 ms, too
slow for every step of a slider drag, so :class:`DressedParts` also records, per part vertex,
the nearest body vertex when it was built: while a body slider moves, the parts follow the
body by those vertices' displacement (microseconds), and they are rebuilt exactly once the
slider rests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from jaxtyping import Float, Int

from avatarforge.bodies.garments import DEFAULT_COLOURS, GARMENTS, check_outfit
from avatarforge.bodies.hair import HAIR_STYLES, HairStyle
from avatarforge.errors import UserInputError

__all__ = ["Look", "DressedParts", "Part", "OUTFIT_SLOTS", "SLOT_CHOICES", "NO_GARMENT", "HAIR_COLOUR",
           "LENGTH_RANGE", "VOLUME_RANGE", "look_from_folder"]

#: The Outfit folder's layers (a dress takes the top's dropdown and clears the bottom).
OUTFIT_SLOTS = ("top", "bottom", "feet")
NO_GARMENT = "none"
#: Garment types offered per layer.
SLOT_CHOICES: dict[str, tuple[str, ...]] = {
    slot: (NO_GARMENT, *(n for n, g in GARMENTS.items() if g.slots[0] == slot)) for slot in OUTFIT_SLOTS}
#: Hair colour of a style chosen on an avatar that had none (dark brown).
HAIR_COLOUR = (60, 45, 35)
#: Slider ranges (metres) of the hair's length below the eyes and its volume over the skull.
LENGTH_RANGE = (0.0, 0.45)
VOLUME_RANGE = (0.0, 0.06)

RGB = tuple[int, int, int]


def _rgb(value, what: str) -> RGB:
    try:
        rgb = tuple(int(round(float(c))) for c in value)
    except (TypeError, ValueError):
        raise UserInputError(f"{what} must be three numbers 0-255") from None
    if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
        raise UserInputError(f"{what} must be three numbers 0-255, got {value!r}")
    return rgb  # type: ignore[return-value]


@dataclass(frozen=True)
class Look:
    """Hair style and colour, and the outfit: ``outfit`` maps a slot of :data:`OUTFIT_SLOTS`
    to ``(garment type, sRGB)``; a missing slot is bare."""

    hair: HairStyle = field(default_factory=lambda: HairStyle("bald"))
    hair_srgb: RGB = HAIR_COLOUR
    outfit: dict[str, tuple[str, RGB]] = field(default_factory=dict)

    @property
    def garments(self) -> tuple[tuple[str, RGB], ...]:
        """(type, sRGB) pairs in slot order, as ``avatar.Avatar.outfit`` holds them."""
        return tuple(self.outfit[s] for s in OUTFIT_SLOTS if s in self.outfit)

    # ------------------------------------------------------------ edits (validated)
    def with_hair(self, style=None, length=None, volume=None, colour=None) -> "Look":
        """This look with the hair changed. A new ``style`` starts from that preset (its length
        and volume) keeping curl, parting and fringe; ``length``/``volume`` are metres."""
        hair = self.hair
        if style is not None and style != hair.style:
            if not isinstance(style, str) or style not in HAIR_STYLES:
                raise UserInputError(f"unknown hair style {style!r}: choose one of {', '.join(HAIR_STYLES)}")
            hair = replace(HairStyle.preset(style), curl=hair.curl, parting=hair.parting, fringe=hair.fringe)
        for name, value, (lo, hi) in (("length", length, LENGTH_RANGE), ("volume", volume, VOLUME_RANGE)):
            if value is None:
                continue
            try:
                v = float(value)
            except (TypeError, ValueError):
                raise UserInputError(f"hair {name} must be a number") from None
            if not (np.isfinite(v) and lo <= v <= hi):
                raise UserInputError(f"hair {name} {value!r} is outside {lo:g}..{hi:g} m")
            hair = replace(hair, **{name: v})
        srgb = self.hair_srgb if colour is None else _rgb(colour, "hair colour")
        return replace(self, hair=hair, hair_srgb=srgb)

    def with_garment(self, slot, name=None, colour=None) -> "Look":
        """This look with layer ``slot`` set to garment ``name`` (``"none"``: bare) and/or its
        colour. A dress also takes the bottom; a bottom replaces a dress."""
        if not isinstance(slot, str) or slot not in OUTFIT_SLOTS:
            raise UserInputError(f"unknown outfit layer {slot!r}: choose one of {', '.join(OUTFIT_SLOTS)}")
        outfit = dict(self.outfit)
        current = outfit.get(slot)
        if name is None:
            name = current[0] if current else NO_GARMENT
        if not isinstance(name, str) or name not in SLOT_CHOICES[slot]:
            raise UserInputError(f"{name!r} is not a {slot} garment: choose one of {', '.join(SLOT_CHOICES[slot])}")
        if name == NO_GARMENT:
            outfit.pop(slot, None)
            return replace(self, outfit=outfit)
        if colour is not None:
            srgb = _rgb(colour, f"{slot} colour")
        elif current is not None and current[0] == name:
            srgb = current[1]
        else:
            srgb = DEFAULT_COLOURS[name]
        outfit[slot] = (name, srgb)
        # One garment per body slot: whatever else covers a slot this one takes is dropped.
        for other in [s for s in outfit if s != slot]:
            if set(GARMENTS[outfit[other][0]].slots) & set(GARMENTS[name].slots):
                del outfit[other]
        check_outfit([n for n, _ in outfit.values()])
        return replace(self, outfit=outfit)

    # ------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        h = self.hair
        return {"hair": {"spec": h.spec, "length_m": round(h.length, 4), "volume_m": round(h.volume, 4),
                         "fringe": round(h.fringe, 3), "curl": round(h.curl, 3), "colour_srgb": list(self.hair_srgb)},
                "outfit": [{"type": n, "colour_srgb": list(c)} for n, c in self.garments]}

    @classmethod
    def from_dict(cls, data: dict) -> "Look":
        """A look from :meth:`to_dict`'s form, or report.json's ``hair`` / ``outfit`` (as
        ``create`` writes them). Raises UserInputError on values it cannot use."""
        look = cls()
        try:
            h = data.get("hair")
            if h:
                style = HairStyle.parse(str(h.get("spec") or h.get("style") or "bald"))
                style = replace(style, length=float(h.get("length_m", style.length)),
                                volume=float(h.get("volume_m", style.volume)),
                                fringe=float(h.get("fringe", style.fringe)), curl=float(h.get("curl", style.curl)))
                look = replace(look, hair=style, hair_srgb=_rgb(h.get("colour_srgb", HAIR_COLOUR), "hair colour"))
            for item in data.get("outfit") or []:
                name = str(item["type"])
                if name not in GARMENTS:
                    raise ValueError(f"unknown garment {name!r}")
                look = look.with_garment(GARMENTS[name].slots[0], name, item.get("colour_srgb"))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UserInputError(f"the avatar's hair/outfit cannot be read: {exc}") from None
        return look

    @classmethod
    def from_avatar(cls, avatar, hair_style: HairStyle | None = None) -> "Look":
        """The look of an `avatar.Avatar` (``hair_style`` when the avatar has no hair mesh, e.g. bald)."""
        style = avatar.hair.style if avatar.hair is not None else (hair_style or HairStyle("bald"))
        look = cls(hair=style, hair_srgb=tuple(int(c) for c in avatar.hair_srgb))
        for name, srgb in avatar.outfit:
            look = look.with_garment(GARMENTS[name].slots[0], name, srgb)
        return look


def look_from_folder(folder: Path, params_extra: dict | None = None) -> Look:
    """The look saved with an avatar folder: params.json's ``extra.look`` (a studio export),
    else report.json's ``hair``/``outfit`` (a ``create`` output), else bald and unclothed."""
    if params_extra and isinstance(params_extra.get("look"), dict):
        return Look.from_dict(params_extra["look"])
    report = Path(folder) / "report.json"
    if report.is_file():
        try:
            data = json.loads(report.read_text())
        except (OSError, ValueError):
            return Look()
        if isinstance(data, dict) and ("hair" in data or "outfit" in data):
            return Look.from_dict(data)
    return Look()


@dataclass
class Part:
    """One hair or garment mesh in the view, with what it needs to follow the body cheaply."""

    key: str
    """``hair`` or a slot of :data:`OUTFIT_SLOTS`."""
    vertices: Float[np.ndarray, "P 3"]
    faces: Int[np.ndarray, "F 3"]
    srgb: RGB
    anchor: Int[np.ndarray, " P"]
    """Nearest body vertex of each part vertex when built."""
    anchor_rest: Float[np.ndarray, "P 3"]
    """Those body vertices' positions when built."""

    def follow(self, body_vertices: Float[np.ndarray, "V 3"]) -> np.ndarray:
        """The part moved with the body: each vertex by its anchor's displacement."""
        return (self.vertices + (body_vertices[self.anchor] - self.anchor_rest)).astype(np.float32)


@dataclass
class DressedParts:
    """The meshes of a :class:`Look` built on one body output."""

    look: Look
    parts: list[Part]
    built_on: np.ndarray
    """The body vertices they were built on."""

    @classmethod
    def build(cls, output, look: Look, previous: "DressedParts | None" = None) -> "DressedParts":
        """Build the hair and garments of ``look`` on the posed body ``output`` (a BodyOutput).

        Parts of ``previous`` built on the same body with the same style or garment type are
        reused (recoloured): a colour or a single layer change rebuilds only that."""
        from scipy.spatial import cKDTree

        from avatarforge.bodies.garments import body_regions, build_garment
        from avatarforge.bodies.hair import build_hair

        body_v = output.vertices[0].detach().numpy().astype(np.float32)
        old: dict[str, Part] = {}
        if previous is not None and np.array_equal(previous.built_on, body_v):
            old = {p.key: p for p in previous.parts}
            if previous.look.hair != look.hair:
                old.pop("hair", None)
            for slot in OUTFIT_SLOTS:
                if previous.look.outfit.get(slot, ("",))[0] != look.outfit.get(slot, (None,))[0]:
                    old.pop(slot, None)
        tree, regions = None, None
        parts = []

        def part(key: str, v: np.ndarray, f: np.ndarray, srgb: RGB) -> Part:
            nonlocal tree
            tree = tree or cKDTree(body_v)
            v = np.asarray(v, np.float32)
            _, idx = tree.query(v)
            return Part(key, v, np.asarray(f, np.int64), srgb, idx.astype(np.int64), body_v[idx])

        if "hair" in old:
            parts.append(replace(old["hair"], srgb=look.hair_srgb))
        else:
            hair = build_hair(output, look.hair)
            if hair is not None:
                parts.append(part("hair", hair.vertices, hair.faces, look.hair_srgb))
        for slot in OUTFIT_SLOTS:
            if slot not in look.outfit:
                continue
            name, srgb = look.outfit[slot]
            if slot in old:
                parts.append(replace(old[slot], srgb=srgb))
                continue
            regions = regions or body_regions(output)
            g = build_garment(output, name, regions)
            parts.append(part(slot, g.vertices, g.faces, srgb))
        return cls(look, parts, body_v)
