"""Fine-tune the orientation model on your own images.

    python jobs/finetune.py --data DIR --base orient_lcnet_x1 --out DIR [--device cuda]
    python jobs/finetune.py --csv labels.csv --base orient_lcnet_x1 --out DIR
    ray job submit --working-dir . -- python jobs/finetune.py --data DIR --out DIR

``DIR`` holds ``0/ 90/ 180/ 270/`` sub-folders (images already turned by that much: an image in
``90/`` needs 90 degrees clockwise to be upright), or only upright images (labels come from
turning them). A CSV has ``path,label`` rows with the label in degrees. The backbone is frozen
for the first epochs, then everything trains; early stopping watches a validation split; AMP
on CUDA. Writes ``<out>/<arch>-ft.safetensors`` + ``.json``, which
``python rayrot/run.py --model <out>/<arch>-ft.safetensors`` accepts.

Defaults: configs/train_finetune.yaml (override with ``--set key=value``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

import torch

from rayrot.config import parse_overrides
from rayrot.training.config import dotted_overrides
from rayrot.training.finetune import collect_items, finetune, load_finetune_config


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Fine-tune an orientation model on your images.")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", help="folder with 0/90/180/270 sub-folders, or of upright images")
    src.add_argument("--csv", help="CSV of path,label (degrees)")
    ap.add_argument("--base", default="orient_lcnet_x1", help="registered name or .safetensors path")
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--config", default=None, help="YAML (default configs/train_finetune.yaml)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    overrides = dotted_overrides(parse_overrides(args.set), depth=1)
    cfg = load_finetune_config(args.config, overrides)
    items, layout = collect_items(args.data, args.csv)
    logging.info("%d images (%s layout)", len(items), layout)
    metrics = finetune(items, args.base, args.out, cfg, args.device,
                       data_note=f"{args.data or args.csv} ({layout}, {len(items)} images)")
    print(json.dumps(metrics, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
