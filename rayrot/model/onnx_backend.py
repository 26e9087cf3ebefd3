"""The model as an ONNX graph: exported beside its safetensors, run by onnxruntime on the CPU.

On a CPU, onnxruntime runs this network about 2.5 times faster than eager torch (one thread,
224-px tiles: ~4 ms a tile against ~10; ``benchmarks/RESULTS.md``), which is most of what an
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
import logging
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..errors import ModelError
from .card import ModelCard

__all__ = ["SHA_KEY", "OnnxNet", "export_onnx", "load_onnx_net", "onnx_path"]

LOGGER = logging.getLogger(__name__)

# Metadata key holding the sha256 of the .safetensors the graph was exported from.
SHA_KEY = "rayrot.weights_sha256"
OPSET = 17


def onnx_path(weights: str | os.PathLike) -> Path:
    """Where the graph of ``<stem>.safetensors`` lives: ``<stem>.onnx`` beside it."""
    return Path(weights).with_suffix(".onnx")


class _WithProba(nn.Module):
    def __init__(self, model: nn.Module, temperature: float):
        super().__init__()
        self.model = model
        self.register_buffer("inv_t", torch.tensor(1.0 / float(temperature)))

    def forward(self, x: torch.Tensor):
        logits = self.model(x)
        return logits, torch.softmax(logits * self.inv_t, dim=1)


def export_onnx(module: nn.Module, card: ModelCard, out: str | os.PathLike) -> Path:
    """Write ``module`` (with ``card``'s temperature) as an ONNX graph to ``out`` (temp name,
    then renamed), its metadata holding ``card.sha256`` and the card's name and version.

    ``module`` is copied, never changed. Raises :class:`~rayrot.errors.ModelError` when the
    ``onnx`` package is missing (``pip install onnx``).
    """
    try:
        import onnx
    except ImportError as exc:
        raise ModelError(f"exporting {out} needs the onnx package (pip install onnx): {exc}") from exc
    out = Path(out)
    model = copy.deepcopy(getattr(module, "module", module)).float().cpu().eval()
    model = model.to(memory_format=torch.contiguous_format)
    wrapper = _WithProba(model, card.temperature).eval()
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
    """An onnxruntime session that maps a ``(B, 3, H, W)`` float32 tensor to its logits, as
    the torch module would (:func:`rayrot.model.predict_proba` takes either).

    Its thread count is the session's own: building one changes no setting of the process.
    """

    dtype = torch.float32

    def __init__(self, session, path: Path):
        self.session, self.path = session, path

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        arr = np.ascontiguousarray(x.detach().cpu().numpy(), dtype=np.float32)
        logits = self.session.run(["logits"], {"input": arr})[0]
        return torch.from_numpy(logits)


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
