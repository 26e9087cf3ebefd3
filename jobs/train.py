"""Train the shipped orientation model with Ray Train.

    python jobs/train.py --config configs/train.yaml --out out/train [--time-budget 3600]
    python jobs/train.py --out out/train --resume          # the next sitting of the same run
    python jobs/train.py --out out/train --set ray.num_workers=2 --set ray.use_gpu=true
    ray job submit --working-dir . -- python jobs/train.py --out /shared/out/train

A ``TorchTrainer`` runs ``cfg.ray.num_workers`` workers (CPU workers by default; GPUs with
``ray.use_gpu``, where the loop uses AMP). Each worker calls the plain training loop,
:func:`rayrot.training.loop.train`; with more than one worker the model is wrapped for DDP
by ``ray.train.torch.prepare_model`` and every worker draws its own samples (the data stream
is seeded by rank, so no sampler is needed). Rank 0 writes ``<out>/<model>.safetensors``,
its model card and ``metrics.json``; every ``run.checkpoint_every_s`` it saves
``<out>/checkpoint/``, which ``--resume`` continues (the time budget counts every sitting).
``configs/train.yaml`` is the recipe of the shipped weights (``rayrot/weights/orient_lcnet_x1.*``);
its model card records the run that made them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path


from rayrot.config import parse_overrides
from rayrot.training.config import TrainConfig, dotted_overrides, load_train_config


def _absolute_paths(cfg: TrainConfig) -> TrainConfig:
    """Workers may run in another folder: make the data paths absolute before shipping cfg."""
    def absolute(p: str) -> str:
        return str(Path(p).resolve())

    data = dataclasses.replace(
        cfg.data, fonts_dir=absolute(cfg.data.fonts_dir), text_dir=absolute(cfg.data.text_dir),
        sources_dirs=tuple(absolute(d) for d in cfg.data.sources_dirs),
        render_cache={k: absolute(v) for k, v in cfg.data.render_cache.items()})
    run = cfg.run
    if run.init_weights and Path(run.init_weights).suffix == ".safetensors":
        run = dataclasses.replace(run, init_weights=absolute(run.init_weights))
    return dataclasses.replace(cfg, data=data, run=run)


def _train_loop_per_worker(config: dict) -> None:
    import ray.train
    import ray.train.torch

    from rayrot.training.loop import train

    cfg: TrainConfig = config["cfg"]
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    device = ray.train.torch.get_device()
    prepare = ray.train.torch.prepare_model if world > 1 else None
    metrics = train(cfg, device, config["out"] if rank == 0 else None, rank=rank, world_size=world,
                    prepare_model=prepare, resume=config["resume"],
                    stop_after_s=config["stop_after_s"])
    ray.train.report({k: metrics.get(k) for k in ("steps", "samples", "seconds", "loss_first",
                                                  "loss_last", "samples_per_s")})


def run(cfg: TrainConfig, out: str | Path, storage: str | Path | None = None,
        resume: bool = False, stop_after_s: float | None = None) -> dict:
    """Train with Ray Train; returns the metrics rank 0 wrote to ``<out>/metrics.json``."""
    import ray
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cfg = _absolute_paths(cfg)
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False)
    scaling = ScalingConfig(num_workers=cfg.ray.num_workers, use_gpu=cfg.ray.use_gpu,
                            resources_per_worker={"CPU": cfg.ray.cpus_per_worker})
    trainer = TorchTrainer(
        _train_loop_per_worker,
        train_loop_config={"cfg": cfg, "out": str(out), "resume": resume,
                           "stop_after_s": stop_after_s},
        scaling_config=scaling,
        run_config=RunConfig(name="rayrot-train", storage_path=str(Path(storage or out / "ray").resolve())),
    )
    result = trainer.fit()
    if result.error:
        raise result.error
    if stop_after_s is not None and not (out / "metrics.json").exists():
        return {"stopped": True, **result.metrics}
    return json.loads((out / "metrics.json").read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train the orientation model with Ray Train.")
    ap.add_argument("--config", default=None, help="training YAML (default configs/train.yaml)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                    help="training wall time over all sittings (optim.time_budget_s)")
    ap.add_argument("--resume", action="store_true", help="continue the checkpoint in --out")
    ap.add_argument("--stop-after", type=float, default=None, metavar="SECONDS",
                    help="end this sitting after so long, with a checkpoint to resume")
    args = ap.parse_args(argv)
    overrides = dotted_overrides(parse_overrides(args.set))
    if args.time_budget is not None:
        overrides["optim.time_budget_s"] = args.time_budget
    cfg = load_train_config(args.config, overrides)
    metrics = run(cfg, args.out, resume=args.resume, stop_after_s=args.stop_after)
    print(json.dumps({k: v for k, v in metrics.items() if k != "loss_curve"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
