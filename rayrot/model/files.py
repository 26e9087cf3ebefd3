"""Where a model's files are and what its card says, without importing torch.

A model is ``<stem>.safetensors`` with its card ``<stem>.json`` and, usually, its ONNX graph
``<stem>.onnx`` beside it; a registered name's files are in ``rayrot/weights``. The scoring
actors that run the graph with onnxruntime read the card and find the graph through this
module and never import torch (about 0.2 GB and a second less for each actor).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..errors import ModelError
from .card import ModelCard

__all__ = ["WEIGHTS_DIR", "read_card", "shipped_weights", "weights_path"]

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"  # rayrot/weights


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def shipped_weights(name: str) -> Path:
    """``rayrot/weights/<name>.safetensors``."""
    return WEIGHTS_DIR / f"{name}.safetensors"


def weights_path(spec: str | os.PathLike) -> Path:
    """The ``.safetensors`` file of ``spec``: a path ending in ``.safetensors``, else a name
    whose weights ship in ``rayrot/weights`` (the card and the graph sit beside it).

    Raises :class:`~rayrot.errors.ModelError` for anything else (what
    :func:`rayrot.model.load_model` would also refuse, with the registered names listed).
    """
    spec_s = str(spec)
    if spec_s.endswith(".safetensors"):
        return Path(spec_s)
    if shipped_weights(spec_s).is_file():
        return shipped_weights(spec_s)
    raise ModelError(f"model {spec_s!r} is neither a name with weights in {WEIGHTS_DIR} nor a "
                     f"path to a .safetensors file")


def read_card(path: str | os.PathLike) -> ModelCard:
    """Read a model card JSON file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ModelError(f"model card {path} not found (it must sit beside the weights)") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"model card {path} cannot be read: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"model card {path} must be a JSON object")
    return ModelCard.from_dict(data, path=str(path))
