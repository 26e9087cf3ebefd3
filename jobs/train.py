"""Train the shipped orientation model with Ray Train.

    python jobs/train.py --config configs/train.yaml --out out/train
    python jobs/train.py --out out/train --set ray.num_workers=2 --set ray.use_gpu=true
    ray job submit --working-dir . -- python jobs/train.py --out /shared/out/train

A ``TorchTrainer`` runs ``cfg.ray.num_workers`` workers (CPU workers by default; GPUs with
``ray.use_gpu``, where the loop uses AMP). Each worker calls the plain training loop,
:func:`rayrot.training.loop.train`; with more than one worker the model is wrapped for DDP
by ``ray.train.torch.prepare_model`` and every worker draws its own samples (the data stream
is seeded by rank, so no sampler is needed). Rank 0 writes ``<out>/<model>.safetensors``,
its model card and ``metrics.json``. ``configs/train.yaml`` is the recipe of the shipped
weights (``rayrot/weights/orient_cnn_small.*``); see its model card for the run that made them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rayrot.training.config import TrainConfig, load_train_config  # noqa: E402


def _absolute_paths(cfg: TrainConfig) -> TrainConfig:
    """Workers may run in another folder: make the data paths absolute before shipping cfg."""
    data = dataclasses.replace(cfg.data, **{k: str(Path(getattr(cfg.data, k)).resolve())
                                            for k in ("sources_dir", "fonts_dir", "text_dir")})
    return dataclasses.replace(cfg, data=data)


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
                    prepare_model=prepare)
    ray.train.report({k: metrics.get(k) for k in ("steps", "samples", "seconds", "loss_first",
                                                  "loss_last", "samples_per_s")})


def run(cfg: TrainConfig, out: str | Path, storage: str | Path | None = None) -> dict:
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
        train_loop_config={"cfg": cfg, "out": str(out)},
        scaling_config=scaling,
        run_config=RunConfig(name="rayrot-train", storage_path=str(Path(storage or out / "ray").resolve())),
    )
    result = trainer.fit()
    if result.error:
        raise result.error
    return json.loads((out / "metrics.json").read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Train the orientation model with Ray Train.")
    ap.add_argument("--config", default=None, help="training YAML (default configs/train.yaml)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args(argv)
    overrides = {}
    for item in args.set:
        k, _, v = item.partition("=")
        overrides[k.strip()] = yaml.safe_load(v)
    cfg = load_train_config(args.config, overrides)
    metrics = run(cfg, args.out)
    print(json.dumps({k: v for k, v in metrics.items() if k != "loss_curve"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
