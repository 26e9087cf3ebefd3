"""The training loop: a plain function, no Ray.

``train(cfg, device, out_dir)`` trains ``cfg.run.model`` on samples from
:mod:`rayrot.training.dataset`, validates on a fixed held-out set, fits the calibration
temperature on it, and writes ``<out_dir>/<model>.safetensors`` + ``.json`` (model card),
``metrics.json`` and ``train.log``. ``jobs/train.py`` calls the same function inside Ray Train.

Command line (CPU or CUDA; a run can span sittings: ``--stop-after`` ends one with a
checkpoint, ``--resume`` continues it until ``optim.time_budget_s`` is spent in all)::

    python -m rayrot.training.loop --config configs/train.yaml --out DIR [--device cuda] \\
        [--stop-after SECONDS] [--resume] [--time-budget SECONDS] [--set optim.steps=100 ...]
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from ..model import create_model, default_card, load_model, save_model
from ..config import parse_overrides
from .checkpoint import CHECKPOINT_DIR, TrainState, load_checkpoint, save_checkpoint
from .config import TrainConfig, dotted_overrides, load_train_config
from .dataset import (CATEGORIES, UNIFORM_CATEGORIES, SourceSet, TrainStream, ValSet,
                      worker_init_fn)
from .transfer import distill_loss, freeze, frozen_bn_eval, interpolate_weights

__all__ = ["train", "interpolate_weights", "distill_loss", "soft_cross_entropy", "rotation_views",
           "normalize_batch", "evaluate_logits",
           "collect_logits", "fit_temperature", "lr_at", "ModelEma", "main"]

LOGGER = logging.getLogger("rayrot.training.loop")  # also when run as __main__


# ----------------------------------------------------------------------------- pieces


def normalize_batch(tiles: torch.Tensor, mean, std, channels_last: bool = True) -> torch.Tensor:
    """``(B, H, W, 3)`` uint8 on any device -> ``(B, 3, H, W)`` float32 normalised, as
    :func:`rayrot.preprocess.to_model_input` does on NumPy."""
    x = tiles.permute(0, 3, 1, 2).float().div_(255.0)
    m = torch.tensor(mean, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    x = (x - m) / s
    return x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor, smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy against soft targets ``(B, C)``, mixed with a uniform share ``smoothing``."""
    if smoothing:
        target = target * (1 - smoothing) + smoothing / target.shape[1]
    return -(target * F.log_softmax(logits.float(), dim=1)).sum(1).mean()


def rotation_views(x: torch.Tensor, y: torch.Tensor, n: int,
                   channels_last: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack the batch under ``n`` turns (0..n-1 quarter turns counter-clockwise, as np.rot90).

    Turning a tile of label ``k`` by ``r`` more gives label ``k + r``, so its target rolls by
    ``r``. ``x``: ``(B, 3, H, W)`` (H == W); returns ``(n * B, 3, H, W)`` and ``(n * B, 4)``.
    """
    xs = torch.cat([x] + [torch.rot90(x, r, dims=(2, 3)) for r in range(1, n)], 0)
    ys = torch.cat([torch.roll(y, shifts=r, dims=1) for r in range(n)], 0)
    if channels_last:
        xs = xs.contiguous(memory_format=torch.channels_last)
    return xs, ys


def lr_at(progress: float, step: int, base_lr: float, warmup_steps: int, floor: float = 0.01) -> float:
    """Linear warm-up over ``warmup_steps``, then cosine from ``base_lr`` down to ``floor * base_lr``
    as ``progress`` goes from 0 to 1."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    p = min(1.0, max(0.0, progress))
    return base_lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * p)))


class ModelEma:
    """Exponential moving average of a model's parameters and buffers (kept in float32)."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(_unwrap(model)).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))  # short warm-up of the average
        src = _unwrap(model).state_dict()
        for k, v in self.module.state_dict().items():
            if v.is_floating_point():
                v.mul_(d).add_(src[k].detach(), alpha=1 - d)
            else:
                v.copy_(src[k])


def _unwrap(model: nn.Module) -> nn.Module:
    model = getattr(model, "module", model)
    return getattr(model, "_orig_mod", model)


@torch.no_grad()
def collect_logits(model: nn.Module, loader, device: torch.device, mean, std,
                   amp_dtype: torch.dtype | None = None,
                   channels_last: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run ``model`` over ``loader`` of ``(tiles, targets, categories)``; returns CPU tensors
    ``logits (N, 4) float32``, ``targets (N, 4)`` and ``categories (N,)``."""
    model.eval()
    out_l, out_t, out_c = [], [], []
    for tiles, targets, cats in loader:
        x = normalize_batch(tiles.to(device, non_blocking=True), mean, std, channels_last)
        if amp_dtype is not None and device.type == "cuda":
            with torch.autocast("cuda", dtype=amp_dtype):
                logits = model(x)
        else:
            logits = model(x)
        out_l.append(logits.float().cpu())
        out_t.append(targets.float())
        out_c.append(cats)
    return torch.cat(out_l), torch.cat(out_t), torch.cat(out_c)


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """The temperature ``T`` minimising the NLL of ``softmax(logits / T)`` (grid then refine)."""
    if len(logits) == 0:
        return 1.0
    logits, targets = logits.double(), targets.double()

    def nll(t: float) -> float:
        return float(-(targets * F.log_softmax(logits / t, 1)).sum(1).mean())

    grid = np.exp(np.linspace(math.log(0.25), math.log(8.0), 61))
    best = min(grid, key=nll)
    lo, hi = best / 1.06, best * 1.06
    for _ in range(40):  # golden-section refinement in log space
        a = math.exp(math.log(lo) + 0.382 * (math.log(hi) - math.log(lo)))
        b = math.exp(math.log(lo) + 0.618 * (math.log(hi) - math.log(lo)))
        if nll(a) < nll(b):
            hi = b
        else:
            lo = a
    return float(math.sqrt(lo * hi))


def evaluate_logits(logits: torch.Tensor, targets: torch.Tensor, cats: torch.Tensor,
                    temperature: float = 1.0) -> dict[str, Any]:
    """Per-category accuracy, confidently-wrong share (p >= 0.9), NLL and mean top probability.

    Categories with a uniform target (textures) get no accuracy, only their mean top probability
    (lower is better: they have no up)."""
    prob = torch.softmax(logits.float() / temperature, 1)
    nll_all = -(targets * torch.log(prob.clamp_min(1e-12))).sum(1)
    top_p, pred = prob.max(1)
    label = targets.argmax(1)
    res: dict[str, Any] = {"n": int(len(logits)), "per_category": {}}
    hard = torch.zeros(len(logits), dtype=torch.bool)
    for ci in sorted(set(cats.tolist())):
        name = CATEGORIES[ci]
        m = cats == ci
        row = {"n": int(m.sum()), "nll": float(nll_all[m].mean()), "mean_top_p": float(top_p[m].mean())}
        if name not in UNIFORM_CATEGORIES:
            hard |= m
            ok = pred[m] == label[m]
            row["accuracy"] = float(ok.float().mean())
            row["confidently_wrong"] = float(((~ok) & (top_p[m] >= 0.9)).float().mean())
        res["per_category"][name] = row
    if hard.any():
        res["accuracy"] = float((pred[hard] == label[hard]).float().mean())
        res["nll"] = float(nll_all[hard].mean())
    return res


# ----------------------------------------------------------------------------- train


def _setup_logging(out_dir: Path | None) -> None:
    root = logging.getLogger("rayrot")
    root.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
               for h in root.handlers):
        h = logging.StreamHandler(sys.stdout)
        h.setFormatter(fmt)
        root.addHandler(h)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        fh = logging.FileHandler(out_dir / "train.log")
        fh.setFormatter(fmt)
        root.addHandler(fh)


def _amp_dtype(name: str, device: torch.device) -> torch.dtype | None:
    if device.type != "cuda" or name == "none":
        return None
    if name not in ("bf16", "fp16"):
        raise ValueError(f"optim.amp must be bf16, fp16 or none, got {name!r}")
    return torch.bfloat16 if name == "bf16" else torch.float16


def build_val(cfg: TrainConfig, sources: SourceSet, synth_categories: tuple[str, ...],
              num_workers: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Make the fixed validation set once, in parallel; returns ``(tiles, targets, cats)``."""
    ds = ValSet(cfg.data, cfg.aug, sources, synth_categories)
    if len(ds) == 0:
        return (torch.zeros(0, cfg.data.input_px, cfg.data.input_px, 3, dtype=torch.uint8),
                torch.zeros(0, 4), torch.zeros(0, dtype=torch.long))
    loader = torch.utils.data.DataLoader(ds, batch_size=64, num_workers=num_workers,
                                         worker_init_fn=worker_init_fn)
    parts = list(loader)
    return tuple(torch.cat([p[i] for p in parts]) for i in range(3))  # type: ignore[return-value]


def train(cfg: TrainConfig, device: str | torch.device = "cpu", out_dir: str | Path | None = None,
          *, rank: int = 0, world_size: int = 1, resume: bool = False,
          stop_after_s: float | None = None,
          prepare_model: Callable[[nn.Module], nn.Module] | None = None,
          report: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Train ``cfg.run.model`` from scratch (or from ``cfg.run.init_weights``); write weights,
    card and metrics into ``out_dir``.

    Parameters
    ----------
    cfg : TrainConfig
    device : str or torch.device
        ``"cuda"`` enables AMP (``cfg.optim.amp``); the CPU runs float32.
    out_dir : path, optional
        Where ``<model>.safetensors``, ``<model>.json``, ``metrics.json`` and ``train.log`` go
        (rank 0 only). Nothing is written when None.
    rank, world_size : int
        For data-parallel runs (Ray Train): each rank draws its own samples.
    prepare_model : callable, optional
        Wraps the model after it is on ``device`` (e.g. ``ray.train.torch.prepare_model``).
    report : callable, optional
        Called with the metrics dict at each log line and at the end.
    resume : bool
        Continue the run whose checkpoint is in ``out_dir`` (weights, moving average,
        optimiser, counters): ``optim.time_budget_s`` and ``optim.steps`` count all sittings.
    stop_after_s : float, optional
        End this sitting after so many seconds of training with a checkpoint (no weights are
        written: the run is not finished); ``resume`` continues it.

    Returns
    -------
    metrics : dict
        ``steps``, ``samples``, ``seconds``, ``samples_per_s``, ``loss_first``, ``loss_last``,
        ``temperature``, ``val`` (per-category accuracy), ``weights`` (path or None).
    """
    device = torch.device(device)
    out = Path(out_dir) if out_dir is not None and rank == 0 else None
    _setup_logging(out)
    torch.manual_seed(cfg.run.seed + rank)
    amp_dtype = _amp_dtype(cfg.optim.amp, device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    sources = SourceSet.scan(cfg.data.sources_dirs, cfg.data.val_fraction, cfg.data.train_fraction)
    LOGGER.info("real sources (train, val files): %s", sources.counts())
    if stop_after_s is not None and (out is None or cfg.run.checkpoint_every_s <= 0):
        raise ValueError("stop_after_s needs an out_dir and run.checkpoint_every_s > 0")
    sittings = 1
    if resume:
        if out is None:
            raise ValueError("resume needs the out_dir that holds the checkpoint")
        sittings = json.loads((out / CHECKPOINT_DIR / "state.json").read_text())["sittings"] + 1
    # Each sitting draws fresh samples: the stream is seeded by the sitting too.
    stream = TrainStream(cfg.data, cfg.aug, sources, seed=cfg.run.seed * 1000 + sittings - 1,
                         rank=rank)
    LOGGER.info("category weights: %s", {k: round(v, 3) for k, v in stream.weights.items()})

    card0 = default_card(cfg.run.model)
    mean, std = card0.mean, card0.std
    model = create_model(cfg.run.model)
    if cfg.run.init_weights:
        # Continue an earlier run (e.g. a second GPU lease): same architecture, fresh optimiser.
        start, start_card = load_model(cfg.run.init_weights, "cpu")
        if start_card.arch != cfg.run.model:
            raise ValueError(f"init_weights {cfg.run.init_weights} is a {start_card.arch}, "
                             f"not a {cfg.run.model}")
        model.load_state_dict(start.state_dict())
        LOGGER.info("starting from %s (version %s)", cfg.run.init_weights, start_card.version)
    model = model.to(device)
    if cfg.run.channels_last:
        model = model.to(memory_format=torch.channels_last)
    n_params = sum(p.numel() for p in model.parameters())
    n_frozen = freeze(model, cfg.optim.freeze_prefixes)
    LOGGER.info("model %s: %.3f M params (%.3f M frozen)", cfg.run.model, n_params / 1e6,
                n_frozen / 1e6)
    teacher = None
    if cfg.optim.distill_weight > 0:
        if not cfg.run.init_weights:
            raise ValueError("optim.distill_weight > 0 needs run.init_weights (the teacher)")
        teacher, _ = load_model(cfg.run.init_weights, device)
        teacher.eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
        if cfg.run.channels_last:
            teacher = teacher.to(memory_format=torch.channels_last)
        distill_ids = torch.tensor([CATEGORIES.index(c) for c in cfg.optim.distill_categories],
                                   dtype=torch.long)
    ema = ModelEma(model, cfg.optim.ema_decay) if cfg.optim.ema_decay > 0 else None
    if prepare_model is not None:
        model = prepare_model(model)
    fwd = model
    if cfg.run.compile and device.type == "cuda":
        fwd = torch.compile(model)

    decay, no_decay = [], []
    for n_, p in model.named_parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": cfg.optim.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=cfg.optim.lr, betas=(0.9, 0.999),
                            fused=device.type == "cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)

    nw = cfg.run.num_workers
    loader = torch.utils.data.DataLoader(
        stream, batch_size=cfg.optim.batch_size, num_workers=nw, worker_init_fn=worker_init_fn,
        pin_memory=device.type == "cuda", persistent_workers=nw > 0,
        prefetch_factor=4 if nw > 0 else None)

    val_tiles = None
    if rank == 0:
        t0 = time.perf_counter()
        val_tiles, val_targets, val_cats = build_val(cfg, sources, stream.synth_categories, nw)
        LOGGER.info("validation set: %d tiles in %.1f s", len(val_tiles), time.perf_counter() - t0)

    def run_val(module: nn.Module) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # Small chunks on a CPU: large batches of 224-px tiles overflow its caches.
        n = 256 if device.type == "cuda" else 16
        vl = [(val_tiles[i:i + n], val_targets[i:i + n], val_cats[i:i + n])
              for i in range(0, len(val_tiles), n)]
        return collect_logits(module, vl, device, mean, std, amp_dtype, cfg.run.channels_last)

    budget = cfg.optim.time_budget_s
    t_setup = time.perf_counter()
    step, samples, tiles_made, losses = 0, 0, 0, []
    seconds_before = 0.0
    started_config = cfg.to_dict()
    if resume:
        st = load_checkpoint(out, _unwrap(model), opt, ema.module if ema is not None else None)
        step, samples, tiles_made, seconds_before = st.step, st.samples, st.tiles, st.seconds
        started_config = st.config
        LOGGER.info("resuming sitting %d at step %d after %.0f s of training", st.sittings,
                    step, seconds_before)
    t_checkpoint = time.perf_counter()
    loss_first = None
    t_start = time.perf_counter()
    t_log, samples_log = t_start, 0
    metrics: dict[str, Any] = {}
    model.train()
    frozen_bn_eval(model, cfg.optim.freeze_prefixes)
    data_iter = iter(loader)
    first = next(data_iter)  # worker start-up and pool filling are not part of the schedule
    t_start = time.perf_counter()
    t_log = t_start
    LOGGER.info("data workers ready after %.0f s", t_start - t_setup)
    loss = torch.zeros(())
    while True:
        elapsed = seconds_before + time.perf_counter() - t_start
        progress = step / cfg.optim.steps
        if budget > 0:
            progress = max(progress, elapsed / budget)
        if progress >= 1.0:
            break
        if stop_after_s is not None and time.perf_counter() - t_start >= stop_after_s:
            break
        tiles, targets, cats = first if first is not None else next(data_iter)
        first = None
        lr = lr_at(progress, step, cfg.optim.lr, cfg.optim.warmup_steps)
        for g in opt.param_groups:
            g["lr"] = lr
        x = normalize_batch(tiles.to(device, non_blocking=True), mean, std, cfg.run.channels_last)
        y = targets.to(device, non_blocking=True)
        if cfg.optim.rotation_views > 1:
            x, y = rotation_views(x, y, cfg.optim.rotation_views, cfg.run.channels_last)
            cats = cats.repeat(cfg.optim.rotation_views)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            logits = fwd(x)
            loss = soft_cross_entropy(logits, y, cfg.optim.label_smoothing)
            if teacher is not None:
                sel = torch.isin(cats, distill_ids).nonzero().flatten().to(device)
                if len(sel):
                    with torch.no_grad():
                        t_logits = teacher(x[sel])
                    share = len(sel) / len(x)
                    loss = loss + cfg.optim.distill_weight * share * distill_loss(
                        logits[sel], t_logits, cfg.optim.distill_temperature)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if cfg.optim.grad_clip > 0:
            scaler.unscale_(opt)
            nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        scaler.step(opt)
        scaler.update()
        if ema is not None:
            ema.update(model, step)
        step += 1
        samples += len(x)
        tiles_made += len(tiles)
        samples_log += len(x)
        if step % cfg.run.log_every == 0 or step == 1:
            lv = float(loss.detach())
            losses.append(lv)
            if loss_first is None:
                loss_first = lv
            now = time.perf_counter()
            rate = samples_log / max(1e-9, now - t_log) * world_size
            t_log, samples_log = now, 0
            LOGGER.info("step %d  loss %.4f  lr %.2e  %.0f samples/s  %.0f s  progress %.3f",
                        step, lv, lr, rate, now - t_start, progress)
            if report is not None:
                report({"step": step, "loss": lv, "lr": lr, "samples_per_s": rate})
        if (rank == 0 and cfg.run.val_every and step % cfg.run.val_every == 0
                and val_tiles is not None and len(val_tiles)):
            lg, tg, cg = run_val(ema.module if ema is not None else _unwrap(model))
            LOGGER.info("val step %d: %s", step, _short(evaluate_logits(lg, tg, cg)))
            model.train()
            frozen_bn_eval(model, cfg.optim.freeze_prefixes)
        if (out is not None and cfg.run.checkpoint_every_s > 0
                and time.perf_counter() - t_checkpoint >= cfg.run.checkpoint_every_s):
            save_checkpoint(out, TrainState(step, samples, tiles_made,
                                            seconds_before + time.perf_counter() - t_start,
                                            sittings, started_config),
                            _unwrap(model), opt, ema.module if ema is not None else None)
            t_checkpoint = time.perf_counter()
            LOGGER.info("checkpoint at step %d", step)
    seconds = seconds_before + time.perf_counter() - t_start
    if out is not None and cfg.run.checkpoint_every_s > 0:
        save_checkpoint(out, TrainState(step, samples, tiles_made, seconds, sittings,
                                        started_config),
                        _unwrap(model), opt, ema.module if ema is not None else None)
    final_loss = float(loss.detach()) if step else float("nan")
    unfinished = stop_after_s is not None and progress < 1.0
    del data_iter
    metrics.update(steps=step, samples=samples, tiles=tiles_made, seconds=round(seconds, 1),
                   samples_per_s=round(samples / max(1e-9, seconds) * world_size, 1),
                   loss_first=loss_first, loss_last=final_loss, loss_curve=losses,
                   n_params=int(n_params), device=str(device), world_size=world_size,
                   sittings=sittings)
    LOGGER.info("trained %d steps, %d samples (%d tiles made) in %.0f s (%.0f samples/s)", step,
                samples, tiles_made, seconds, metrics["samples_per_s"])
    if rank != 0:
        return metrics
    if unfinished:
        metrics.update(stopped=True, progress=round(progress, 4), weights=None)
        LOGGER.info("sitting %d stopped at progress %.3f; --resume continues", sittings, progress)
        return metrics

    final = ema.module if ema is not None else _unwrap(model)
    if cfg.optim.wise_alpha != 1.0:
        if not cfg.run.init_weights:
            raise ValueError("optim.wise_alpha != 1 needs run.init_weights")
        start, _ = load_model(cfg.run.init_weights, "cpu")
        final = interpolate_weights(start, final, cfg.optim.wise_alpha).to(device)
        LOGGER.info("saved weights: init + %.2f * (trained - init)", cfg.optim.wise_alpha)
    temperature = 1.0
    if val_tiles is not None and len(val_tiles):
        lg, tg, cg = run_val(final)
        hard = torch.tensor([CATEGORIES[c] not in UNIFORM_CATEGORIES for c in cg.tolist()])
        temperature = fit_temperature(lg[hard], tg[hard]) if hard.any() else 1.0
        metrics["val"] = evaluate_logits(lg, tg, cg, temperature)
        metrics["val_t1"] = _short(evaluate_logits(lg, tg, cg, 1.0))
        LOGGER.info("validation (T=%.3f): %s", temperature, _short(metrics["val"]))
    metrics["temperature"] = temperature
    metrics["weights"] = None
    if out is not None:
        card = default_card(cfg.run.model).replace(
            version=cfg.run.version, temperature=temperature, pad_value=cfg.data.pad_value,
            recipe={"config": cfg.to_dict(), "steps": step, "samples": samples, "tiles": tiles_made,
                    "seconds": round(seconds, 1), "sittings": sittings, "device": str(device),
                    "world_size": world_size, "torch": torch.__version__,
                    "command": "python -m rayrot.training.loop --config configs/train.yaml"},
            data_sources=_data_sources(cfg, sources, stream),
            metrics={"validation": metrics.get("val", {})})
        path = out / f"{cfg.run.model}.safetensors"
        card = save_model(final.float().cpu(), card, path)
        metrics["weights"] = str(path)
        metrics["sha256"] = card.sha256
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        LOGGER.info("wrote %s (sha256 %s)", path, card.sha256[:12])
    if report is not None:
        report({k: v for k, v in metrics.items() if k != "loss_curve"})
    return metrics


def _short(ev: dict[str, Any]) -> dict[str, Any]:
    """The per-category accuracies (and texture top-p) of :func:`evaluate_logits`, rounded."""
    out: dict[str, Any] = {"acc": round(ev.get("accuracy", float("nan")), 4)}
    for name, row in ev.get("per_category", {}).items():
        out[name] = round(row.get("accuracy", row["mean_top_p"]), 4)
    return out


def _data_sources(cfg: TrainConfig, sources: SourceSet, stream: TrainStream) -> tuple[str, ...]:
    rows = [f"{c}: {n_tr} train + {n_va} held-out real files from {list(cfg.data.sources_dirs)}"
            f" (see DATA_SOURCES.md)" for c, (n_tr, n_va) in sources.counts().items() if n_tr + n_va]
    for cat in stream.cached_categories:
        rows.append(f"{cat}: renders cached in {cfg.data.render_cache[cat]} "
                    f"(python -m rayrot.training.render_cache)")
    if stream.synth_categories:
        rows.append(f"rayrot.training.synth renders {list(stream.synth_categories)} (fonts {cfg.data.fonts_dir}, text {cfg.data.text_dir})")
    return tuple(rows)


# ----------------------------------------------------------------------------- CLI


def bench_data(cfg: TrainConfig, seconds: float) -> dict[str, Any]:
    """Samples per second of the training stream alone (``cfg.run.num_workers`` workers)."""
    sources = SourceSet.scan(cfg.data.sources_dirs, cfg.data.val_fraction, cfg.data.train_fraction)
    stream = TrainStream(cfg.data, cfg.aug, sources, seed=cfg.run.seed)
    nw = cfg.run.num_workers
    loader = torch.utils.data.DataLoader(stream, batch_size=cfg.optim.batch_size, num_workers=nw,
                                         worker_init_fn=worker_init_fn,
                                         prefetch_factor=4 if nw > 0 else None)
    it = iter(loader)
    next(it)  # start-up (worker spawn, first decodes) is not counted
    n, counts = 0, np.zeros(len(CATEGORIES), np.int64)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        _, _, cats = next(it)
        n += len(cats)
        counts += np.bincount(cats.numpy(), minlength=len(CATEGORIES))
    dt = time.perf_counter() - t0
    res = {"samples_per_s": round(n / dt, 1), "workers": nw, "seconds": round(dt, 1),
           "mix": {c: round(int(v) / max(1, n), 3) for c, v in zip(CATEGORIES, counts) if v},
           "sources": sources.counts(), "weights": stream.weights}
    LOGGER.info("data stream: %s", res)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default=None, help="training YAML (default configs/train.yaml)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a config key, e.g. optim.steps=100")
    ap.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                    help="training wall time over all sittings (optim.time_budget_s)")
    ap.add_argument("--resume", action="store_true",
                    help="continue the run whose checkpoint is in --out")
    ap.add_argument("--stop-after", type=float, default=None, metavar="SECONDS",
                    help="end this sitting after so long, with a checkpoint to resume")
    ap.add_argument("--bench-data", type=float, default=0, metavar="SECONDS",
                    help="only measure the data stream's samples/s for this long, then train")
    args = ap.parse_args(argv)
    overrides = dotted_overrides(parse_overrides(args.set))
    if args.time_budget is not None:
        overrides["optim.time_budget_s"] = args.time_budget
    cfg = load_train_config(args.config, overrides)
    if args.bench_data:
        _setup_logging(None)
        bench_data(cfg, args.bench_data)
    metrics = train(cfg, args.device, args.out, resume=args.resume, stop_after_s=args.stop_after)
    print(json.dumps({k: v for k, v in metrics.items() if k not in ("loss_curve",)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
