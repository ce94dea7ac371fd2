"""The studio's control panel, generated from the body model's parameter specs.

Every slider comes from a `bodies.ParamSpec` (name, range, default, doc, region): the same
declarations that drive the CLI's ``--set`` validation and ``avatarforge params``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from avatarforge.bodies import ParamSpec
from avatarforge.bodies.poses import POSE_PRESETS

__all__ = ["Controls", "build_controls", "add_look_controls", "slider_step", "pose_joints"]


def slider_step(spec: ParamSpec) -> float:
    """Step of a spec's slider: 1 degree for angles, 1/100 of the range otherwise."""
    return 1.0 if spec.unit == "deg" else round((spec.high - spec.low) / 100.0, 6)


def pose_joints(specs) -> list[str]:
    """Joint names of the ``pose.<joint>.<axis>`` specs, in spec order."""
    return list(dict.fromkeys(s.name[5:].rsplit(".", 1)[0] for s in specs if s.group == "pose"))


@dataclass
class Controls:
    """Handles of one tab's GUI elements (viser handles, typed loosely: viser is optional)."""

    status: Any = None
    sliders: dict[str, Any] = field(default_factory=dict)
    """Parameter name -> slider, for phenotype, local and expression parameters."""
    local_folders: dict[str, Any] = field(default_factory=dict)
    """Region -> folder of local changes."""
    local_search: Any = None
    joint: Any = None
    """Dropdown of the joint the three pose sliders rotate."""
    joint_sliders: dict[str, Any] = field(default_factory=dict)
    """Axis (x, y, z) -> pose slider of the selected joint."""
    pose_presets: Any = None
    expression_preset: Any = None
    expression_name: Any = None
    save_expression: Any = None
    undo: Any = None
    redo: Any = None
    reset: Any = None
    shading: Any = None
    skeleton: Any = None
    photo: Any = None
    progress: Any = None
    progress_text: Any = None
    folder: Any = None
    load_folder: Any = None
    params_upload: Any = None
    export_format: Any = None
    export: Any = None
    export_text: Any = None
    hair_style: Any = None
    hair_length: Any = None
    hair_volume: Any = None
    hair_colour: Any = None
    garments: dict[str, Any] = field(default_factory=dict)
    """Outfit slot (top, bottom, feet) -> garment type dropdown."""
    garment_colours: dict[str, Any] = field(default_factory=dict)
    """Outfit slot -> colour picker."""
    drive: Any = None
    """studio.drive_panel.DriveControls: the "Drive from video" folder."""


def _slider(gui, spec: ParamSpec, value: float):
    return gui.add_slider(spec.name, min=spec.low, max=spec.high, step=slider_step(spec),
                          initial_value=float(value), hint=spec.doc or None)


def add_look_controls(gui, c: Controls, look) -> None:
    """The Hair and Outfit folders, set to ``look`` (a `studio.look.Look`)."""
    from avatarforge.bodies.garments import DEFAULT_COLOURS
    from avatarforge.bodies.hair import HAIR_STYLES
    from avatarforge.studio.look import LENGTH_RANGE, NO_GARMENT, OUTFIT_SLOTS, SLOT_CHOICES, VOLUME_RANGE

    with gui.add_folder("Hair", expand_by_default=False):
        c.hair_style = gui.add_dropdown("Style", list(HAIR_STYLES), initial_value=look.hair.style)
        c.hair_length = gui.add_slider("Length (m)", min=LENGTH_RANGE[0], max=LENGTH_RANGE[1], step=0.005,
                                       initial_value=look.hair.length, hint="how far below the eyes the hair ends")
        c.hair_volume = gui.add_slider("Volume (m)", min=VOLUME_RANGE[0], max=VOLUME_RANGE[1], step=0.001,
                                       initial_value=look.hair.volume, hint="thickness over the skull")
        c.hair_colour = gui.add_rgb("Hair colour", look.hair_srgb)
    with gui.add_folder("Outfit", expand_by_default=False):
        for slot in OUTFIT_SLOTS:
            name, srgb = look.outfit.get(slot, (NO_GARMENT, None))
            c.garments[slot] = gui.add_dropdown(slot.capitalize(), list(SLOT_CHOICES[slot]), initial_value=name)
            first = SLOT_CHOICES[slot][1]
            c.garment_colours[slot] = gui.add_rgb(f"{slot.capitalize()} colour", srgb or DEFAULT_COLOURS[first])


def build_controls(gui, specs, values: dict[str, float], expression_presets: list[str],
                   avatar_folders: list[str], textured: bool, look=None) -> Controls:
    """Add every control to ``gui`` (a viser GuiApi) and return their handles."""
    from avatarforge.studio.look import Look

    c = Controls()
    c.status = gui.add_markdown("**avatarforge studio**")
    with gui.add_folder("File"):
        c.photo = gui.add_upload_button("Create from photo", mime_type="image/*", icon=None,
                                        hint="JPEG, PNG, WebP, BMP or TIFF; runs `create` (~15 s)")
        c.progress = gui.add_progress_bar(0.0, visible=False, animated=True)
        c.progress_text = gui.add_markdown("", visible=False)
        c.folder = gui.add_dropdown("Avatar folder", avatar_folders or ["(none found)"])
        c.load_folder = gui.add_button("Load folder")
        c.params_upload = gui.add_upload_button("Load params.json", mime_type=".json,application/json")
        c.export_format = gui.add_dropdown("Download", ["avatar.glb", "avatar.vrm", "all files (zip)"])
        c.export = gui.add_button("Export GLB + OBJ + params")
        c.export_text = gui.add_markdown("", visible=False)
    with gui.add_folder("View"):
        c.shading = gui.add_dropdown("Shading", ["textured", "shaded"] if textured else ["shaded", "textured"])
        c.skeleton = gui.add_checkbox("Skeleton", False)
    with gui.add_folder("Edit"):
        c.undo = gui.add_button("Undo")
        c.redo = gui.add_button("Redo")
        c.reset = gui.add_button("Reset")

    by_group: dict[str, list[ParamSpec]] = defaultdict(list)
    for s in specs:
        by_group[s.group].append(s)
    with gui.add_folder("Body"):
        for s in by_group["phenotype"]:
            c.sliders[s.name] = _slider(gui, s, values[s.name])
    add_look_controls(gui, c, look or Look())
    with gui.add_folder("Expression", expand_by_default=False):
        c.expression_preset = gui.add_dropdown("Preset", ["(choose)", *expression_presets])
        c.expression_name = gui.add_text("Name", "my-expression")
        c.save_expression = gui.add_button("Save expression")
        with gui.add_folder(f"Facial actions ({len(by_group['expression'])})", expand_by_default=False):
            for s in by_group["expression"]:
                c.sliders[s.name] = _slider(gui, s, values[s.name])
    with gui.add_folder("Pose", expand_by_default=False):
        c.pose_presets = gui.add_button_group("Preset", [p.upper() if len(p) == 1 else p for p in POSE_PRESETS])
        joints = pose_joints(specs)
        c.joint = gui.add_dropdown("Joint", joints, initial_value=joints[0])
        by_name = {s.name: s for s in by_group["pose"]}
        for axis in "xyz":
            spec = by_name[f"pose.{joints[0]}.{axis}"]
            c.joint_sliders[axis] = gui.add_slider(f"rotation {axis} (deg)", min=spec.low, max=spec.high,
                                                   step=slider_step(spec), initial_value=values[spec.name],
                                                   hint=spec.doc)
    with gui.add_folder("Local changes", expand_by_default=False):
        c.local_search = gui.add_text("Search", "", hint="part of a name, e.g. nose")
        regions: dict[str, list[ParamSpec]] = defaultdict(list)
        for s in by_group["local"]:
            regions[s.region or "other"].append(s)
        for region, items in regions.items():
            with gui.add_folder(f"{region} ({len(items)})", expand_by_default=False) as folder:
                c.local_folders[region] = folder
                for s in items:
                    c.sliders[s.name] = _slider(gui, s, values[s.name])
    return c
