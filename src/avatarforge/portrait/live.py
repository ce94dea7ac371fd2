"""A page of its own with six sliders that pose the portrait live (viser, 127.0.0.1 by default)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from avatarforge.errors import require
from avatarforge.portrait.image import composite
from avatarforge.portrait.pose import POSE_NAMES, POSE_SPECS, TalkingPose

__all__ = ["LivePage", "serve"]


@dataclass
class LivePage:
    """A running page: its server, slider handles and the shown image."""

    server: object
    sliders: dict
    image: object
    port: int
    _render: object
    _lock: threading.Lock

    def pose(self) -> TalkingPose:
        return TalkingPose(**{n: float(self.sliders[n].value) for n in POSE_NAMES})

    def update(self) -> np.ndarray:
        """Re-render with the current slider values; returns the shown RGB image."""
        return self._render()

    def stop(self) -> None:
        self.server.stop()


def serve(poser, rgba: np.ndarray, host: str = "127.0.0.1", port: int = 8080) -> LivePage:
    """Start the page: sliders (one per pose value, from :data:`POSE_SPECS`) and the posed image."""
    viser = require("viser", "studio")
    server = viser.ViserServer(host=host, port=port, verbose=False)
    server.gui.add_markdown("**Talking head** - eyes, mouth and head rotation of one portrait")
    sliders = {s.name: server.gui.add_slider(s.name.replace("_", " "), min=s.low, max=s.high, step=0.01,
                                             initial_value=s.default, hint=s.doc)
               for s in POSE_SPECS}
    first = composite(poser.pose_image(rgba, TalkingPose()))
    image = server.gui.add_image(first, label="posed", format="png")
    server.gui.add_image(composite(rgba), label="input", format="png")
    lock = threading.Lock()

    def render() -> np.ndarray:
        with lock:
            pose = TalkingPose(**{n: float(sliders[n].value) for n in POSE_NAMES})
            shown = composite(poser.pose_image(rgba, pose))
            image.image = shown
            return shown

    for h in sliders.values():
        h.on_update(lambda _event: render())
    return LivePage(server=server, sliders=sliders, image=image, port=server.get_port(), _render=render, _lock=lock)
