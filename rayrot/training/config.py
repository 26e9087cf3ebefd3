"""The training configuration: one typed object loaded from ``configs/train.yaml``.

Defaults live only in the YAML file. ``load_train_config(path, overrides)`` reads it and
lays ``{"section.key": value}`` overrides over it; an unknown or missing key, or a value of
the wrong type, raises :class:`~rayrot.errors.ConfigError` naming the file and the key::

    cfg = load_train_config("configs/train.yaml", {"optim.steps": 100})
    cfg.optim.batch_size     # 256
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..config import build_config
from ..errors import ConfigError

__all__ = ["dotted_overrides", "TrainConfig", "DataConfig", "AugConfig", "OptimConfig",
           "RunConfigTrain", "RayTrainConfig", "load_train_config", "TRAIN_CONFIG_PATH"]

# Training runs from a checkout of the repository: its recipes live in <repo>/configs/.
TRAIN_CONFIG_PATH = Path(__file__).resolve().parents[2] / "configs" / "train.yaml"


@dataclass(frozen=True)
class AugConfig:
    p_letterbox: float  # share of views that are the whole image letterboxed
    p_partial: float  # share of views that are partial edge tiles padded to a square
    crop_min: float  # smallest square crop side, as a share of the image's short side
    crop_max: float  # largest square crop side, as a share of the image's short side
    p_mirror: float  # horizontal mirror (photos, art, textures only), before the 90-degree turn
    p_skew: float  # documents and maps: tilt the whole page by up to max_skew_deg
    max_skew_deg: float  # degrees either way; the label is unchanged
    p_color: float  # brightness/contrast/saturation/hue jitter
    color_strength: float  # 0..1 scale of that jitter
    photo_color_strength: float  # the same for photos and art (stronger)
    p_gray: float  # convert to greyscale
    p_gamma: float  # gamma in [0.6, 1.6]
    p_blur: float  # Gaussian blur, radius up to max_blur_px
    max_blur_px: float
    p_noise: float  # Gaussian noise, sigma up to max_noise (0..255 scale)
    max_noise: float
    p_jpeg: float  # JPEG re-encode, quality in [jpeg_min_q, 95]
    jpeg_min_q: int


@dataclass(frozen=True)
class DataConfig:
    sources_dirs: tuple[str, ...]  # real images: <dir>/<category>/**.{jpg,png,...} for each dir
    render_cache: dict[str, str]  # rendered category -> folder of rendered shards (render_cache.py)
    fonts_dir: str  # fonts for the synthetic renderer
    text_dir: str  # text corpora for the synthetic renderer
    mix: dict[str, float]  # category -> share of training samples (renormalised over what exists)
    input_px: int  # tile side fed to the model
    pad_value: int  # grey padding edge tiles and the letterboxed view (saved in the model card)
    max_decode_px: int  # real images are shrunk so their long side is at most this after decoding
    val_fraction: float  # share of real files (by a hash of the path) held out for validation
    train_fraction: dict[str, float]  # category -> share of its real training files used (by a
    #                                   hash of the path; absent: all), to measure what data buys
    val_samples: int  # size of the fixed validation set (real held-out + synthetic)
    val_seed: int
    pool_size: int  # decoded images kept per category in each worker
    pool_reuse: float  # mean number of views cut from a pooled real image before it is replaced
    pool_reuse_synth: float  # the same for synthetic renders (slower to make, larger)
    synth: bool  # use rayrot.training.synth when it imports
    group_power: float  # files are drawn per source group (name prefix before "__") with weight
    #                     n_files ** group_power: 1 = every file alike, 0 = every group alike


@dataclass(frozen=True)
class OptimConfig:
    steps: int  # total optimizer steps (the cosine schedule spans these ...)
    time_budget_s: float  # ... or this much wall time, whichever ends first (0: steps only)
    batch_size: int
    lr: float
    weight_decay: float
    warmup_steps: int
    label_smoothing: float
    rotation_views: int  # each CPU-made tile also trains under this many extra-free turns on the
    #                      device (1 = off, 4 = all four, RotNet-style); batch grows by this factor
    grad_clip: float  # max grad norm (0: off)
    amp: str  # "bf16", "fp16" or "none" (CUDA only; the CPU always runs float32)
    ema_decay: float  # exponential moving average of the weights (0: off)
    freeze_prefixes: tuple[str, ...]  # parameters whose names start so are not trained (BN
    #                                   statistics of those layers stay as they are too)
    distill_weight: float  # weight of the distillation term (0: off); the teacher is the
    #                        frozen init_weights network, which keeps what it knew
    distill_temperature: float  # softening of teacher and student logits in that term
    distill_categories: tuple[str, ...]  # samples of these categories are distilled
    wise_alpha: float  # the shipped weights are init + wise_alpha * (trained - init) (1: the
    #                    trained weights); weight-space ensembling keeps the init's robustness


@dataclass(frozen=True)
class RunConfigTrain:
    model: str  # registered architecture to train
    version: str  # version written to the model card
    seed: int
    num_workers: int  # DataLoader worker processes
    log_every: int  # steps between log lines
    val_every: int  # steps between validation passes (0: only at the end)
    channels_last: bool
    compile: bool  # torch.compile the model (CUDA only)
    init_weights: str | None  # .safetensors (or registered name) to start from; None: from scratch
    checkpoint_every_s: float  # wall seconds between checkpoints in <out>/checkpoint (0: none)


@dataclass(frozen=True)
class RayTrainConfig:
    num_workers: int  # Ray Train workers (DDP when > 1)
    use_gpu: bool
    cpus_per_worker: int


@dataclass(frozen=True)
class TrainConfig:
    run: RunConfigTrain
    data: DataConfig
    aug: AugConfig
    optim: OptimConfig
    ray: RayTrainConfig

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def dotted_overrides(nested: dict[str, Any], depth: int = 2) -> dict[str, Any]:
    """``rayrot.config.parse_overrides``' nested mapping as ``{"section.key": value}``, keys
    ``depth`` levels deep (a training config's keys sit in sections: 2; fine-tuning's: 1);
    a mapping below that depth is one value (``data.mix`` is replaced whole).

    >>> dotted_overrides({"optim": {"steps": 10}, "data": {"mix": {"photos": 1.0}}})
    {'optim.steps': 10, 'data.mix': {'photos': 1.0}}
    """
    out: dict[str, Any] = {}
    for key, value in nested.items():
        if depth > 1 and isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in dotted_overrides(value, depth - 1).items()})
        else:
            out[key] = value
    return out


def load_train_config(path: str | Path | None = None,
                      overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read a training YAML (``configs/train.yaml`` by default) and apply dotted overrides.

    A recipe that continues another names it in ``extends:`` (a path relative to its own
    folder) and holds only what differs, by ``section.key`` (a mapping value such as
    ``data.mix`` is replaced whole, as with overrides).
    """
    path = Path(path) if path is not None else TRAIN_CONFIG_PATH
    data = _read_recipe(path, ())
    for dotted, value in (overrides or {}).items():
        _set_key(data, dotted, value, path, "override")
    return build_config(TrainConfig, data, str(path))


def _read_recipe(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    """The YAML at ``path`` laid over the recipe it ``extends`` (if any)."""
    if path.resolve() in seen:
        raise ConfigError(f"training config {path}: 'extends' loops back to itself")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read training config {path}: {exc.strerror or exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"training config {path} is not valid YAML: {exc}") from exc
    base = data.pop("extends", None)
    if base is None:
        return data
    merged = _read_recipe(path.parent / base, seen + (path.resolve(),))
    for dotted, value in dotted_overrides(data).items():
        _set_key(merged, dotted, value, path, "key")
    return merged


def _set_key(data: dict[str, Any], dotted: str, value: Any, path: Path, what: str) -> None:
    keys = dotted.split(".")
    node = data
    for k in keys[:-1]:
        if not isinstance(node.get(k), dict):
            raise ConfigError(f"{path}: {what} {dotted!r}: no section {k!r}")
        node = node[k]
    if keys[-1] not in node:
        raise ConfigError(f"{path}: {what} {dotted!r}: unknown key")
    node[keys[-1]] = value
