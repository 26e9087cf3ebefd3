"""Install a training run's weights as the shipped model, with dev metrics in the card.

    python -m rayrot.training.ship --run DIR [--eval eval.json] [--config-note TEXT]

Copies ``DIR/<name>.safetensors`` to ``rayrot/weights/<name>.safetensors`` (temp name, then
rename) and writes the card beside it, adding ``metrics["dev_model_alone"]`` from a
``python -m rayrot.training.evaluate --json`` result when given. The weights are not changed,
so the card's sha256 still holds (it is checked).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from ..model import WEIGHTS_DIR, _sha256, read_card

__all__ = ["ship"]


def ship(run_dir: str | Path, eval_json: str | Path | None = None, note: str = "",
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
    if eval_json:
        ev = json.loads(Path(eval_json).read_text())
        metrics["dev_model_alone"] = {
            "set": "../shared/data/dev, every image under all 4 turns (evaluation only)",
            "command": "python -m rayrot.training.evaluate --dev /work/shared/data/dev",
            "rotation_tta": ev.get("rotation_tta"),
            "scorers": {s: {c: {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
                            for c, r in cats.items()} for s, cats in ev["scorers"].items()}}
    recipe = dict(card.recipe)
    if note:
        recipe["note"] = note
    card = card.replace(metrics=metrics, recipe=recipe)
    dst = dest / f"{card.arch}.safetensors"
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    tmpc = dst.with_name(f".{dst.stem}.json.tmp")
    tmpc.write_text(card.to_json() + "\n")
    os.replace(tmpc, dst.with_suffix(".json"))
    return dst


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Install a training run's weights as the shipped model.")
    ap.add_argument("--run", required=True, help="folder with <name>.safetensors + .json")
    ap.add_argument("--eval", default=None, help="JSON written by rayrot.training.evaluate --json")
    ap.add_argument("--note", default="", help="free text added to the card's recipe")
    args = ap.parse_args(argv)
    print(f"installed {ship(args.run, args.eval, args.note)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
