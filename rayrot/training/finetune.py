"""Fine-tune an orientation model on a user's images (plain function; ``jobs/finetune.py`` wraps it).

Three layouts of labelled data are understood:

- ``DIR/0/``, ``DIR/90/``, ``DIR/180/``, ``DIR/270/``: images already turned by that much,
  i.e. an image in ``90/`` needs 90 degrees *clockwise* to be upright (label 1);
- ``DIR/`` holding upright images only (any depth): labels come from turning them;
- a CSV of ``path,label`` rows, the label in degrees (0, 90, 180, 270) with the same meaning,
  paths relative to the CSV's folder (a header row is allowed).

Every training view is turned by a further random ``r * 90`` degrees, so an image of label
``L`` also teaches label ``(L + r) % 4``. Phase 1 trains the head with the backbone frozen,
phase 2 everything but ``freeze_prefixes``; early stopping watches the loss on a validation
split of the files; the saved weights are ``base + wise_alpha * (fine-tuned - base)``.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from ..errors import ConfigError
from ..model import load_model, save_model
from ..model.preprocess import ANGLES, letterbox, rotate_by_class
from ..config import build_config
from .config import AugConfig, load_train_config
from .dataset import IMAGE_SUFFIXES, _held_out, augment, load_image, make_view, worker_init_fn
from .loop import (collect_logits, evaluate_logits, fit_temperature, normalize_batch,
                   soft_cross_entropy)
from .transfer import interpolate_weights

__all__ = ["FinetuneConfig", "load_finetune_config", "collect_items", "finetune"]

LOGGER = logging.getLogger("rayrot.training.finetune")

FINETUNE_CONFIG_PATH = Path(__file__).resolve().parents[2] / "configs" / "train_finetune.yaml"


@dataclass(frozen=True)
class FinetuneConfig:
    val_fraction: float
    freeze_epochs: int
    max_epochs: int
    patience: int
    views_per_image: int
    p_whole: float  # share of training views that are the whole image letterboxed
    crop_min: float  # smallest crop side as a share of the short side
    photometric_aug: bool  # colour, blur, noise and JPEG augmentation of configs/train.yaml
    batch_size: int
    lr_head: float
    lr_all: float
    weight_decay: float
    label_smoothing: float
    max_decode_px: int
    num_workers: int
    amp: str
    seed: int
    freeze_prefixes: tuple[str, ...]  # layers never trained (their BatchNorms keep their statistics)
    freeze_batchnorm: bool  # every BatchNorm keeps the base's statistics
    min_val_files_for_temperature: int  # fewer validation files: keep the base's temperature
    wise_alpha: float  # saved weights: base + wise_alpha * (fine-tuned - base); 1: fine-tuned


def load_finetune_config(path: str | Path | None = None,
                         overrides: dict[str, Any] | None = None) -> FinetuneConfig:
    import yaml

    path = Path(path) if path is not None else FINETUNE_CONFIG_PATH
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read fine-tuning config {path}: {exc}") from exc
    for k, v in (overrides or {}).items():
        if k not in data:
            raise ConfigError(f"{path}: override {k!r}: unknown key")
        data[k] = v
    return build_config(FinetuneConfig, data, str(path))


# ----------------------------------------------------------------------------- data


def collect_items(data: str | Path | None = None, csv_path: str | Path | None = None
                  ) -> tuple[list[tuple[str, int]], str]:
    """``[(path, label)]`` and the layout found (``"folders"``, ``"upright"`` or ``"csv"``)."""
    if csv_path is not None:
        csv_path = Path(csv_path)
        items = []
        with open(csv_path, newline="") as fh:
            for i, row in enumerate(csv.reader(fh)):
                if not row or row[0].startswith("#"):
                    continue
                if len(row) < 2:
                    raise ConfigError(f"{csv_path} line {i + 1}: expected path,label")
                try:
                    deg = int(float(row[1]))
                except ValueError:
                    if i == 0:
                        continue  # header
                    raise ConfigError(f"{csv_path} line {i + 1}: label {row[1]!r} is not a number")
                if deg % 360 not in ANGLES:
                    raise ConfigError(f"{csv_path} line {i + 1}: label {deg} is not 0/90/180/270")
                p = Path(row[0])
                p = p if p.is_absolute() else csv_path.parent / p
                if not p.is_file():
                    raise ConfigError(f"{csv_path} line {i + 1}: {p} not found")
                items.append((str(p), ANGLES.index(deg % 360)))
        return items, "csv"
    if data is None:
        raise ConfigError("finetune: give a data folder or a CSV")
    root = Path(data)
    if not root.is_dir():
        raise ConfigError(f"finetune: data folder {root} not found")
    subs = [root / str(a) for a in ANGLES if (root / str(a)).is_dir()]
    if subs:
        items = [(str(p), ANGLES.index(int(sub.name))) for sub in subs
                 for p in sorted(sub.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]
        layout = "folders"
    else:
        items = [(str(p), 0) for p in sorted(root.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES]
        layout = "upright"
    if not items:
        raise ConfigError(f"finetune: no images found in {root}")
    return items, layout


class _Views(torch.utils.data.Dataset):
    """Training views: file ``i % n``, a random view, turned by a random ``r`` more."""

    def __init__(self, items, cfg: FinetuneConfig, aug: AugConfig, px: int, pad_value: int,
                 epoch: int = 0):
        self.items, self.cfg, self.aug, self.px, self.epoch = items, cfg, aug, px, epoch
        self.pad_value = pad_value

    def __len__(self) -> int:
        return len(self.items) * self.cfg.views_per_image

    def __getitem__(self, i: int):
        path, label = self.items[i % len(self.items)]
        rng = np.random.default_rng([self.cfg.seed, self.epoch, i])
        img = load_image(path, self.cfg.max_decode_px)
        r = int(rng.integers(4))
        tile = make_view(rng, img, r, "finetune", self.aug, self.px, self.pad_value)
        if self.cfg.photometric_aug:
            tile = augment(rng, tile, "finetune", self.aug)
        tile = np.array(tile)
        t = np.zeros(4, np.float32)
        t[(label + r) % 4] = 1
        return tile, t, 0


class _ValViews(torch.utils.data.Dataset):
    """Each validation file letterboxed, under all four extra turns."""

    def __init__(self, items, cfg: FinetuneConfig, px: int, pad_value: int):
        self.items, self.cfg, self.px, self.pad_value = items, cfg, px, pad_value

    def __len__(self) -> int:
        return len(self.items) * 4

    def __getitem__(self, i: int):
        path, label = self.items[i // 4]
        r = i % 4
        view = letterbox(load_image(path, self.cfg.max_decode_px), self.px, self.pad_value)
        tile = np.array(rotate_by_class(view, r))
        t = np.zeros(4, np.float32)
        t[(label + r) % 4] = 1
        return tile, t, 0


# ----------------------------------------------------------------------------- fine-tune


def finetune(items: list[tuple[str, int]], base: str, out_dir: str | Path,
             cfg: FinetuneConfig | None = None, device: str | torch.device = "cpu",
             data_note: str = "") -> dict[str, Any]:
    """Fine-tune ``base`` (name or .safetensors path) on ``items``; write the result to ``out_dir``.

    Returns
    -------
    metrics : dict
        ``epochs``, ``train_loss`` (per epoch), ``val_loss`` (per epoch), ``best_epoch``,
        ``val_before`` / ``val_after`` (accuracy on the validation views), ``temperature``,
        ``weights`` (path of the new .safetensors).
    """
    cfg = cfg or load_finetune_config()
    device = torch.device(device)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    aug = dataclasses.replace(load_train_config().aug, p_letterbox=cfg.p_whole, crop_min=cfg.crop_min)
    model, card = load_model(base, "cpu")
    model = model.float().to(device).to(memory_format=torch.contiguous_format)
    px = card.input_px

    val_items = [it for it in items if _held_out(it[0], cfg.val_fraction)]
    train_items = [it for it in items if not _held_out(it[0], cfg.val_fraction)]
    if not val_items:  # tiny folders: keep at least one file for validation
        val_items, train_items = train_items[-1:], train_items[:-1] or train_items
    LOGGER.info("fine-tuning %s on %d train + %d validation files", base, len(train_items), len(val_items))
    amp_dtype = None
    if device.type == "cuda" and cfg.amp != "none":
        amp_dtype = torch.bfloat16 if cfg.amp == "bf16" else torch.float16
    nw = cfg.num_workers
    val_loader = torch.utils.data.DataLoader(_ValViews(val_items, cfg, px, card.pad_value), batch_size=cfg.batch_size,
                                             num_workers=nw, worker_init_fn=worker_init_fn)
    val_batches = list(val_loader)

    def validate(m: nn.Module) -> tuple[float, dict, torch.Tensor, torch.Tensor]:
        lg, tg, cg = collect_logits(m, val_batches, device, card.mean, card.std, amp_dtype, False)
        loss = float(soft_cross_entropy(lg, tg))
        return loss, evaluate_logits(lg, tg, torch.full_like(cg, 1), 1.0), lg, tg

    loss0, ev0, _, _ = validate(model)
    LOGGER.info("before: val loss %.4f, accuracy %.4f", loss0, ev0.get("accuracy", float("nan")))
    backbone = set(id(p) for p in model.backbone_parameters())
    head = [p for p in model.parameters() if id(p) not in backbone]
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    best_state, best_loss, best_epoch, bad = copy.deepcopy(model.state_dict()), loss0, 0, 0
    train_curve, val_curve = [], []
    t0 = time.perf_counter()
    opt = None
    for epoch in range(cfg.max_epochs):
        frozen = epoch < cfg.freeze_epochs
        if epoch == 0 or epoch == cfg.freeze_epochs:
            for name, p in model.named_parameters():
                p.requires_grad_((not frozen or id(p) not in backbone)
                                 and not name.startswith(cfg.freeze_prefixes))
            params = head if frozen else [p for p in model.parameters() if p.requires_grad]
            opt = torch.optim.AdamW(params, lr=cfg.lr_head if frozen else cfg.lr_all,
                                    weight_decay=cfg.weight_decay)
            phase_start, phase_len = epoch, (cfg.freeze_epochs if frozen else cfg.max_epochs - epoch)
        base_lr = cfg.lr_head if frozen else cfg.lr_all
        model.train()
        keep = tuple(p.rstrip(".") for p in cfg.freeze_prefixes)
        for name, m in model.named_modules():  # frozen layers keep their BatchNorm statistics
            if isinstance(m, nn.BatchNorm2d) and (frozen or cfg.freeze_batchnorm
                                                  or (keep and name.startswith(keep))):
                m.eval()
        ds = _Views(train_items, cfg, aug, px, card.pad_value, epoch)
        loader = torch.utils.data.DataLoader(ds, batch_size=cfg.batch_size, shuffle=True,
                                             num_workers=nw, worker_init_fn=worker_init_fn,
                                             drop_last=len(ds) > cfg.batch_size,
                                             generator=torch.Generator().manual_seed(cfg.seed + epoch))
        n_batches = max(1, len(loader))
        losses = []
        for b, (tiles, targets, _) in enumerate(loader):
            progress = ((epoch - phase_start) + b / n_batches) / max(1, phase_len)
            for g in opt.param_groups:
                g["lr"] = base_lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))
            x = normalize_batch(tiles.to(device), card.mean, card.std, False)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                logits = model(x)
            loss = soft_cross_entropy(logits, targets.to(device), cfg.label_smoothing)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            losses.append(float(loss.detach()))
        vloss, ev, _, _ = validate(model)
        train_curve.append(float(np.mean(losses)))
        val_curve.append(vloss)
        LOGGER.info("epoch %d (%s): train loss %.4f, val loss %.4f, val accuracy %.4f", epoch,
                    "head" if frozen else "all", train_curve[-1], vloss, ev.get("accuracy", float("nan")))
        if vloss < best_loss - 1e-4:
            best_state, best_loss, best_epoch, bad = copy.deepcopy(model.state_dict()), vloss, epoch + 1, 0
        elif not frozen:
            bad += 1
            if bad >= cfg.patience:
                LOGGER.info("early stop after epoch %d (best %d)", epoch, best_epoch)
                break
    model.load_state_dict(best_state)
    if best_epoch == 0:
        LOGGER.info("no epoch lowered the validation loss: the base's weights are kept")
    for p in model.parameters():
        p.requires_grad_(True)
    if cfg.wise_alpha != 1.0:
        start, _ = load_model(base, "cpu")
        model = interpolate_weights(start, model, cfg.wise_alpha).to(device)
    vloss, ev, lg, tg = validate(model)
    # A temperature fitted on a handful of files is overconfident, and rotation TTA averages
    # probabilities, so a wrong temperature changes answers, not only confidences: keep the
    # base's unless the weights changed and the validation files are enough to fit one.
    temperature = card.temperature
    if best_epoch > 0 and len(val_items) >= cfg.min_val_files_for_temperature:
        temperature = fit_temperature(lg, tg)
    ev_t = evaluate_logits(lg, tg, torch.ones(len(lg), dtype=torch.long), temperature)
    metrics = {"epochs": len(train_curve), "train_loss": train_curve, "val_loss": val_curve,
               "val_loss_before": loss0, "best_epoch": best_epoch,
               "val_before": ev0.get("accuracy"), "val_after": ev_t.get("accuracy"),
               "temperature": temperature, "seconds": round(time.perf_counter() - t0, 1),
               "train_files": len(train_items), "val_files": len(val_items)}
    new_card = card.replace(
        name=f"{card.name}-ft" if not card.name.endswith("-ft") else card.name,
        version=f"{card.version}+ft", temperature=temperature,
        recipe={"finetune": dataclasses.asdict(cfg), "base": str(base), "base_sha256": card.sha256,
                "base_recipe": card.recipe, "device": str(device)},
        data_sources=tuple(card.data_sources) + (f"fine-tuned on {data_note or 'user data'}",),
        metrics={"base": card.metrics, "finetune_validation": {k: metrics[k] for k in
                 ("val_before", "val_after", "val_loss_before", "best_epoch", "val_files")}})
    path = out / f"{card.arch}-ft.safetensors"
    saved = save_model(model.cpu(), new_card, path)
    metrics["weights"] = str(path)
    metrics["sha256"] = saved.sha256
    LOGGER.info("wrote %s: val accuracy %.4f -> %.4f", path, metrics["val_before"] or 0,
                metrics["val_after"] or 0)
    return metrics
