"""Does fine-tuning on a user's photos help on their other photos?

The dev photos are split in two halves by a hash of the file name. The model is fine-tuned
with ``jobs/finetune.py``'s function and defaults (``configs/train_finetune.yaml``) on the
upright images of one half, as a user would with a folder of their own; both models are then
scored on the other half under all four turns: the whole image letterboxed to one tile with
rotation TTA (the first look of the pipeline's cascade), and the model's mean top probability.
Then the halves swap. The shipped model is never trained on the dev set: this is a measurement.

    python benchmarks/finetune_gain.py                    # shipped model, both halves
    python benchmarks/finetune_gain.py --base PATH.safetensors --category documents
    python benchmarks/finetune_gain.py --set freeze_epochs=0 --set wise_alpha=1.0

Prints a table and writes ``benchmarks/out/finetune_gain.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import DEV, dev_paths, print_table, write_json


def half_of(path: Path) -> int:
    return hashlib.sha1(path.name.encode()).digest()[0] % 2


def accuracy(spec: str, paths: list[Path]) -> dict:
    """Accuracy and mean top probability of ``spec`` on ``paths`` under the four turns."""
    import torch

    from rayrot.model import load_model, predict_proba
    from rayrot.model.preprocess import letterbox, rotate_by_class
    from rayrot.training.dataset import load_image

    model, card = load_model(spec)
    tiles, labels = [], []
    for p in paths:
        view = letterbox(load_image(p, 1024), card.input_px, card.pad_value)
        for k in range(4):
            # rotate_by_class(upright, k) is the image a turn of class k makes upright
            tiles.append(rotate_by_class(view, k))
            labels.append(k)
    with torch.inference_mode():
        prob = np.concatenate([predict_proba(model, card, np.stack(tiles[i:i + 16]),
                                             rotation_tta=True, device="cpu", fp16=False)
                               for i in range(0, len(tiles), 16)])
    pred = prob.argmax(1)
    return {"n": len(labels), "accuracy": float((pred == np.array(labels)).mean()),
            "mean_top_p": float(prob.max(1).mean())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", default="orient_lcnet_x1", help="registered name or .safetensors")
    ap.add_argument("--category", default="photos")
    ap.add_argument("--halves", default="0,1", help="which halves to fine-tune on")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="override a value of configs/train_finetune.yaml (repeatable)")
    args = ap.parse_args(argv)

    from rayrot.config import parse_overrides

    import torch

    from rayrot.training.finetune import finetune, load_finetune_config

    torch.set_num_threads(2)
    paths = dev_paths(args.category)
    rows = []
    for h in (int(x) for x in args.halves.split(",")):
        train = [p for p in paths if half_of(p) == h]
        test = [p for p in paths if half_of(p) != h]
        before = accuracy(args.base, test)
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            metrics = finetune([(str(p), 0) for p in train], args.base, tmp,
                               load_finetune_config(overrides=parse_overrides(args.overrides)),
                               "cpu", data_note=f"dev {args.category} half {h}")
            seconds = time.perf_counter() - t0
            after = accuracy(metrics["weights"], test)
        rows.append({"train_half": h, "train_images": len(train), "test_images": len(test),
                     "acc_before": round(100 * before["accuracy"], 1),
                     "acc_after": round(100 * after["accuracy"], 1),
                     "gain_pts": round(100 * (after["accuracy"] - before["accuracy"]), 1),
                     "top_p_before": round(before["mean_top_p"], 3),
                     "top_p_after": round(after["mean_top_p"], 3),
                     "finetune_s": round(seconds), "epochs": metrics.get("epochs")})
    print_table(rows, list(rows[0]))
    path = write_json("finetune_gain.json", {"base": args.base, "category": args.category,
                                              "overrides": args.overrides,
                                              "dev": str(DEV.name), "rows": rows})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
