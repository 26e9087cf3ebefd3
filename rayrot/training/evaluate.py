"""Evaluate a model alone (no tiling, no vote) on a folder of upright images, under all 4 turns.

    python -m rayrot.training.evaluate --dev ../shared/data/dev [--model orient_lcnet_x1]
        [--json out.json] [--no-tta]

For every image (``manifest.csv`` gives the category; else the sub-folder name) and every
turn ``k`` (``np.rot90(image, k)``, true label ``k``) three scorers are reported:

- ``whole``: the whole image letterboxed to one tile (:func:`rayrot.preprocess.letterbox`);
- ``crops``: the mean probabilities of five square crops (centre and the four quadrant
  centres, each 50% of the short side) resized to a tile;
- ``both``: whole-image probabilities weighted 4 to 1 against each crop (like the vote's
  ``global_weight``).

Per category: accuracy, the share confidently wrong (top probability >= 0.9 and wrong),
and the mean top probability. For ``micro`` (histology: no true up) the interesting numbers
are the mean top probability and the share with p >= 0.9, which should be low.
Evaluation only: nothing here trains.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from ..model import load_model, predict_proba
from ..model.preprocess import letterbox, resize_square, rotate_by_class
from .dataset import IMAGE_SUFFIXES, load_image

__all__ = ["evaluate_folder", "crops_of", "format_table"]

SCORERS = ("whole", "crops", "both")


def crops_of(img: np.ndarray, px: int = 224, share: float = 0.5) -> np.ndarray:
    """Five square crops (centre, four quadrant centres) of ``share`` of the short side,
    resized to ``(5, px, px, 3)``. The set is the same, up to order, for a turned image."""
    h, w = img.shape[:2]
    side = max(8, int(round(min(h, w) * share)))
    out = []
    for cy, cx in ((0.5, 0.5), (0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75)):
        y0 = int(np.clip(round(cy * h - side / 2), 0, h - side))
        x0 = int(np.clip(round(cx * w - side / 2), 0, w - side))
        out.append(resize_square(np.ascontiguousarray(img[y0:y0 + side, x0:x0 + side]), px))
    return np.stack(out)


def _items(root: Path) -> list[tuple[Path, str]]:
    manifest = root / "manifest.csv"
    if manifest.exists():
        with open(manifest, newline="") as fh:
            return [(root / r["file"], r["category"]) for r in csv.DictReader(fh)]
    return [(p, p.parent.name) for p in sorted(root.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]


def evaluate_folder(root: str | Path, model_spec: str = "orient_lcnet_x1", rotation_tta: bool = True,
                    max_px: int = 2048, device: str = "cpu",
                    categories: tuple[str, ...] | None = None) -> dict:
    """Score every image of ``root`` (of ``categories``, default all) under the four turns;
    returns per-category rows per scorer."""
    root = Path(root)
    model, card = load_model(model_spec, device, fuse=True)
    px = card.input_px
    stats: dict = {s: defaultdict(lambda: {"n": 0, "correct": 0, "conf_wrong": 0, "top_p": 0.0,
                                           "p90": 0}) for s in SCORERS}
    t0 = time.perf_counter()
    n_img = 0
    for path, cat in _items(root):
        if categories is not None and cat not in categories:
            continue
        img = load_image(path, max_px)
        n_img += 1
        for k in range(4):
            turned = rotate_by_class(img, k)
            tiles = np.concatenate([letterbox(turned, px, card.pad_value)[None], crops_of(turned, px)])
            p = predict_proba(model, card, tiles, rotation_tta=rotation_tta, device=device)
            probs = {"whole": p[0], "crops": p[1:].mean(0), "both": (4 * p[0] + p[1:].sum(0)) / 9}
            for s, q in probs.items():
                row = stats[s][cat]
                top = float(q.max())
                ok = int(q.argmax()) == k
                row["n"] += 1
                row["correct"] += ok
                row["conf_wrong"] += (not ok) and top >= 0.9
                row["top_p"] += top
                row["p90"] += top >= 0.9
    seconds = time.perf_counter() - t0
    result = {"model": model_spec, "version": card.version, "sha256": card.sha256,
              "rotation_tta": rotation_tta, "images": n_img, "seconds": round(seconds, 1), "scorers": {}}
    for s in SCORERS:
        result["scorers"][s] = {
            cat: {"n": r["n"], "accuracy": r["correct"] / r["n"],
                  "confidently_wrong": r["conf_wrong"] / r["n"],
                  "mean_top_p": r["top_p"] / r["n"], "share_p90": r["p90"] / r["n"]}
            for cat, r in sorted(stats[s].items())}
    return result


def format_table(result: dict) -> str:
    """A Markdown table: one row per scorer and category."""
    lines = ["| scorer | category | n | accuracy | conf. wrong (p>=0.9) | mean top p | p>=0.9 |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for s, cats in result["scorers"].items():
        for cat, r in cats.items():
            lines.append(f"| {s} | {cat} | {r['n']} | {100 * r['accuracy']:.1f}% | "
                         f"{100 * r['confidently_wrong']:.1f}% | {r['mean_top_p']:.3f} | "
                         f"{100 * r['share_p90']:.1f}% |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Evaluate a model alone on upright images x 4 turns.")
    ap.add_argument("--dev", required=True, help="folder of upright images (with manifest.csv)")
    ap.add_argument("--model", default="orient_lcnet_x1")
    ap.add_argument("--no-tta", action="store_true", help="score each tile once, not under 4 turns")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default=None, help="write the result here too")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    res = evaluate_folder(args.dev, args.model, rotation_tta=not args.no_tta)
    print(format_table(res))
    print(f"\n{res['images']} images x 4 turns in {res['seconds']} s "
          f"(model {res['model']} {res['version']}, TTA {res['rotation_tta']})")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
