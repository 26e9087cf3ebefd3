"""Install a training run's weights as the shipped model, with dev metrics in the card.

    python -m rayrot.training.ship --run DIR [--accuracy benchmarks/out/accuracy.json] [--note TEXT]

Copies ``DIR/<name>.safetensors`` to ``rayrot/weights/<name>.safetensors`` (temp name, then
rename) with its ONNX graph (``<name>.onnx``, exported here when the run has none or one of
other weights) and writes the card beside them, adding ``metrics["dev_pipeline"]`` (per category and
method: accuracy, confidently wrong, CPU seconds an image) from a
``benchmarks/accuracy.py`` result when given. The weights are not changed, so the card's
sha256 still holds (it is checked).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from ..model import (WEIGHTS_DIR, _sha256, export_onnx, load_model, load_onnx_net, onnx_path,
                     read_card)

__all__ = ["ship"]


def ship(run_dir: str | Path, accuracy_json: str | Path | None = None, note: str = "",
         dest: str | Path = WEIGHTS_DIR) -> Path:
    run_dir, dest = Path(run_dir), Path(dest)
    weights = sorted(run_dir.glob("*.safetensors"))
    if len(weights) != 1:
        raise SystemExit(f"ship: expected one .safetensors in {run_dir}, found {len(weights)}")
    src = weights[0]
    card = read_card(src.with_suffix(".json"))
    if card.sha256 != _sha256(src):
        raise SystemExit(f"ship: {src} does not match its card's sha256")
    metrics = dict(card.metrics)
    if accuracy_json:
        ev = json.loads(Path(accuracy_json).read_text())
        metrics["dev_pipeline"] = {
            "set": "the dev set (evaluation only, never trained on), every image under all 4 turns",
            "command": ev["meta"]["command"],
            "date": ev["meta"]["date"],
            "summary": ev["summary"]}
    recipe = dict(card.recipe)
    if note:
        recipe["note"] = note
    card = card.replace(metrics=metrics, recipe=recipe)
    dst = dest / f"{card.arch}.safetensors"
    graph = onnx_path(src)
    if load_onnx_net(src, card, threads=1)[0] is None:
        module, _ = load_model(src)
        export_onnx(module, card, graph)
    for a, b in ((src, dst), (graph, onnx_path(dst))):
        tmp = b.with_name(f".{b.name}.tmp")
        shutil.copyfile(a, tmp)
        os.replace(tmp, b)
    tmpc = dst.with_name(f".{dst.stem}.json.tmp")
    tmpc.write_text(card.to_json() + "\n")
    os.replace(tmpc, dst.with_suffix(".json"))
    return dst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Install a training run's weights as the shipped model.")
    ap.add_argument("--run", required=True, help="folder with <name>.safetensors + .json")
    ap.add_argument("--accuracy", default=None, help="JSON written by benchmarks/accuracy.py")
    ap.add_argument("--note", default="", help="free text added to the card's recipe")
    args = ap.parse_args(argv)
    print(f"installed {ship(args.run, args.accuracy, args.note)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
