"""The model as an ONNX graph: exported beside its safetensors, run by onnxruntime on the CPU.

On a CPU, onnxruntime runs this network about 1.7 times faster than eager torch (one thread,
224-px tiles: 3.9 ms a tile against 6.7; ``benchmarks/model_speed.py``), which is most of what an
ordinary image costs. The graph is written once, when the weights are saved or shipped
(:func:`export_onnx`, needs the ``onnx`` package), as ``<stem>.onnx`` beside
``<stem>.safetensors``, and carries the sha256 of those weights in its metadata: a graph left
over from other weights is never run (:func:`load_onnx_net` returns None and says why, and the
scorer uses torch).

The graph takes ``input`` ``(B, 3, H, W)`` float32 (RGB in [0, 1], normalised with the card's
mean and std) and returns ``logits`` and ``proba`` = ``softmax(logits / temperature)``, both
``(B, 4)``, classes in the card's order.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .card import ModelCard
from .preprocess import tile_batch, to_model_input

__all__ = ["SHA_KEY", "OnnxNet", "export_onnx", "load_onnx_net", "onnx_path"]


# Metadata key holding the sha256 of the .safetensors the graph was exported from.
SHA_KEY = "rayrot.weights_sha256"
OPSET = 17


def onnx_path(weights: str | os.PathLike) -> Path:
    """Where the graph of ``<stem>.safetensors`` lives: ``<stem>.onnx`` beside it."""
    return Path(weights).with_suffix(".onnx")


def export_onnx(module, card: ModelCard, out: str | os.PathLike) -> Path:
    """Write ``module`` (with ``card``'s temperature) as an ONNX graph to ``out`` (temp name,
    then renamed), its metadata holding ``card.sha256`` and the card's name and version.

    ``module`` is copied, never changed. Raises :class:`~rayrot.errors.ModelError` when the
    ``onnx`` package is missing (``pip install onnx``).
    """
    try:
        import onnx
    except ImportError as exc:
        raise ModelError(f"exporting {out} needs the onnx package (pip install onnx): {exc}") from exc
    import torch
    import torch.nn as nn

    class WithProba(nn.Module):
        def __init__(self, model: nn.Module, temperature: float):
            super().__init__()
            self.model = model
            self.register_buffer("inv_t", torch.tensor(1.0 / float(temperature)))

        def forward(self, x: torch.Tensor):
            logits = self.model(x)
            return logits, torch.softmax(logits * self.inv_t, dim=1)

    out = Path(out)
    model = copy.deepcopy(getattr(module, "module", module)).float().cpu().eval()
    model = model.to(memory_format=torch.contiguous_format)
    wrapper = WithProba(model, card.temperature).eval()
    dummy = torch.zeros(2, 3, card.input_px, card.input_px)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        torch.onnx.export(wrapper, (dummy,), str(tmp), input_names=["input"],
                          output_names=["logits", "proba"], opset_version=OPSET, dynamo=False,
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"},
                                        "proba": {0: "batch"}})
        graph = onnx.load(str(tmp))
        for key, value in ((SHA_KEY, card.sha256), ("rayrot.name", card.name),
                           ("rayrot.version", card.version)):
            graph.metadata_props.add(key=key, value=value)
        onnx.save(graph, str(tmp))
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


class OnnxNet:
    """The graph in an onnxruntime session; :meth:`predict_proba` scores uint8 tiles with NumPy
    alone (no torch in the process), to :func:`rayrot.model.predict_proba`'s answers.

    Its thread count is the session's own: building one changes no setting of the process.
    """

    def __init__(self, session, path: Path):
        self.session, self.path = session, path

    def logits(self, x: np.ndarray) -> np.ndarray:
        """``(B, 3, H, W)`` float32 model input -> ``(B, 4)`` logits."""
        return self.session.run(["logits"], {"input": np.ascontiguousarray(x, np.float32)})[0]

    def predict_proba(self, batch_uint8: np.ndarray, card: ModelCard,
                      rotation_tta: bool = True) -> np.ndarray:
        """What :func:`rayrot.model.predict_proba` gives for the same weights (to float
        rounding): ``(B, H, W, 3)`` uint8 RGB tiles -> ``(B, 4)`` float32 calibrated
        probabilities, averaged over the four turns with ``rotation_tta``."""
        batch_uint8 = tile_batch(batch_uint8)
        if not len(batch_uint8):
            return np.zeros((0, len(card.classes)), np.float32)

        def proba(tiles: np.ndarray) -> np.ndarray:
            z = self.logits(to_model_input(tiles, card.mean, card.std)) / np.float32(card.temperature)
            z = np.exp(z - z.max(axis=1, keepdims=True))
            return z / z.sum(axis=1, keepdims=True)

        if not rotation_tta:
            return proba(batch_uint8).astype(np.float32)
        # a tile turned counter-clockwise by r (np.rot90) has label k + r: p[k] = q_r[(k + r) % 4];
        # one call per turn (a 4x larger batch runs no faster and holds 4x the activations)
        q = sum(np.roll(proba(np.rot90(batch_uint8, r, axes=(1, 2))), -r, axis=1) for r in range(4))
        return (q / 4).astype(np.float32)


def load_onnx_net(weights: str | os.PathLike, card: ModelCard,
                  threads: int) -> tuple[OnnxNet | None, str]:
    """The graph beside ``weights`` in an onnxruntime session of ``threads`` threads, and ""; or
    None and the reason it cannot be used (no onnxruntime, no graph, a graph of other weights)."""
    path = onnx_path(weights)
    try:
        import onnxruntime as ort
    except ImportError as exc:
        return None, f"onnxruntime is not installed ({exc})"
    if not path.is_file():
        return None, f"{path} does not exist (python jobs/export_onnx.py writes it)"
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    # onnxruntime's arena and memory patterns keep the largest batch's activations for good
    # (a 64-tile call leaves 553 MB added against 377 without them, benchmarks/model_speed.py
    # --batch 64); without them a batch's memory goes back to the heap, which the scoring
    # actor trims, at about the same speed for the scorer's batches of 16 (3.9 against 3.7 ms).
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        return None, f"{path} cannot be loaded: {type(exc).__name__}: {exc}"
    meta = session.get_modelmeta().custom_metadata_map
    if not card.sha256 or meta.get(SHA_KEY) != card.sha256:
        return None, (f"{path} was exported from other weights ({SHA_KEY} "
                      f"{meta.get(SHA_KEY, 'missing')[:12]} against the card's "
                      f"{card.sha256[:12] or 'missing'})")
    return OnnxNet(session, path), ""
