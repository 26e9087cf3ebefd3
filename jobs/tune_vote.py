"""Choose the vote's settings on the training sources' held-out split (never the dev set).

    python jobs/tune_vote.py --sources .data/sources [--limit 40] [--set model.name=RUN/orient_lcnet_x1.safetensors]

Every held-out real image (rayrot.training.dataset.SourceSet, the files the training run
never saw) is turned by 0/90/180/270 and every one of its planned tiles is scored once, with
the shipped model (or ``--set model.name=``'s). The vote is a pure function, so each candidate setting is then replayed on
those scores at no cost. The settings printed (one per cascade stop) are the most accurate ones whose share of
confidently wrong answers (confidence >= 0.9 and wrong) stays at or below --max-conf-wrong.
Accuracy counts the categories that have an up (undetermined is wrong); textures (no up) only
count against the setting, as confidently wrong, when they get an answer at 0.9 or above: the
product's targets are accuracy where there is an up and no confident guess where there is none.
Each setting's cost is counted in network passes a case (a tile under rotation TTA is four), and
the accuracy-against-cost frontier is printed too. Copy the setting into
rayrot/configs/default.yaml.
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
                    # each tile once more without rotation TTA (a quarter of the cost)
                    plain = scorer({**batch, "rotation_tta": np.zeros(len(batch["x"]), bool)})
                    # the cascade's first look: the whole-image view alone, without rotation TTA
                    first = {key: col[:1] for key, col in batch.items()}
                    first["rotation_tta"] = np.zeros(1, bool)
                    boxes = np.stack([batch[c] for c in "xywh"], 1)
                    cases.append({"category": cat, "k": k, "probs": out["probs"],
                                  "probs_plain": plain["probs"],
                                  "first_look": scorer(first)["probs"][0],
                                  "boxes": boxes, "is_global": batch["is_global"],
                                  "is_context": batch["is_context"],
                                  "plan": (prep.plan.plan_width, prep.plan.plan_height)})
                from rayrot.io.slide import _cached

                _cached.cache_clear()
    return cases


def save_cases(cases: list[dict], path: Path) -> None:
    """The scores, so that a new grid can be replayed without scoring again."""
    arrays = {}
    for i, c in enumerate(cases):
        arrays.update({f"{i}/probs": c["probs"], f"{i}/probs_plain": c["probs_plain"],
                       f"{i}/boxes": c["boxes"],
                       f"{i}/is_global": c["is_global"], f"{i}/is_context": c["is_context"],
                       f"{i}/first_look": c["first_look"],
                       f"{i}/plan": np.asarray(c["plan"]),
                       f"{i}/k": np.asarray(c["k"]), f"{i}/category": np.asarray(c["category"])})
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)


def load_cases(path: Path) -> list[dict]:
    data = np.load(path)
    if "0/probs_plain" not in data.files:
        raise SystemExit(f"{path} holds no scores without TTA (an older run): delete it to score again")
    n = len({key.split("/")[0] for key in data.files})
    return [{"probs": data[f"{i}/probs"], "probs_plain": data[f"{i}/probs_plain"],
             "boxes": data[f"{i}/boxes"],
             "is_global": data[f"{i}/is_global"], "is_context": data[f"{i}/is_context"],
             "first_look": data[f"{i}/first_look"],
             "plan": tuple(data[f"{i}/plan"]),
             "k": int(data[f"{i}/k"]), "category": str(data[f"{i}/category"])} for i in range(n)]


# Which views vote: "grid" the whole-image view and the grid tiles (no context crops);
# "coarse" the whole-image view and the context crops; "all" every one; "staged" the coarse
# vote, and every view when that vote is undetermined or below a confidence line.
VIEWS = (("grid", None), ("coarse", None), ("all", None), ("staged", 0.5), ("staged", 0.6),
         ("staged", 0.7), ("staged", 0.9))


# Which tiles are scored under the four turns (the rest once): every one, the grid tiles
# only (the whole view and the context crops once), or none.
TTA = ("all", "grid", "none")


def vote_answers(cases: list[dict], cfg, views: str = "all", grid_below: float | None = None,
                 tta: str = "all") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each case's vote under ``cfg.vote`` over ``views`` (see VIEWS) with rotation TTA on
    ``tta``'s tiles (see TTA): angle (-1 = undetermined), confidence, and the network passes
    the tiles' vote cost (a tile under TTA costs four; the cascade's first look is not in it)."""
    n = len(cases)
    angles, confidences, passes = np.full(n, -1), np.zeros(n), np.zeros(n)
    for i, c in enumerate(cases):
        cw = center_weights(c["boxes"], *c["plan"], cfg.vote.center_sigma)
        glob, ctx = c["is_global"], c["is_context"]
        grid = ~glob & ~ctx
        every = ~grid | (np.cumsum(grid) <= cfg.tiling.max_tiles)
        turned = {"all": np.ones_like(grid), "grid": grid, "none": np.zeros_like(grid)}[tta]
        probs = np.where(turned[:, None], c["probs"], c["probs_plain"])
        cost = np.where(turned, 4, 1)

        def run(mask):
            return vote(probs[mask], cw[mask], glob[mask], cfg.vote, ctx[mask])

        if views == "grid":
            v, scored = run(every & ~ctx), every & ~ctx
        elif views == "coarse":
            v, scored = run(~grid), ~grid
        else:
            v, scored = (run(~grid), ~grid) if views == "staged" else (None, None)
            if v is None or v.angle is None or v.confidence < grid_below:
                v, scored = run(every), every
        angles[i] = -1 if v.angle is None else v.angle
        confidences[i] = v.confidence
        passes[i] = cost[scored].sum()
    return angles, confidences, passes


def current_views(cfg) -> tuple[str, float | None]:
    """The VIEWS entry a config runs (ordinary images)."""
    t = cfg.tiling
    if not t.context_crops:
        return "grid", None
    if not t.ordinary_grid:
        return "coarse", None
    if t.ordinary_grid_below_confidence is not None:
        return "staged", t.ordinary_grid_below_confidence
    return "all", None


def current_tta(cfg) -> str:
    """The TTA entry a config runs."""
    return "all" if cfg.model.rotation_tta else "none"


def replay(cases: list[dict], answers: tuple[np.ndarray, np.ndarray, np.ndarray],
           stop: float | None) -> dict:
    """Accuracy, confidently wrong share, first-look share and network passes a case of a
    vote's ``answers`` behind a cascade that stops at ``stop``, as the engine runs it: a first
    look whose top probability reaches ``stop`` answers alone (one pass); otherwise the tiles'
    vote answers (the first look's pass and the vote's; early stopping, which only lowers the
    cost, is left out).

    Accuracy counts the categories with an up; a texture is right when undetermined.
    """
    looks = np.stack([c["first_look"] for c in cases])
    decided = (looks.max(1) >= stop) if stop else np.zeros(len(cases), bool)
    passes = np.where(decided, 1, answers[2] + (1 if stop else 0))
    angle = np.where(decided, 90 * looks.argmax(1), answers[0])
    confidence = np.where(decided, looks.max(1), answers[1])
    category = np.array([c["category"] for c in cases])
    truth = np.array([90 * c["k"] for c in cases])
    has_up = category != "textures"
    ok = np.where(has_up, angle == truth, angle == -1)
    conf_wrong = ~ok & (angle >= 0) & (confidence >= 0.9)
    return {"accuracy": float(ok[has_up].mean()), "confidently_wrong": float(conf_wrong.mean()),
            "first_look_share": float(decided.mean()), "passes": float(passes.mean()),
            "per_category": {k: float(ok[category == k].mean()) for k in np.unique(category)}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sources", default=".data/sources")
    ap.add_argument("--limit", type=int, default=40, help="held-out files per category")
    ap.add_argument("--max-conf-wrong", type=float, default=0.005)
    ap.add_argument("--out", default="benchmarks/out/tune_vote.json")
    ap.add_argument("--scores", default="benchmarks/out/tune_vote_scores.npz",
                    help="the tiles' scores: reused when present (delete it after a model change)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, e.g. model.name=runs/v3/orient_lcnet_x1.safetensors "
                         "to choose the vote of a model before it ships")
    args = ap.parse_args(argv)
    # every view is scored, the grid tiles too, whatever the default runs: the replay chooses
    base = load_config(overrides=[*args.set, "vote.early_stop=false", "tiling.ordinary_grid=true"])
    scores = Path(args.scores)
    if scores.exists():
        cases = load_cases(scores)
    else:
        cases = score_cases(Path(args.sources), args.limit, base)
        save_cases(cases, scores)
    grid = {"global_weight": [1.0, 2.0, 4.0], "context_weight": [0.5, 1.0, 2.0],
            "confidence_floor": [0.3, 0.4],
            # 0.25: only an exact tie (or every tile abstaining) is undetermined
            "undetermined_threshold": [0.25, 0.28, 0.3, 0.35, 0.4, 0.5],
            "min_margin": [0.0], "center_sigma": [0.6, 1.0]}
    stops = [None, 0.8, 0.9, 0.95]
    results = []
    for values in itertools.product(*grid.values()):
        setting = dict(zip(grid, values))
        for (views, grid_below), tta in itertools.product(VIEWS, TTA):
            answers = vote_answers(cases, base.replace(vote=setting), views, grid_below, tta)
            for stop in stops:
                results.append({**setting, "views": views, "grid_below": grid_below, "tta": tta,
                                "cascade_stop_confidence": stop, **replay(cases, answers, stop)})
    current_cfg = load_config(overrides=args.set)
    current = replay(cases, vote_answers(cases, current_cfg.replace(vote={"early_stop": False}),
                                         *current_views(current_cfg), current_tta(current_cfg)),
                     current_cfg.scorer.cascade_stop_confidence)
    print(f"{len(cases)} cases (held-out training sources x 4 turns)")
    print("current default:", json.dumps(current))
    print("best setting per cascade stop (the first look's share is the cost lever):")
    best_per_stop = {}
    for stop in stops:
        mine = [r for r in results if r["cascade_stop_confidence"] == stop]
        ok = [r for r in mine if r["confidently_wrong"] <= args.max_conf_wrong] or mine
        best_per_stop[str(stop)] = max(ok, key=lambda r: (r["accuracy"], -r["confidently_wrong"],
                                                          -r["passes"]))
        print(f"  stop {stop}:", json.dumps(best_per_stop[str(stop)]))
    print("accuracy against cost: the best setting at or under each number of network passes "
          "a case (confidently wrong within the limit):")
    frontier = []
    safe = [r for r in results if r["confidently_wrong"] <= args.max_conf_wrong]
    for budget in (2, 4, 6, 8, 12, 16, 24, 32, 64, 1e9):
        within = [r for r in safe if r["passes"] <= budget]
        if within:
            best = max(within, key=lambda r: (r["accuracy"], -r["passes"]))
            if not frontier or best["accuracy"] > frontier[-1]["accuracy"]:
                frontier.append(best)
                print(f"  <= {budget:g} passes:", json.dumps(best))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"cases": len(cases), "current": current,
                                          "best_per_stop": best_per_stop,
                                          "frontier": frontier, "all": results},
                                         indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
