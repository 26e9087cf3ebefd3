"""What do more real photographs buy? The same short training run with a share of the real
training photos, scored on the dev photos.

For each share (``data.train_fraction``: a nested, hash-chosen subset of the real photo files,
so 25% of them are inside 50%) the shipped recipe (``configs/train.yaml``) trains for the same
number of steps from the same init; photos keep their share of the samples, so fewer files are
seen more often. Each model is then scored alone on the dev photos under all four turns
(:func:`rayrot.training.evaluate.evaluate_folder`: whole image, five crops, both). The init
(0 steps) is the first row. The dev set is only scored, never trained on.

    python benchmarks/photo_count.py                       # 0.25, 0.5, 1.0 at 600 steps
    python benchmarks/photo_count.py --fractions 0.5 --steps 300

Runs are kept under ``--runs`` and reused when their weights exist. Prints a table and writes
``benchmarks/out/photo_count.json``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _common import DEV, print_table, write_json


def train_share(share: float, steps: int, out: Path, threads: int) -> Path:
    """Weights of the recipe trained ``steps`` steps on ``share`` of the real photos."""
    import torch

    from rayrot.training.config import load_train_config
    from rayrot.training.loop import train

    cfg = load_train_config(overrides={"data.train_fraction": {"photos": share},
                                       "optim.steps": steps, "optim.time_budget_s": 0})
    weights = out / f"{cfg.run.model}.safetensors"
    if not weights.exists():
        torch.set_num_threads(threads)
        train(cfg, "cpu", out)
    return weights


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fractions", default="0.25,0.5,1.0")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--runs", default=".data/runs/photo_count", help="where the runs are kept")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    from rayrot.training.config import load_train_config
    from rayrot.training.dataset import SourceSet
    from rayrot.training.evaluate import evaluate_folder

    base = load_train_config()
    all_photos = len(SourceSet.scan(base.data.sources_dirs, base.data.val_fraction).train["photos"])
    rows = []
    specs = [(0.0, 0, base.run.init_weights)]
    for share in (float(f) for f in args.fractions.split(",")):
        out = Path(args.runs) / f"photos_{share:g}_steps_{args.steps}"
        t0 = time.perf_counter()
        specs.append((share, args.steps, str(train_share(share, args.steps, out, args.threads))))
        print(f"share {share:g}: weights ready after {time.perf_counter() - t0:.0f} s", flush=True)
    for share, steps, spec in specs:
        photos = len(SourceSet.scan(base.data.sources_dirs, base.data.val_fraction,
                                    {"photos": share}).train["photos"]) if steps else 0
        res = evaluate_folder(DEV, spec, categories=("photos",))["scorers"]
        rows.append({"photo_share": share, "train_photos": photos, "steps": steps,
                     **{f"{s}_%": round(100 * res[s]["photos"]["accuracy"], 1)
                        for s in ("whole", "crops", "both")},
                     "whole_top_p": round(res["whole"]["photos"]["mean_top_p"], 3)})
        print(json.dumps(rows[-1]), flush=True)
    print_table(rows, list(rows[0]))
    path = write_json("photo_count.json", {"all_train_photos": all_photos, "steps": args.steps,
                                           "rows": rows})
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
