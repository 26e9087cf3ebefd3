"""Export an orientation model to ONNX (dynamic batch axis), with its model card beside it.

    python jobs/export_onnx.py --model orient_lcnet_x1 --out model.onnx
    python jobs/export_onnx.py --model out/ft/orient_lcnet_x1.safetensors --out ft.onnx

The graph takes ``input``: ``(B, 3, H, W)`` float32, RGB scaled to [0, 1] and normalised with
the card's mean and std (:func:`rayrot.preprocess.to_model_input`), and returns ``logits``
``(B, 4)`` and ``proba`` = ``softmax(logits / temperature)`` ``(B, 4)``, classes in the order
0, 90, 180, 270 (clockwise degrees that make the input upright); its metadata holds the sha256
of the source weights. ``<out stem>.json`` holds the model card (mean, std, temperature).
Written as ``<stem>.onnx`` beside a ``<stem>.safetensors``, it is the graph rayrot's CPU scorer
runs with onnxruntime (``model.cpu_backend``).

Runs with plain ``python``; under ``ray job submit`` it is the same script.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rayrot.model import ModelCard, load_model
from rayrot.model import export_onnx as export_graph

__all__ = ["export_onnx"]


def export_onnx(spec: str, out: str | Path) -> tuple[Path, ModelCard]:
    """Export the model named or located by ``spec`` to ``out`` (written under a temp name),
    with its card beside it."""
    out = Path(out)
    model, card = load_model(spec, "cpu")
    export_graph(model, card, out)
    card_path = out.with_suffix(".json")
    tmpc = card_path.with_name(f".{card_path.name}.tmp")
    tmpc.write_text(card.to_json() + "\n")
    os.replace(tmpc, card_path)
    return out, card


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Export an orientation model to ONNX.")
    ap.add_argument("--model", default="orient_lcnet_x1", help="registered name or .safetensors path")
    ap.add_argument("--out", required=True, help="output .onnx path")
    args = ap.parse_args(argv)
    path, card = export_onnx(args.model, args.out)
    print(f"wrote {path} ({card.name} {card.version}, temperature {card.temperature:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
