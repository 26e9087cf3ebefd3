"""Weights on disk: safetensors plus a JSON model card beside them, loaded by name or path and saved atomically; nothing is unpickled."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import torch
import torch.nn as nn

from ..errors import ModelError
from .card import ModelCard
from .files import WEIGHTS_DIR, _sha256, read_card, shipped_weights, weights_path
from .registry import _REGISTRY, create_model, list_models

__all__ = ["WEIGHTS_DIR", "load_model", "read_card", "save_model", "weights_path"]


LOGGER = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- weights I/O


def _resolve(spec: str | os.PathLike) -> tuple[Path, Path]:
    spec_s = str(spec)
    if spec_s in _REGISTRY and not spec_s.endswith(".safetensors"):
        weights = shipped_weights(spec_s)
    else:
        weights = Path(spec_s)
        if weights.suffix != ".safetensors":
            raise ModelError(f"model {spec_s!r} is neither a registered name ({list_models()}) "
                             f"nor a path to a .safetensors file")
    return weights, weights.with_suffix(".json")


def load_model(spec: str | os.PathLike, device: str | torch.device = "cpu",
               verify: bool = True, fuse: bool = False) -> tuple[nn.Module, ModelCard]:
    """Load weights by registered name or path; returns the module in eval mode and its card.

    Parameters
    ----------
    spec : str or path
        A registered name (weights from ``rayrot/weights/<name>.safetensors``) or a path to a
        ``.safetensors`` file with its card ``<stem>.json`` beside it.
    device : str or torch.device
    verify : bool
        Check the weights file's sha256 against the card.
    fuse : bool
        Fold BatchNorm into the convolutions (inference only: same outputs, faster on a CPU;
        the result can no longer be trained or saved with :func:`save_model`).

    Raises
    ------
    ModelError
        Missing or malformed file, sha256 mismatch, or weights of another architecture;
        the message names the path.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights, card_path = _resolve(spec)
    if not weights.is_file():
        raise ModelError(f"model weights {weights} not found")
    card = read_card(card_path)
    if verify and card.sha256:
        digest = _sha256(weights)
        if digest != card.sha256:
            raise ModelError(f"model weights {weights}: sha256 {digest[:12]}... does not match "
                             f"the card's {card.sha256[:12]}... ({card_path})")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"model weights {weights} cannot be read: {exc}") from exc
    module = create_model(card.arch)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelError(f"model weights {weights} do not fit architecture {card.arch!r}: "
                         f"{str(exc).splitlines()[0]} ...") from exc
    module.eval()
    if fuse and hasattr(module, "fuse_bn"):
        module.fuse_bn()
    module.to(device)
    if torch.device(device).type == "cpu" or fuse:
        module.to(memory_format=torch.channels_last)
    return module, card


def save_model(module: nn.Module, card: ModelCard, path: str | os.PathLike,
               onnx: bool = True) -> ModelCard:
    """Write ``path`` (.safetensors) and the card beside it, each under a temp name then renamed.

    The card's ``sha256`` and ``n_params`` are filled in; the updated card is returned. With
    ``onnx`` (and the onnx package installed) the ONNX graph the CPU scorer runs is written
    beside them too (:func:`rayrot.model.onnx_backend.export_onnx`); without it the scorer runs
    the weights with torch, slower, to the same answers.
    """
    from safetensors.torch import save_file

    path = Path(path)
    if path.suffix != ".safetensors":
        raise ModelError(f"save_model: {path} must end in .safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    module = getattr(module, "module", module)  # unwrap DDP
    module = getattr(module, "_orig_mod", module)  # unwrap torch.compile
    state = {k: v.detach().to("cpu", torch.float32 if v.is_floating_point() else v.dtype).contiguous()
             for k, v in module.state_dict().items()}
    n_params = sum(p.numel() for p in module.parameters())
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(state, tmp, metadata={"arch": card.arch, "name": card.name, "version": card.version})
        digest = _sha256(Path(tmp))
        card = card.replace(sha256=digest, n_params=int(n_params))
        card_path = path.with_suffix(".json")
        fd2, tmp2 = tempfile.mkstemp(prefix=f".{card_path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd2, "w") as fh:
            fh.write(card.to_json() + "\n")
        os.replace(tmp, path)
        os.replace(tmp2, card_path)
    except BaseException:
        for t in (tmp, locals().get("tmp2")):
            if t and os.path.exists(t):
                os.unlink(t)
        raise
    if onnx:
        from .onnx_backend import export_onnx, onnx_path

        try:
            export_onnx(module, card, onnx_path(path))
        except ModelError as exc:
            LOGGER.info("%s: no ONNX graph written: %s", path, exc)
    return card
