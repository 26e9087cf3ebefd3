"""Export an orientation model to ONNX (dynamic batch axis), with its model card beside it.

    python jobs/export_onnx.py --model orient_lcnet_x1 --out model.onnx
    python jobs/export_onnx.py --model out/ft/orient_lcnet_x1.safetensors --out ft.onnx

The graph takes ``input``: ``(B, 3, H, W)`` float32, RGB scaled to [0, 1] and normalised with
the card's mean and std (:func:`rayrot.preprocess.to_model_input`), and returns ``logits``
``(B, 4)`` and ``proba`` = ``softmax(logits / temperature)`` ``(B, 4)``, classes in the order
0, 90, 180, 270 (clockwise degrees that make the input upright). ``<out stem>.json`` holds the
model card (mean, std, temperature, sha256 of the source weights).

Runs with plain ``python``; under ``ray job submit`` it is the same script.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch
import torch.nn as nn

from rayrot.model import ModelCard, load_model

__all__ = ["export_onnx"]


class _WithProba(nn.Module):
    def __init__(self, model: nn.Module, temperature: float):
        super().__init__()
        self.model = model
        self.register_buffer("inv_t", torch.tensor(1.0 / float(temperature)))

    def forward(self, x: torch.Tensor):
        logits = self.model(x)
        return logits, torch.softmax(logits * self.inv_t, dim=1)


def export_onnx(spec: str, out: str | Path, opset: int = 17) -> tuple[Path, ModelCard]:
    """Export the model named or located by ``spec`` to ``out`` (written under a temp name)."""
    out = Path(out)
    model, card = load_model(spec, "cpu")
    model = model.float().eval().to(memory_format=torch.contiguous_format)
    wrapper = _WithProba(model, card.temperature).eval()
    dummy = torch.zeros(2, 3, card.input_px, card.input_px)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        torch.onnx.export(wrapper, (dummy,), str(tmp), input_names=["input"],
                          output_names=["logits", "proba"], opset_version=opset, dynamo=False,
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"},
                                        "proba": {0: "batch"}})
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    card_path = out.with_suffix(".json")
    tmpc = card_path.with_name(f".{card_path.name}.tmp")
    tmpc.write_text(card.to_json() + "\n")
    os.replace(tmpc, card_path)
    return out, card


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Export an orientation model to ONNX.")
    ap.add_argument("--model", default="orient_lcnet_x1", help="registered name or .safetensors path")
    ap.add_argument("--out", required=True, help="output .onnx path")
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args(argv)
    path, card = export_onnx(args.model, args.out, args.opset)
    print(f"wrote {path} ({card.name} {card.version}, temperature {card.temperature:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
