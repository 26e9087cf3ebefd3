"""Choose the vote's settings on the training sources' held-out split (never the dev set).

    python jobs/tune_vote.py --sources .data/sources [--limit 40]

Every held-out real image (rayrot.training.dataset.SourceSet, the files the training run
never saw) is turned by 0/90/180/270 and every one of its planned tiles is scored once, with
the shipped model. The vote is a pure function, so each candidate setting is then replayed on
those scores at no cost. The setting printed is the most accurate one whose share of
confidently wrong answers (confidence >= 0.9 and wrong) stays at or below --max-conf-wrong;
textures (no up) count as right only when undetermined. Copy it into configs/default.yaml.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
from pathlib import Path

import numpy as np


from rayrot.engine.job import prepare_image, tile_batches
from rayrot.config import load_config
from rayrot.plan import center_weights
from rayrot.vote import vote

CATEGORIES = ("documents", "photos", "maps", "art", "textures")


def score_cases(sources: Path, limit: int, cfg) -> list[dict]:
    import torch
    from PIL import Image

    from rayrot.scorer import TileScorer
    from rayrot.training.dataset import SourceSet

    torch.set_num_threads(2)
    scorer = TileScorer(cfg, device="cpu")
    split = SourceSet.scan(sources, 0.1).val
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        for cat in CATEGORIES:
            for path in split.get(cat, ())[:limit]:
                rgb = np.asarray(Image.open(path).convert("RGB"))
                for k in range(4):
                    turned = Path(tmp) / f"t{k}.png"
                    Image.fromarray(np.ascontiguousarray(np.rot90(rgb, k))).save(turned)
                    prep = prepare_image(str(turned), cfg)
                    if prep.plan is None or not prep.plan.tiles:
                        continue
                    [batch] = tile_batches(str(turned), prep.plan, 10 ** 6, 10 ** 6)
                    out = scorer(batch)
                    boxes = np.stack([batch[c] for c in "xywh"], 1)
                    cases.append({"category": cat, "k": k, "probs": out["probs"],
                                  "boxes": boxes, "is_global": batch["is_global"],
                                  "plan": (prep.plan.plan_width, prep.plan.plan_height)})
                from rayrot.io.slide import _cached

                _cached.cache_clear()
    return cases


def replay(cases: list[dict], cfg) -> dict:
    right = conf_wrong = 0
    per_cat: dict[str, list[int]] = {}
    for c in cases:
        cw = center_weights(c["boxes"], *c["plan"], cfg.vote.center_sigma)
        keep = c["is_global"] | (np.cumsum(~c["is_global"]) <= cfg.tiling.max_tiles)
        v = vote(c["probs"][keep], cw[keep], c["is_global"][keep], cfg.vote)
        if c["category"] == "textures":
            ok = v.angle is None
        else:
            ok = v.angle == 90 * c["k"]
        right += ok
        conf_wrong += (not ok) and v.angle is not None and v.confidence >= 0.9
        per_cat.setdefault(c["category"], []).append(int(ok))
    n = max(len(cases), 1)
    return {"accuracy": right / n, "confidently_wrong": conf_wrong / n,
            "per_category": {k: float(np.mean(v)) for k, v in per_cat.items()}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", default=".data/sources")
    ap.add_argument("--limit", type=int, default=40, help="held-out files per category")
    ap.add_argument("--max-conf-wrong", type=float, default=0.005)
    ap.add_argument("--out", default="benchmarks/out/tune_vote.json")
    args = ap.parse_args(argv)
    base = load_config(overrides=["vote.early_stop=false"])
    cases = score_cases(Path(args.sources), args.limit, base)
    grid = {"global_weight": [1.0, 2.0, 4.0, 8.0], "confidence_floor": [0.3, 0.4, 0.5],
            "undetermined_threshold": [0.45, 0.5, 0.55, 0.6, 0.7], "center_sigma": [0.4, 0.6, 1.0]}
    results = []
    for values in itertools.product(*grid.values()):
        setting = dict(zip(grid, values))
        results.append({**setting, **replay(cases, base.replace(vote=setting))})
    ok = [r for r in results if r["confidently_wrong"] <= args.max_conf_wrong] or results
    best = max(ok, key=lambda r: (r["accuracy"], -r["confidently_wrong"]))
    current = replay(cases, load_config().replace(vote={"early_stop": False}))
    print(f"{len(cases)} cases (held-out training sources x 4 turns)")
    print("current default:", json.dumps(current))
    print("best:", json.dumps(best))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"cases": len(cases), "current": current, "best": best,
                                          "all": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
