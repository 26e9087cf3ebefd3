"""Choose a run's WiSE-FT step on the training sources' held-out tiles (never the dev set).

    python jobs/wise_sweep.py --run runs/v2_stage2 --config configs/train_stage2.yaml \
        [--alphas 0,0.5,0.75,1]

For each ``alpha``, the weights ``init + alpha * (trained - init)`` (``init``: the recipe's
``run.init_weights``; ``trained``: the EMA weights of the run's last checkpoint) are scored on
the fixed validation tiles the training loop validates on, with the temperature fitted there as
the loop's finishing step fits it. Prints accuracy per category; set the recipe's
``optim.wise_alpha`` to the best.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from rayrot.config import parse_overrides
from rayrot.model import default_card, load_model
from rayrot.training import loop
from rayrot.training.checkpoint import CHECKPOINT_DIR
from rayrot.training.config import dotted_overrides, load_train_config
from rayrot.training.dataset import CATEGORIES, UNIFORM_CATEGORIES, SourceSet, TrainStream
from rayrot.training.transfer import interpolate_weights


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="the training run's folder (with its checkpoint)")
    ap.add_argument("--config", default=None, help="the run's training YAML")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--alphas", default="0,0.5,0.75,1")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg = load_train_config(args.config, dotted_overrides(parse_overrides(args.set)))
    start, _ = load_model(cfg.run.init_weights, "cpu")
    trained, _ = load_model(cfg.run.init_weights, "cpu")
    trained.load_state_dict(load_file(str(Path(args.run) / CHECKPOINT_DIR / "ema.safetensors")))
    sources = SourceSet.scan(cfg.data.sources_dirs, cfg.data.val_fraction, cfg.data.train_fraction)
    synth = TrainStream(cfg.data, cfg.aug, sources, seed=0).synth_categories
    tiles, targets, cats = loop.build_val(cfg, sources, synth, cfg.run.num_workers)
    card = default_card(cfg.run.model)
    chunks = [(tiles[i:i + 16], targets[i:i + 16], cats[i:i + 16]) for i in range(0, len(tiles), 16)]
    hard = torch.tensor([CATEGORIES[c] not in UNIFORM_CATEGORIES for c in cats.tolist()])
    print(f"{len(tiles)} held-out tiles; init {cfg.run.init_weights}, trained {args.run}")
    for alpha in (float(a) for a in args.alphas.split(",")):
        model = interpolate_weights(start, trained, alpha)
        logits, tg, cg = loop.collect_logits(model, chunks, torch.device("cpu"), card.mean,
                                             card.std, None, False)
        temperature = loop.fit_temperature(logits[hard], tg[hard])
        res = loop.evaluate_logits(logits, tg, cg, temperature)
        per = {k: round(v["accuracy"], 3) for k, v in res["per_category"].items() if "accuracy" in v}
        print(json.dumps({"alpha": alpha, "temperature": round(temperature, 3),
                          "accuracy": round(res["accuracy"], 4), **per}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
