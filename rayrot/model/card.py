"""ModelCard: what a set of weights expects (input size, mean, std, class order, pad grey, resampling) and how it was made."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from ..errors import ModelError
from .preprocess import ANGLES

__all__ = ["CARD_FORMAT", "ModelCard"]


CARD_FORMAT = 1


# ----------------------------------------------------------------------------- model card


@dataclass(frozen=True)
class ModelCard:
    """Everything needed to use a set of weights, saved as JSON beside the ``.safetensors``."""

    name: str  # registered architecture name, e.g. "orient_lcnet_x1"
    version: str  # version of these weights, e.g. "1.0.0"
    arch: str  # architecture name passed to create_model (usually == name)
    input_px: int  # side of the square RGB input the weights were trained at
    mean: tuple[float, float, float]  # per-channel mean of inputs scaled to [0, 1], RGB order
    std: tuple[float, float, float]  # per-channel std of inputs scaled to [0, 1], RGB order
    classes: tuple[int, ...] = ANGLES  # clockwise degrees that make the input upright, logit order
    temperature: float = 1.0  # calibration: probabilities are softmax(logits / temperature)
    pad_value: int = 128  # grey (0..255) padding edge tiles and the letterboxed whole-image
    #                       view, as in training (cards without the field were trained with 128)
    recipe: dict[str, Any] = field(default_factory=dict)  # training config and run facts
    data_sources: tuple[str, ...] = ()  # where the training images came from
    metrics: dict[str, Any] = field(default_factory=dict)  # validation / dev metrics
    sha256: str = ""  # hex digest of the .safetensors file these describe
    n_params: int = 0  # number of parameters
    format: int = CARD_FORMAT  # version of this JSON layout

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, path: str = "<dict>") -> "ModelCard":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ModelError(f"model card {path}: unknown key(s) {sorted(unknown)}")
        try:
            kw = dict(data)
            for key in ("mean", "std", "classes", "data_sources"):
                if key in kw:
                    kw[key] = tuple(kw[key])
            card = cls(**kw)
        except TypeError as exc:
            raise ModelError(f"model card {path} is malformed: {exc}") from exc
        if len(card.mean) != 3 or len(card.std) != 3:
            raise ModelError(f"model card {path}: mean and std need 3 values each")
        if tuple(card.classes) != ANGLES:
            raise ModelError(f"model card {path}: classes {card.classes} differ from {ANGLES}")
        if not card.temperature > 0:
            raise ModelError(f"model card {path}: temperature must be > 0, got {card.temperature}")
        return card

    def replace(self, **changes: Any) -> "ModelCard":
        return dataclasses.replace(self, **changes)
