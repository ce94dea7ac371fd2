"""Weights of the three networks: the bundled reduced checkpoint or the published files.

Published layout (the Talking Head Anime demo, MIT): a folder holding ``face_morpher.pt``,
``two_algo_face_rotator.pt`` and ``combiner.pt`` (plain state dicts, full size). They are not
shipped; pass the folder with ``--weights DIR`` or set ``AVATARFORGE_THA_WEIGHTS``.
A bundled/trained checkpoint is one file: ``{"config": NetConfig dict, "face_morpher": state
dict, "two_algo_face_rotator": ..., "combiner": ..., "meta": {...}}``. Everything is read
with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import torch

from avatarforge.errors import UserInputError
from avatarforge.portrait.networks import FULL, Combiner, FaceMorpher, NetConfig, TwoAlgoFaceRotator

__all__ = ["PUBLISHED_FILES", "PUBLISHED_PAGE", "ENV_VAR", "BUNDLED", "load_published", "load_checkpoint",
           "save_checkpoint", "bundled_path", "build_nets"]

PUBLISHED_FILES = {"face_morpher": "face_morpher.pt", "two_algo_face_rotator": "two_algo_face_rotator.pt",
                   "combiner": "combiner.pt"}
PUBLISHED_PAGE = "https://github.com/pkhungurn/talking-head-anime-demo (README: 'Download the model')"
ENV_VAR = "AVATARFORGE_THA_WEIGHTS"
BUNDLED = "portrait_reduced.pt"


def build_nets(config: NetConfig, device: str | torch.device = "cpu") -> tuple[FaceMorpher, TwoAlgoFaceRotator, Combiner]:
    """The three networks (``device="meta"``: no memory, no initialisation -- for loading)."""
    with torch.device(device):
        return FaceMorpher(config), TwoAlgoFaceRotator(config), Combiner(config)


def _load(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user-input problem
        raise UserInputError(f"{path}: not a readable torch weight file ({type(exc).__name__}: {exc})") from None


def _strict(net: torch.nn.Module, state: dict, path) -> None:
    """Strict load; a network built on the meta device takes the loaded tensors (as float32)."""
    try:
        if any(p.is_meta for p in net.parameters()):
            state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
            net.load_state_dict(state, strict=True, assign=True)
        else:
            net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise UserInputError(f"{path}: weights do not match the network layout: {' '.join(first[:2])[:300]}") from None


def load_published(folder: str | os.PathLike | None = None) -> tuple[FaceMorpher, TwoAlgoFaceRotator, Combiner]:
    """The full-size networks with the published weights from ``folder`` (or ``$AVATARFORGE_THA_WEIGHTS``)."""
    if folder is None:
        folder = os.environ.get(ENV_VAR)
        if not folder:
            raise UserInputError(f"no published weights folder: pass --weights DIR or set {ENV_VAR} ({PUBLISHED_PAGE})")
    folder = Path(folder).expanduser()
    nets = build_nets(FULL, "meta")
    for net, (_, fname) in zip(nets, PUBLISHED_FILES.items()):
        path = folder / fname
        if not path.is_file():
            raise UserInputError(
                f"{path} is missing: the folder must hold {', '.join(PUBLISHED_FILES.values())} from {PUBLISHED_PAGE}")
        _strict(net, _load(path), path)
    for n in nets:
        n.eval()
    return nets


def bundled_path() -> Path:
    return Path(str(resources.files("avatarforge.data").joinpath(BUNDLED)))


def load_checkpoint(path: str | os.PathLike | None = None) -> tuple[tuple[FaceMorpher, TwoAlgoFaceRotator, Combiner], dict]:
    """Networks from a one-file checkpoint (default: the bundled reduced one) and its meta."""
    path = bundled_path() if path is None else Path(path)
    if not path.is_file():
        raise UserInputError(f"{path} not found: train the networks (`avatarforge portrait train`) or pass --weights")
    data = _load(path)
    if not isinstance(data, dict) or "config" not in data:
        raise UserInputError(f"{path}: not a portrait checkpoint (no 'config'); published weights go in a folder")
    nets = build_nets(NetConfig(**data["config"]), "meta")
    for net, key in zip(nets, PUBLISHED_FILES):
        _strict(net, data[key], path)
        net.eval()
    return nets, dict(data.get("meta", {}))


def save_checkpoint(path: str | os.PathLike, nets, meta: dict | None = None, half: bool = False) -> Path:
    """Write the three networks as one checkpoint (``half`` stores float16, loaded back as float32)."""
    from avatarforge.util.atomic import atomic_path

    def sd(n):
        return {k: (v.half() if half and v.is_floating_point() else v).clone() for k, v in n.state_dict().items()}

    data = {"config": nets[0].config.to_dict(), "meta": dict(meta or {})}
    data.update({k: sd(n) for k, n in zip(PUBLISHED_FILES, nets)})
    with atomic_path(path) as tmp:
        torch.save(data, tmp)
    return Path(path)
