"""The orientation model: a compact CNN, a registry of named variants, safe weights I/O, and
the preprocessing the weights expect.

    network      OrientNet and its layers
    card         ModelCard: input size, mean, std, class order, pad grey, resampling
    registry     register_model, list_models, create_model, default_card
    weights      load_model, save_model
    files        weights_path, read_card, WEIGHTS_DIR (no torch: what the onnxruntime scorer uses)
    predict      predict_proba, logits_to_proba
    onnx_backend export_onnx, load_onnx_net: the ONNX graph beside the weights, run by
                 onnxruntime on the CPU
    preprocess   letterbox, pad_to_square, resize_square, rotate_by_class, to_model_input
 A model maps an RGB
tile to four logits, one per class of :data:`rayrot.model.preprocess.ANGLES`: class ``k`` is the
clockwise rotation by ``90 * k`` degrees that makes the tile upright.

Public surface::

    create_model(name) -> nn.Module               # a registered architecture, random weights
    list_models(pattern="*") -> list[str]
    load_model(spec, device="cpu") -> (nn.Module, ModelCard)   # name or path to .safetensors
    save_model(module, card, path) -> ModelCard   # .safetensors + .json card, atomically
    predict_proba(module, card, batch_uint8, rotation_tta, device, fp16) -> (B, 4) float32

Weights are stored as safetensors only; nothing is ever unpickled. Each weights file has a
JSON :class:`ModelCard` beside it (``<stem>.json``) with the preprocessing the weights expect
(input size, mean, std, class order), the calibration temperature, the training recipe and
the sha256 of the weights file.
"""

from __future__ import annotations

import importlib

# name -> submodule. Loaded on first use, so that importing rayrot.model.preprocess (NumPy and
# PIL only; the vote needs its class order) does not import torch.
_WHERE = {
    "CARD_FORMAT": "card", "ModelCard": "card",
    "ConvBnAct": "network", "DepthwiseSeparable": "network", "OrientNet": "network",
    "SqueezeExcite": "network",
    "_normalize": "predict", "logits_to_proba": "predict", "predict_proba": "predict",
    "IMAGENET_MEAN": "registry", "IMAGENET_STD": "registry", "create_model": "registry",
    "default_card": "registry", "list_models": "registry", "register_model": "registry",
    "orient_cnn_base": "registry", "orient_cnn_small": "registry", "orient_cnn_tiny": "registry",
    "orient_lcnet_x1": "registry",
    "WEIGHTS_DIR": "files", "_sha256": "files", "read_card": "files", "weights_path": "files",
    "load_model": "weights", "save_model": "weights",
    "OnnxNet": "onnx_backend", "export_onnx": "onnx_backend", "load_onnx_net": "onnx_backend",
    "onnx_path": "onnx_backend",
}

__all__ = [
    "CARD_FORMAT",
    "ConvBnAct",
    "DepthwiseSeparable",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ModelCard",
    "OnnxNet",
    "OrientNet",
    "SqueezeExcite",
    "WEIGHTS_DIR",
    "create_model",
    "default_card",
    "export_onnx",
    "list_models",
    "load_model",
    "load_onnx_net",
    "logits_to_proba",
    "onnx_path",
    "predict_proba",
    "read_card",
    "register_model",
    "save_model",
    "weights_path",
]


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'rayrot.model' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
